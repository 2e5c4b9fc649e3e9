package kernels

// Register chains: most of a quantizer's program is a chain, each
// instruction reading the one before it and nothing else reading that
// result (DoReFa's gradient: Copy, Mul, Abs, Min, Sub, Div, then ten more;
// every fake quantizer's Max, Min, Mul, Round, Div). The interpreter runs
// each instruction over the whole tile, storing its result and loading it
// back for the next: 2 loads and a store per instruction and vector. A
// chain keeps the value in a register from its first instruction to its
// last and stores only the last result: per instruction, one load of each
// other operand and one op, the same op the interpreter's vector loop
// runs (avx2Apply, avx512Apply), so every result has the same bits.
// Chains run on whole tiles of a multiple of the path's stride (four
// vectors: 32 elements on AVX2, 64 on AVX-512) before the
// program's TailFrom (beyond it Min and Max swap operands: the interpreter
// does those tiles, and a range's last, shorter one).

// chainStep is one instruction of a chain: its op, the position of the
// chain's value among its operands (0 for a, 1 for b, 2 for c) and the
// other operands in order.
type chainStep struct {
	op    ElementOp
	pos   int
	other [2]int // operand numbers (as Instruction.Args); only op.Arity()-1 are read
	code  uint16 // op*3 + pos: the case of the chain loops
}

// newChainStep returns the step of instruction ins with the chain's value
// at position pos.
func newChainStep(ins Instruction, pos int) chainStep {
	st := chainStep{op: ins.Op, pos: pos, code: uint16(ins.Op)*3 + uint16(pos)}
	j := 0
	for q, a := range ins.Args[:ins.Op.Arity()] {
		if q != pos {
			st.other[j] = a
			j++
		}
	}
	return st
}

// chain is instructions first..last of a program run as one register
// chain: the value starts as operand head, and only instruction last's
// result is stored.
type chain struct {
	first, last int
	head        int
	steps       []chainStep
}

// planChains finds the program's chains of two instructions or more:
// instruction k+1 continues the chain of k when it reads k's result exactly
// once (as any operand) and no other instruction reads it. It returns, per instruction, the chain starting there or nil.
func planChains(p *Program) []*chain {
	n := p.NumInputs
	readers := make([]int, n+len(p.Code))
	for _, ins := range p.Code {
		for _, a := range ins.Args[:ins.Op.Arity()] {
			readers[a]++
		}
	}
	// continues reports whether instruction k reads result k-1 as a
	// chain's value, and the step it makes.
	continues := func(k int) (chainStep, bool) {
		ins, prev := p.Code[k], n+k-1
		if readers[prev] != 1 {
			return chainStep{}, false
		}
		for pos, a := range ins.Args[:ins.Op.Arity()] {
			if a == prev {
				return newChainStep(ins, pos), true
			}
		}
		return chainStep{}, false
	}
	starts := make([]*chain, len(p.Code))
	for k := 0; k < len(p.Code); {
		ins := p.Code[k]
		c := &chain{first: k, last: k, head: ins.Args[0], steps: []chainStep{newChainStep(ins, 0)}}
		for c.last+1 < len(p.Code) && len(c.steps) < maxChainSteps {
			st, ok := continues(c.last + 1)
			if !ok {
				break
			}
			c.steps = append(c.steps, st)
			c.last++
		}
		if c.last > c.first {
			starts[k] = c
		}
		k = c.last + 1
	}
	return starts
}

// chainsOff switches register chains off (tests compare them with the
// interpreter); chainHook, when set, sees each chain run on a tile (tests
// check chains ran).
var (
	chainsOff bool
	chainHook func(c *chain)
)
