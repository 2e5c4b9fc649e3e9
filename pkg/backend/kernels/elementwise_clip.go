package kernels

// Clip programs in registers.
//
// The two programs a MobileNetV2 step runs most are ReLU6 around a batch
// norm whose output the program normalizes as it reads it (package
// engine's batch-norm epilogue): the forward clip Min(6, Max(0, n(x))),
// and the clip's gradient mask MulNotLess(MulLess(g, Max(0, n(x)), 6),
// n(x), 0) that a batch-norm gradient runs chunk by chunk. The interpreter
// runs them as four or five passes over a tile, each loading its operands
// from L1 and storing its result: about 20 cycles per 8 elements on an
// AVX2 core, where the arithmetic is five or six instructions. A program
// that is one of these two, operand for operand, runs instead as one loop
// that keeps every value in registers (clipFunc), with the interpreter's
// vector operations in the same order and with the same operand order, so
// every element gets the same bits; the elements the loop does not cover
// (a range's last partial vector, and from TailFrom on, where Min and Max
// may swap their operands) go through the interpreter.

// clipKind says which clip program a program is.
type clipKind uint8

const (
	clipNone    clipKind = iota
	clipForward          // Min(hi, Max(lo, n(x)))
	clipMask             // MulNotLess(MulLess(g, Max(lo, n(x)), hi), n(x), lo2)
)

// clipPlan is a program recognised as a clip: its kind and the inputs
// (numbers) of its operands. lo, hi and lo2 are scalar inputs, g a full
// tensor, x the normalized input.
type clipPlan struct {
	kind              clipKind
	x, g, lo, hi, lo2 int
}

// clipFunc runs a clip plan over n elements (a multiple of the path's
// vector width) of out from its first, x and g being the operands at the
// same elements and mean, a and offset the per-channel vectors repeated
// (cycled) so that the values of the first element's channel ph start at
// index ph; c is the channel count.
type clipFunc func(kind clipKind, out, x, g, mean, a, offset []float32, ph, c int, lo, hi, lo2 float32, n int)

// clipsOff switches the register loops off (tests compare them with the
// interpreter).
var clipsOff bool

// matchClip returns p's clip plan, or a plan of kind clipNone.
func matchClip(p *Program) clipPlan {
	nz := p.Normalize
	if nz == nil {
		return clipPlan{}
	}
	n := p.NumInputs
	scalar := func(v int) bool { return v < n && p.Scalar[v] }
	full := func(v int) bool {
		return v < n && !p.Scalar[v] && v != nz.Input && (p.Spread == nil || !p.Spread[v].spread())
	}
	code := p.Code
	if len(code) < 2 || code[0].Op != OpMax || !scalar(code[0].Args[0]) || code[0].Args[1] != nz.Input {
		return clipPlan{}
	}
	lo := code[0].Args[0]
	switch {
	case len(code) == 2 && code[1].Op == OpMin && scalar(code[1].Args[0]) && code[1].Args[1] == n:
		return clipPlan{kind: clipForward, x: nz.Input, lo: lo, hi: code[1].Args[0]}
	case len(code) == 3 && code[1].Op == OpMulLess && full(code[1].Args[0]) && code[1].Args[1] == n && scalar(code[1].Args[2]) &&
		code[2].Op == OpMulNotLess && code[2].Args[0] == n+1 && code[2].Args[1] == nz.Input && scalar(code[2].Args[2]):
		return clipPlan{kind: clipMask, x: nz.Input, g: code[1].Args[0], lo: lo, hi: code[1].Args[2], lo2: code[2].Args[2]}
	}
	return clipPlan{}
}

// runClip computes what it can of elements lo to hi of the runner's clip
// program into out (hi - lo elements) and returns the first element it
// left to the interpreter.
func (r *ProgramRunner) runClip(out []float32, lo, hi int) int {
	p, nz, plan := r.p, r.p.Normalize, r.clip
	end := min(hi, p.TailFrom)
	n := max(0, end-lo) / r.clipWidth * r.clipWidth
	if n == 0 {
		return lo
	}
	c := nz.C
	in := r.inputs
	var g []float32
	lo2 := float32(0)
	if plan.kind == clipMask {
		g, lo2 = in[plan.g][lo:lo+n], in[plan.lo2][0]
	}
	r.clipRun(plan.kind, out[:n], in[plan.x][lo:lo+n], g, r.cycled[nz.Mean], r.cycled[nz.A], r.cycled[nz.Offset], lo%c, c,
		in[plan.lo][0], in[plan.hi][0], lo2, n)
	return lo + n
}

// checkCycles panics unless each cycle holds n values: a loop reads a
// vector from every phase below the channel count.
func checkCycles(n int, cycles ...[]float32) {
	for _, c := range cycles {
		if len(c) < n {
			panic("kernels: a clip program's per-channel cycle is shorter than its channels and a vector")
		}
	}
}
