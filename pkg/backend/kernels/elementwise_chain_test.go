package kernels

import (
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// randomChainProgram returns a program of size n over inputs (one scalar,
// one per-channel of c values, three full tensors) of every op, whose
// instructions mostly read the one before them, in any operand, so that it
// holds chains long and short, broken where a result is read twice; and
// its inputs, special values among them (and 0s and 1s: conditions).
func randomChainProgram(rng *rand.Rand, n, c int) (Program, [][]float32) {
	var ops []ElementOp
	for op := range numElementOps {
		ops = append(ops, op)
	}
	const numInputs = 5
	p := Program{Size: n, NumInputs: numInputs, Scalar: []bool{true, false, false, false, false},
		Spread: []Spread{{}, {Count: c, Every: 1}, {}, {}, {}}, TailFrom: n}
	for k := range 6 + rng.IntN(40) {
		prev := numInputs + k - 1
		pick := func() int {
			if k > 0 && rng.IntN(3) > 0 {
				return prev
			}
			return rng.IntN(numInputs + k)
		}
		ins := Instruction{Op: ops[rng.IntN(len(ops))]}
		for j := range ins.Op.Arity() {
			ins.Args[j] = pick()
			if j > 0 && ins.Args[j] == prev && ins.Args[0] == prev && rng.IntN(4) > 0 {
				ins.Args[j] = rng.IntN(numInputs) // mostly not x op x
			}
		}
		if ar := ins.Op.Arity(); k > 0 && ar > 1 { // the chain's value (mostly operand a) moved
			j := rng.IntN(ar)
			ins.Args[0], ins.Args[j] = ins.Args[j], ins.Args[0]
		}
		p.Code = append(p.Code, ins)
	}
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0.5, -1.5, 2.5, 1, -1, 6}
	inputs := [][]float32{{0.5 + rng.Float32()}, make([]float32, c), make([]float32, n), make([]float32, n), make([]float32, n)}
	for _, in := range inputs[1:] {
		for i := range in {
			in[i] = float32(rng.NormFloat64() * 3)
			switch rng.IntN(8) {
			case 0:
				in[i] = special[rng.IntN(len(special))]
			case 1:
				in[i] = float32(rng.IntN(2))
			}
		}
	}
	return p, inputs
}

// TestChainsMatchInterpreter runs each op with the chain's value in each
// of its operand positions, then random programs, with register chains
// and with the interpreter alone (chainsOff), on every path, whole and
// over several workers, sizes leaving partial tiles (which, shorter than
// a tile, run in the interpreter) and partial vectors, and requires the
// same bits; on the paths that have chains, they must
// have run, with every op taking the value in every position, and some of
// them longer than maxChainSteps (split). A program whose tail swaps Min and
// Max operands runs its tail tile in the interpreter.
func TestChainsMatchInterpreter(t *testing.T) {
	defer func() { chainsOff, chainHook = false, nil }()
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		var runs, valueB, valueC, long atomic.Int64
		var mu sync.Mutex
		seen := make(map[uint16]bool) // the steps' codes: every op, the value in every position
		chainHook = func(c *chain) {
			runs.Add(1)
			mu.Lock()
			for _, st := range c.steps[1:] {
				seen[st.code] = true
			}
			mu.Unlock()
			for _, st := range c.steps {
				switch st.pos {
				case 1:
					valueB.Add(1)
				case 2:
					valueC.Add(1)
				}
			}
			if len(c.steps) == maxChainSteps {
				long.Add(1)
			}
		}
		for trial := range 3*int(numElementOps) + 120 {
			n := []int{24, 2*tileSize + 8, 3*tileSize + 40, 2*tileSize + 2}[trial%4]
			if trial < 3*int(numElementOps) {
				n = tileSize + 40 // a tile of chains, then 40 elements in the interpreter
			}
			c := 8
			if n%8 != 0 {
				c = 5 // a partial vector: 2050 = 410 rows of 5
			}
			p, inputs := randomChainProgram(rng, n, c)
			if trial%6 == 5 { // Min and Max swap their operands in the last vector
				p.TailFrom = n &^ 7
				if p.TailFrom == n {
					p.TailFrom -= 8
				}
				for k := range p.Code {
					op := p.Code[k].Op
					p.Code[k].SwapInTail = op == OpMin || op == OpMax
				}
			}
			if trial == 3*int(numElementOps)+6 { // one long chain of Neg, Abs and Round (n = 3*tileSize + 40)
				p.Code = p.Code[:1]
				for k := range 2*maxChainSteps + 3 {
					p.Code = append(p.Code, Instruction{Op: []ElementOp{OpNeg, OpAbs, OpRound}[k%3], Args: [3]int{p.NumInputs + k}})
				}
			}
			if trial < 3*int(numElementOps) { // first, each op with the value in each position, alone after a Neg
				op, pos := ElementOp(trial/3), trial%3
				if pos >= op.Arity() {
					continue
				}
				ins := Instruction{Op: op, Args: [3]int{2, 3, 4}}
				ins.Args[pos] = p.NumInputs
				p.Code = []Instruction{{Op: OpNeg, Args: [3]int{rng.IntN(3) + 2}}, ins}
				p.TailFrom = n
				// NaNs of both signs in every third element of every
				// tensor: two NaN operands, the Neg's and an input's,
				// where an op's result depends on which it returns.
				for _, in := range inputs[2:] {
					for i := 0; i < n; i += 3 {
						in[i] = math.Float32frombits(0x7fc00000 | uint32(i/3%2)<<31)
					}
				}
			}
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			chainsOff = true
			want := make([]float32, n)
			p.Run(want, inputs, 1)
			chainsOff = false
			for _, workers := range []int{1, 2} {
				got := make([]float32, n)
				p.Run(got, inputs, workers)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("trial %d (n=%d, workers %d, %v): element %d is %v, the interpreter gives %v", trial, n, workers, p.Code, i, got[i], want[i])
					}
				}
			}
		}
		if fn, _ := simdChain(Path()); fn == nil {
			if runs.Load() != 0 {
				t.Errorf("%d chains ran on a path without them", runs.Load())
			}
			return
		}
		want := 0
		for op := range numElementOps {
			want += op.Arity()
		}
		if len(seen) != want {
			t.Errorf("chains ran %d of the %d kinds of step (op and position of the value)", len(seen), want)
		}
		if runs.Load() == 0 || valueB.Load() == 0 || valueC.Load() == 0 || long.Load() == 0 {
			t.Errorf("chains ran %d times, %d and %d steps with the value as operand b and c, %d of the longest length: want all above 0",
				runs.Load(), valueB.Load(), valueC.Load(), long.Load())
		}
	})
}

// TestPlanChains checks the chains found in DoReFa's gradient program by
// hand: instructions 0-5 (result 15 is read by instruction 8, so it is
// stored) and 6-15 (instruction 8 reads the value, 17, as a and 15 as b;
// 9, 10 and 15 take the value as operand b).
func TestPlanChains(t *testing.T) {
	p, _ := dorefaGradProgram(24, 8)
	chains := planChains(&p)
	var got [][2]int
	for k, c := range chains {
		if c != nil {
			if c.first != k {
				t.Errorf("chain at %d starts at %d", k, c.first)
			}
			got = append(got, [2]int{c.first, c.last})
		}
	}
	if len(got) != 2 || got[0] != [2]int{0, 5} || got[1] != [2]int{6, 15} {
		t.Fatalf("chains %v, want [[0 5] [6 15]]", got)
	}
	c := chains[6]
	if c.head != 5 || c.steps[2].pos != 0 || c.steps[2].other[0] != 15 || c.steps[3].pos != 1 || c.steps[3].other[0] != 7 || c.steps[4].pos != 1 {
		t.Errorf("chain 6-15: head %d, steps %+v", c.head, c.steps)
	}
}
