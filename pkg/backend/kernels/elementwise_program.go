package kernels

import "fmt"

// Program is a fused chain of element-wise ops over tensors of Size
// elements, run tile by tile so that intermediate values stay in cache:
// one pass over memory where the unfused ops make one per op.
//
// Operands are numbered: 0..NumInputs-1 are the inputs (full tensors, or
// scalars broadcast to every element, as Scalar says), NumInputs+k is the
// result of instruction k. The result of the last instruction is the
// output.
type Program struct {
	Size      int
	NumInputs int
	Scalar    []bool // per input: a single value for every element
	Code      []Instruction
}

// Instruction is one op of a program.
type Instruction struct {
	Op   ElementOp
	Args [3]int // operand numbers; only the first Op.Arity() are read
}

// tileSize is how many elements each op processes at a time: the operands
// and results of a whole program stay in L1/L2.
const tileSize = 1024

// Validate reports why the program cannot run, or nil.
func (p *Program) Validate() error {
	if p.Size < 1 || p.NumInputs < 0 || len(p.Scalar) != p.NumInputs || len(p.Code) == 0 {
		return fmt.Errorf("kernels: invalid element program (size %d, %d inputs, %d scalar flags, %d instructions)",
			p.Size, p.NumInputs, len(p.Scalar), len(p.Code))
	}
	for k, ins := range p.Code {
		if ins.Op >= numElementOps {
			return fmt.Errorf("kernels: instruction %d: unknown op %d", k, ins.Op)
		}
		for j := range ins.Op.Arity() {
			if a := ins.Args[j]; a < 0 || a >= p.NumInputs+k {
				return fmt.Errorf("kernels: instruction %d (%s) reads operand %d, not yet defined", k, ins.Op, a)
			}
		}
	}
	return nil
}

// Run computes the program's output into out (Size elements) from the
// inputs (Size elements each, or one for a scalar input) over workers
// goroutines.
func (p *Program) Run(out []float32, inputs [][]float32, workers int) {
	apply := currentApply()
	n := p.NumInputs
	splitUnits(p.Size, tileSize, workers, func(_, lo, hi int) {
		// One tile per value: the scalars filled once, the results
		// reused for every tile.
		vals := make([][]float32, n+len(p.Code))
		scratch := make([]float32, (len(p.Code)+countTrue(p.Scalar))*tileSize)
		next := func() []float32 {
			t := scratch[:tileSize:tileSize]
			scratch = scratch[tileSize:]
			return t
		}
		for i := range n {
			if p.Scalar[i] {
				t := next()
				for j := range t {
					t[j] = inputs[i][0]
				}
				vals[i] = t
			}
		}
		for k := range p.Code {
			vals[n+k] = next()
		}
		for t0 := lo; t0 < hi; t0 += tileSize {
			t1 := min(t0+tileSize, hi)
			m := t1 - t0
			for i := range n {
				if !p.Scalar[i] {
					vals[i] = inputs[i][t0:t1]
				}
			}
			for k, ins := range p.Code {
				dst := vals[n+k][:m]
				if k == len(p.Code)-1 {
					dst = out[t0:t1]
				}
				a, b, c := vals[ins.Args[0]], vals[ins.Args[1]], vals[ins.Args[2]]
				apply(ins.Op, dst, a[:m], b[:min(m, len(b))], c[:min(m, len(c))])
			}
		}
	})
}

func countTrue(v []bool) int {
	n := 0
	for _, b := range v {
		if b {
			n++
		}
	}
	return n
}
