package kernels

import (
	"fmt"
	"slices"
	"sync"
)

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
	// Normalize, when set, normalizes one input as each tile is read (see
	// Normalization).
	Normalize *Normalization
}

// Normalization is a batch norm's output pass done by the program that
// reads it: input Input (a full tensor x of rows of C channels) is read as
// (x - mean) * a + offset, the per-channel vectors being inputs Mean, A and
// Offset (spread {C, 1}, at most maxCycled channels), with
// BatchNorm.Normalize's arithmetic: the same bits.
type Normalization struct{ Input, Mean, A, Offset, C int }

// NormalizingInput returns the program reading its input at (a full
// tensor of rows of c channels) normalized (see Normalization), by three
// per-channel inputs appended after the others, in the order mean, a,
// offset; the instructions' results are renumbered after them.
func (p Program) NormalizingInput(at, c int) (Program, error) {
	if p.Normalize != nil {
		return Program{}, fmt.Errorf("kernels: element program normalizes input %d already", p.Normalize.Input)
	}
	n := p.NumInputs
	out := p
	out.NumInputs = n + 3
	out.Scalar = append(slices.Clone(p.Scalar), false, false, false)
	spread := p.Spread
	if spread == nil {
		spread = make([]Spread, n)
	}
	perChannel := Spread{Count: c, Every: 1}
	out.Spread = append(slices.Clone(spread), perChannel, perChannel, perChannel)
	out.Code = slices.Clone(p.Code)
	for k := range out.Code {
		for j := range out.Code[k].Args {
			if out.Code[k].Args[j] >= n {
				out.Code[k].Args[j] += 3
			}
		}
	}
	out.Normalize = &Normalization{Input: at, Mean: n, A: n + 1, Offset: n + 2, C: c}
	if err := out.Validate(); err != nil {
		return Program{}, err
	}
	return out, nil
}

// validNormalization reports why p.Normalize cannot run, or nil.
func (p *Program) validNormalization() error {
	nz := p.Normalize
	if nz == nil {
		return nil
	}
	ins := []int{nz.Input, nz.Mean, nz.A, nz.Offset}
	for i, in := range ins {
		if in < 0 || in >= p.NumInputs || p.Scalar[in] {
			return fmt.Errorf("kernels: element program normalizes with input %d of %d (or a scalar)", in, p.NumInputs)
		}
		for _, other := range ins[:i] {
			if other == in {
				return fmt.Errorf("kernels: element program normalizes with input %d twice", in)
			}
		}
		want := Spread{Count: nz.C, Every: 1}
		if i == 0 {
			want = Spread{}
		}
		if got := p.spreadOf(in); got != want || nz.C < 1 || nz.C > maxCycled || p.Size%nz.C != 0 {
			return fmt.Errorf("kernels: element program normalization input %d spread %+v, want %+v over rows of %d channels", in, got, want, nz.C)
		}
	}
	for k, ins := range p.Code {
		for _, a := range ins.Args[:ins.Op.Arity()] {
			if a == nz.Mean || a == nz.A || a == nz.Offset {
				return fmt.Errorf("kernels: instruction %d (%s) reads input %d, which only the normalization reads", k, ins.Op, a)
			}
		}
	}
	return nil
}

// spreadOf is input i's Spread (the zero Spread when there are none).
func (p *Program) spreadOf(i int) Spread {
	if p.Spread == nil {
		return Spread{}
	}
	return p.Spread[i]
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
	if err := p.validNormalization(); err != nil {
		return err
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
	splitUnits(p.Size, tileSize, workers, func(_, lo, hi int) {
		r := p.Runner(inputs)
		r.Run(out[lo:hi], lo, hi)
		r.Release()
	})
}

// ProgramRunner runs a program over ranges of its elements, on one
// goroutine, with its tiles allocated once (a kernel that consumes the
// program's output chunk by chunk, never storing all of it, takes one per
// worker).
type ProgramRunner struct {
	p      *Program
	inputs [][]float32
	apply  applyFunc
	affine affineFunc
	// One tile per value: the scalars filled once, the spread inputs
	// for each tile, the results reused for every tile.
	vals       [][]float32
	normalized []float32
	spreadTile [][]float32
	sources    []Source    // per input: its Source, or nil (RunnerWith)
	sourceTile [][]float32 // the tiles the sources fill
	cycled     [][]float32 // per-channel inputs: their values repeated, read at the tile's phase
	constAt    []int       // per spread input: the value its whole tile holds, or -1
	// tile is the elements of one tile: tileSize, or the whole program
	// when it is smaller. A tiny program (an SGD update of a 16-channel
	// batch-norm vector) then allocates tiles of its size, not 4 KiB per
	// value: at the full size, zeroing and collecting them took 8 us per run
	// of a 32-element update, 7 times what the stock ops cost.
	tile int
	// scratch holds the tiles and cycles, from runnerScratch: Release
	// gives them back.
	scratch []*[]float32
	// clip is the program recognised as a clip (elementwise_clip.go),
	// which clipRun computes clipWidth elements at a time in registers;
	// clipRun is nil for any other program.
	clip      clipPlan
	clipRun   clipFunc
	clipWidth int
	// chains are the program's register chains by first instruction
	// (elementwise_chain.go), which chainRun runs; chainRun is nil on paths
	// without them.
	chains      []*chain
	chainRun    chainFunc
	chainStride int
}

// runnerScratch keeps the runners' tiles between runs: a runner per worker
// per program allocated 6 MB a MobileNetV2 training step (a fresh zeroed
// slice each), garbage the collector swept and the kernel faulted in again.
var runnerScratch sync.Pool // *[]float32

// take returns n zeroed floats of the runner's scratch.
func (r *ProgramRunner) take(n int) []float32 {
	p := getSlice(&runnerScratch, n)
	r.scratch = append(r.scratch, p)
	s := (*p)[:n:n]
	clear(s)
	return s
}

// Release gives the runner's tiles back for other runners to reuse. The
// runner must not be used after it.
func (r *ProgramRunner) Release() {
	for _, p := range r.scratch {
		runnerScratch.Put(p)
	}
	r.scratch, r.vals, r.spreadTile, r.cycled, r.normalized, r.sourceTile = nil, nil, nil, nil, nil, nil
}

// Runner returns a runner of p over inputs (as Run takes them); Release
// gives its tiles back when it is done.
func (p *Program) Runner(inputs [][]float32) *ProgramRunner { return p.RunnerWith(inputs, nil) }

// RunnerWith is Runner with some inputs given by sources (as RunSources
// takes them: nil, or a Source per input, nil for those read from inputs).
// It panics when a source gives a scalar, spread or normalized input: the
// caller's plan is wrong.
func (p *Program) RunnerWith(inputs [][]float32, sources []Source) *ProgramRunner {
	tile := min(tileSize, p.Size)
	n := p.NumInputs
	spreads := 0
	for _, sp := range p.Spread {
		if sp.spread() {
			spreads++
		}
	}
	for i, src := range sources {
		if src == nil {
			continue
		}
		if i >= n || p.Scalar[i] || p.spreadOf(i).spread() || (p.Normalize != nil && p.Normalize.Input == i) {
			panic(fmt.Sprintf("kernels: element program input %d of %d cannot come from a Source (scalar, spread or normalized)", i, n))
		}
		spreads++ // the source's tile
	}
	r := &ProgramRunner{p: p, inputs: inputs, apply: currentApply(), vals: make([][]float32, n+len(p.Code)), tile: tile,
		spreadTile: make([][]float32, n), cycled: make([][]float32, n), constAt: make([]int, n)}
	if len(sources) > 0 {
		r.sources, r.sourceTile = sources, make([][]float32, n)
	}
	if p.Normalize != nil {
		r.affine = currentAffine()
		spreads++ // the normalized input's tile
	}
	scratch := r.take((len(p.Code) + countTrue(p.Scalar) + spreads) * tile)
	next := func() []float32 {
		t := scratch[:tile:tile]
		scratch = scratch[tile:]
		return t
	}
	if p.Normalize != nil {
		r.normalized = next()
	}
	for i := range r.constAt {
		r.constAt[i] = -1
	}
	for i := range n {
		switch {
		case i < len(sources) && sources[i] != nil:
			r.sourceTile[i] = next()
		case p.Scalar[i]:
			t := next()
			for j := range t {
				t[j] = inputs[i][0]
			}
			r.vals[i] = t
		case p.Spread != nil && p.Spread[i].spread():
			if sp := p.Spread[i]; sp.Every == 1 && sp.Count <= maxCycled {
				r.cycled[i] = cycleInto(r.take(tile+sp.Count), inputs[i][:sp.Count])
				continue
			}
			r.spreadTile[i] = next()
		}
	}
	for k := range p.Code {
		r.vals[n+k] = next()
	}
	if plan := matchClip(p); plan.kind != clipNone && !clipsOff && r.sources == nil {
		nz := p.Normalize
		fn, width := simdClip(Path())
		// The cycles hold tile + C values; the loop reads C + width.
		if fn != nil && tile >= width && r.cycled[nz.Mean] != nil && r.cycled[nz.A] != nil && r.cycled[nz.Offset] != nil {
			r.clip, r.clipRun, r.clipWidth = plan, fn, width
		}
	}
	if fn, stride := simdChain(Path()); fn != nil && !chainsOff && r.clipRun == nil {
		r.chains, r.chainRun, r.chainStride = planChains(p), fn, stride
	}
	return r
}

// Run writes elements lo to hi of the program's output into out (hi - lo
// elements). Every element gets the value Program.Run gives it.
func (r *ProgramRunner) Run(out []float32, lo, hi int) {
	if r.clipRun != nil {
		at := r.runClip(out, lo, hi)
		out, lo = out[at-lo:], at
	}
	tile := r.tile
	p, vals, inputs, n, nz := r.p, r.vals, r.inputs, r.p.NumInputs, r.p.Normalize
	for t0 := lo; t0 < hi; t0 += tile {
		t1 := min(t0+tile, hi)
		m := t1 - t0
		for i := range n {
			switch {
			case nz != nil && i == nz.Input:
				continue // once the vectors' tiles are in place (below)
			case r.sourceTile != nil && r.sourceTile[i] != nil:
				r.sources[i].Fill(r.sourceTile[i][:m], t0)
				vals[i] = r.sourceTile[i]
			case r.cycled[i] != nil:
				phase := t0 % p.Spread[i].Count
				vals[i] = r.cycled[i][phase : phase+m]
			case r.spreadTile[i] != nil:
				sp := p.Spread[i]
				if g := t0 / sp.Every; sp.Every > 1 && (t1-1)/sp.Every == g {
					// One value over the whole tile (a per-example
					// operand): the tile already holds it when the
					// previous tile did too.
					if v := g % sp.Count; r.constAt[i] != v {
						t := r.spreadTile[i][:tile]
						for j := range t {
							t[j] = inputs[i][v]
						}
						r.constAt[i] = v
					}
				} else {
					sp.fill(r.spreadTile[i][:m], inputs[i], t0)
					r.constAt[i] = -1
				}
				vals[i] = r.spreadTile[i]
			case !p.Scalar[i]:
				vals[i] = inputs[i][t0:t1]
			}
		}
		if nz != nil {
			r.affine(r.normalized[:m], inputs[nz.Input][t0:t1], vals[nz.Mean], vals[nz.A], vals[nz.Offset])
			vals[nz.Input] = r.normalized[:m]
		}
		chains := r.chainRun != nil && t1 <= p.TailFrom && m%r.chainStride == 0
		for k := 0; k < len(p.Code); k++ {
			ins := p.Code[k]
			var chn *chain
			last := k // the instruction whose result is stored
			if chains && r.chains[k] != nil {
				chn = r.chains[k]
				last = chn.last
			}
			dst := vals[n+last][:m]
			if last == len(p.Code)-1 {
				dst = out[t0-lo : t1-lo]
			}
			if chn != nil {
				// The chain's results before its last are never stored:
				// only the next instruction of the chain reads each.
				r.chainRun(chn, dst, vals, m)
				if chainHook != nil {
					chainHook(chn)
				}
				k = last
				continue
			}
			a, b, c := vals[ins.Args[0]], vals[ins.Args[1]], vals[ins.Args[2]]
			if ins.SwapInTail && t1 > p.TailFrom {
				// Each part is computed element by element alike
				// (pick(a, b) in vectors and in scalars): the cut may
				// fall anywhere.
				cut := max(0, p.TailFrom-t0)
				r.apply(ins.Op, dst[:cut], a[:cut], b[:cut], nil)
				r.apply(ins.Op, dst[cut:], b[cut:m], a[cut:m], nil)
				continue
			}
			r.apply(ins.Op, dst, a[:m], b[:min(m, len(b))], c[:min(m, len(c))])
		}
	}
}

// maxCycled is the most values a per-channel input (Every 1) may have to
// be read from one buffer of its values repeated (cycle) rather than copied
// into each tile: 1,024 copies of a 72-channel vector's runs cost more than
// the three instructions that read them (a batch-norm epilogue).
const maxCycled = 4 * tileSize

// cycleInto fills out with v repeated from its first value on.
func cycleInto(out, v []float32) []float32 {
	for i := 0; i < len(out); i += len(v) {
		copy(out[i:], v)
	}
	return out
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
