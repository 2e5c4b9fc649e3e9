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
// runs (applyChain on the SIMD paths), so every result has the same bits.
// Chains run on whole tiles before the program's TailFrom (beyond it Min
// and Max swap operands: the interpreter does those tiles).

// chainStep is one instruction of a chain: its op and the operands other
// than the chain's value. The value enters as operand a, or as operand b
// when valueB is set (a two-operand op), in which case other[0] is
// operand a. A three-operand op takes the value as a.
type chainStep struct {
	op     ElementOp
	valueB bool
	other  [2]int // operand numbers (as Instruction.Args); only op.Arity()-1 are read
}

// chain is instructions first..last of a program run as one register
// chain: the value starts as operand head, and only instruction last's
// result is stored.
type chain struct {
	first, last int
	head        int
	steps       []chainStep
}

// chainable reports whether an op can be a chain's step.
func chainable(op ElementOp) bool {
	switch op {
	case OpCopy, OpAdd, OpSub, OpMul, OpDiv, OpMin, OpMax, OpNeg, OpAbs, OpSign, OpRound,
		OpMulLess, OpMulNotLess, OpRelu:
		return true
	}
	return false
}

// planChains finds the program's chains of two instructions or more:
// instruction k+1 continues the chain of k when it reads k's result exactly
// once (as operand a, or as b of a two-operand op) and no other instruction
// reads it. It returns, per instruction, the chain starting there or nil.
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
		if !chainable(ins.Op) || !chainable(p.Code[k-1].Op) || readers[prev] != 1 {
			return chainStep{}, false
		}
		args := ins.Args[:ins.Op.Arity()]
		switch {
		case args[0] == prev:
			return chainStep{op: ins.Op, other: [2]int{ins.Args[1], ins.Args[2]}}, true
		case len(args) == 2 && args[1] == prev:
			return chainStep{op: ins.Op, valueB: true, other: [2]int{ins.Args[0]}}, true
		}
		return chainStep{}, false
	}
	starts := make([]*chain, len(p.Code))
	for k := 0; k < len(p.Code); {
		ins := p.Code[k]
		c := &chain{first: k, last: k, head: ins.Args[0],
			steps: []chainStep{{op: ins.Op, other: [2]int{ins.Args[1], ins.Args[2]}}}}
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
