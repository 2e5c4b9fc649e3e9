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
	// Spread, when not nil, gives per input how a broadcast operand of
	// fewer values than Size is read (see Spread); the zero Spread is a
	// full tensor (or a scalar, as Scalar says).
	Spread []Spread
	Code   []Instruction
	// TailFrom is where the tail starts: from element TailFrom on, the
	// instructions marked SwapInTail read their operands a and b swapped.
	// It is a multiple of 8 (or Size).
	TailFrom int
}

// Spread is a broadcast operand of Count values: element i of the program
// reads value (i / Every) % Count. A per-channel operand of a channels-last
// tensor has Every 1 and Count the channels; a per-example one Every the
// elements of one example and Count the batch.
type Spread struct{ Count, Every int }

// spread says whether s describes a broadcast operand.
func (s Spread) spread() bool { return s.Count > 0 }

// fill writes the values of elements t0, t0+1, ... into t.
func (s Spread) fill(t, in []float32, t0 int) {
	for i := 0; i < len(t); {
		pos := t0 + i
		c := (pos / s.Every) % s.Count
		if s.Every == 1 { // a run of consecutive values
			i += copy(t[i:], in[c:s.Count])
			continue
		}
		n := min(len(t)-i, s.Every-pos%s.Every)
		v := in[c]
		for j := range t[i : i+n] {
			t[i+j] = v
		}
		i += n
	}
}

// Instruction is one op of a program.
type Instruction struct {
	Op   ElementOp
	Args [3]int // operand numbers; only the first Op.Arity() are read
	// SwapInTail swaps operands a and b from the program's TailFrom on. It
	// is how a Min or Max follows the stock Go backend's, whose result for
	// NaN and for equal zeros is one operand in its vector loop and the other
	// in its last, partial vector (see package engine's fusion).
	SwapInTail bool
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
	if p.Spread != nil && len(p.Spread) != p.NumInputs {
		return fmt.Errorf("kernels: element program with %d inputs and %d spreads", p.NumInputs, len(p.Spread))
	}
	for i, sp := range p.Spread {
		if sp.spread() && (p.Scalar[i] || sp.Every < 1 || p.Size%(sp.Count*sp.Every) != 0) {
			return fmt.Errorf("kernels: element program input %d: spread %+v over %d elements", i, sp, p.Size)
		}
	}
	if p.TailFrom < 0 || p.TailFrom > p.Size || (p.TailFrom%8 != 0 && p.TailFrom != p.Size) {
		return fmt.Errorf("kernels: element program tail from %d of %d elements: not a multiple of 8", p.TailFrom, p.Size)
	}
	for k, ins := range p.Code {
		if ins.Op >= numElementOps {
			return fmt.Errorf("kernels: instruction %d: unknown op %d", k, ins.Op)
		}
		if ins.SwapInTail && ins.Op.Arity() != 2 {
			return fmt.Errorf("kernels: instruction %d (%s) swaps operands in the tail but has %d", k, ins.Op, ins.Op.Arity())
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
// inputs (Size elements each, one for a scalar input, Count for a spread
// one) over workers goroutines.
func (p *Program) Run(out []float32, inputs [][]float32, workers int) {
	apply := currentApply()
	n := p.NumInputs
	spreads := 0
	for _, sp := range p.Spread {
		if sp.spread() {
			spreads++
		}
	}
	splitUnits(p.Size, tileSize, workers, func(_, lo, hi int) {
		// One tile per value: the scalars filled once, the spread inputs
		// for each tile, the results reused for every tile.
		vals := make([][]float32, n+len(p.Code))
		scratch := make([]float32, (len(p.Code)+countTrue(p.Scalar)+spreads)*tileSize)
		next := func() []float32 {
			t := scratch[:tileSize:tileSize]
			scratch = scratch[tileSize:]
			return t
		}
		spreadTile := make([][]float32, n)
		constAt := make([]int, n) // per spread input: the value its whole tile holds, or -1
		for i := range constAt {
			constAt[i] = -1
		}
		for i := range n {
			switch {
			case p.Scalar[i]:
				t := next()
				for j := range t {
					t[j] = inputs[i][0]
				}
				vals[i] = t
			case p.Spread != nil && p.Spread[i].spread():
				spreadTile[i] = next()
			}
		}
		for k := range p.Code {
			vals[n+k] = next()
		}
		for t0 := lo; t0 < hi; t0 += tileSize {
			t1 := min(t0+tileSize, hi)
			m := t1 - t0
			for i := range n {
				switch {
				case spreadTile[i] != nil:
					sp := p.Spread[i]
					if g := t0 / sp.Every; sp.Every > 1 && (t1-1)/sp.Every == g {
						// One value over the whole tile (a per-example
						// operand): the tile already holds it when the
						// previous tile did too.
						if v := g % sp.Count; constAt[i] != v {
							t := spreadTile[i][:tileSize]
							for j := range t {
								t[j] = inputs[i][v]
							}
							constAt[i] = v
						}
					} else {
						sp.fill(spreadTile[i][:m], inputs[i], t0)
						constAt[i] = -1
					}
					vals[i] = spreadTile[i]
				case !p.Scalar[i]:
					vals[i] = inputs[i][t0:t1]
				}
			}
			for k, ins := range p.Code {
				dst := vals[n+k][:m]
				if k == len(p.Code)-1 {
					dst = out[t0:t1]
				}
				a, b, c := vals[ins.Args[0]], vals[ins.Args[1]], vals[ins.Args[2]]
				if ins.SwapInTail && t1 > p.TailFrom {
					// Each part is computed element by element alike
					// (pick(a, b) in vectors and in scalars): the cut may
					// fall anywhere.
					cut := max(0, p.TailFrom-t0)
					apply(ins.Op, dst[:cut], a[:cut], b[:cut], nil)
					apply(ins.Op, dst[cut:], b[cut:m], a[cut:m], nil)
					continue
				}
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
