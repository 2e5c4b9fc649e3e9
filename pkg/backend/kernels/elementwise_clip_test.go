package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// clipPrograms are the two clip programs as package engine builds them
// (operands in its order, Max and Min swapping theirs in the tail), over
// size elements of c channels, normalizing input 0.
func clipPrograms(t *testing.T, size, c, tailFrom int) map[string]Program {
	t.Helper()
	forward := Program{Size: size, NumInputs: 3, Scalar: []bool{false, true, true}, TailFrom: tailFrom,
		Code: []Instruction{{Op: OpMax, Args: [3]int{1, 0}, SwapInTail: true}, {Op: OpMin, Args: [3]int{2, 3}, SwapInTail: true}}}
	mask := Program{Size: size, NumInputs: 4, Scalar: []bool{false, true, false, true}, TailFrom: tailFrom,
		Code: []Instruction{{Op: OpMax, Args: [3]int{1, 0}, SwapInTail: true}, {Op: OpMulLess, Args: [3]int{2, 4, 3}},
			{Op: OpMulNotLess, Args: [3]int{5, 0, 1}}}}
	progs := map[string]Program{}
	for name, p := range map[string]Program{"forward": forward, "mask": mask} {
		q, err := p.NormalizingInput(0, c)
		if err != nil {
			t.Fatal(err)
		}
		progs[name] = q
	}
	return progs
}

// clipInputs returns x and g with NaN, infinities and signed zeros among
// them, and per-channel mean, a and offset that put some normalized values
// exactly on the clip's bounds (a = 0, offset 0 or 6) and some at -0.
func clipInputs(rng *rand.Rand, size, c int) (x, g, mean, a, offset []float32) {
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)), 6, -6}
	x, g = make([]float32, size), make([]float32, size)
	for i := range x {
		x[i], g[i] = float32(rng.NormFloat64()*4+2), float32(rng.NormFloat64())
		if rng.IntN(16) == 0 {
			x[i] = special[rng.IntN(len(special))]
		}
		if rng.IntN(16) == 0 {
			g[i] = special[rng.IntN(len(special))]
		}
	}
	mean, a, offset = make([]float32, c), make([]float32, c), make([]float32, c)
	for i := range c {
		mean[i], a[i], offset[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64()+1), float32(rng.NormFloat64()*3+3)
		switch i % 5 {
		case 1:
			a[i], offset[i] = 0, 6 // exactly the upper bound
		case 2:
			a[i], offset[i] = 0, 0 // exactly the lower bound
		case 3:
			a[i], offset[i] = 0, float32(math.Copysign(0, -1))
		}
	}
	return x, g, mean, a, offset
}

// TestClipProgramsMatchInterpreter runs the two clip programs with their
// register loops and with the interpreter alone, on every path, over
// whole ranges and over chunks that start inside a row, and checks every
// element's bits agree, that the loops did run, and the forward clip's
// values against its formula.
func TestClipProgramsMatchInterpreter(t *testing.T) {
	defer func() {
		clipsOff = false
		if err := SetPath("auto"); err != nil {
			t.Fatal(err)
		}
	}()
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct{ rows, c, tailBack int }{
		{5, 1, 0}, {40, 3, 8}, {9, 8, 0}, {33, 12, 16}, {70, 16, 0}, {64, 72, 24}, {30, 130, 8}, {3, 72, 200},
	} {
		size := tc.rows * tc.c
		tailFrom := size
		if tc.tailBack > 0 {
			tailFrom = max(0, (size-tc.tailBack)/8*8)
		}
		x, g, mean, a, offset := clipInputs(rng, size, tc.c)
		for name, p := range clipPrograms(t, size, tc.c, tailFrom) {
			inputs := [][]float32{x, {0}, {6}, mean, a, offset}
			if name == "mask" {
				inputs = [][]float32{x, {0}, g, {6}, mean, a, offset}
			}
			for _, path := range Paths() {
				if err := SetPath(path); err != nil {
					t.Fatal(err)
				}
				run := func(off bool, chunk int) ([]float32, bool) {
					clipsOff = off
					out := make([]float32, size)
					r := p.Runner(inputs)
					defer r.Release()
					for lo := 0; lo < size; lo += chunk {
						hi := min(size, lo+chunk)
						r.Run(out[lo:hi], lo, hi)
					}
					return out, r.clipRun != nil
				}
				want, _ := run(true, size)
				for _, chunk := range []int{size, 8 * 37, 16 * 5, 24} {
					got, fast := run(false, chunk)
					if _, width := simdClip(path); fast != (width > 0 && size >= width) {
						t.Fatalf("%s %+v %s: register loop on = %v", name, tc, path, fast)
					}
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s %+v %s chunk %d: element %d = %v (%#x), the interpreter's %v (%#x)",
								name, tc, path, chunk, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
						}
					}
				}
				if name == "forward" {
					for i, v := range want {
						ch := i % tc.c
						xn := float32(float32(x[i]-mean[ch])*a[ch]) + offset[ch]
						if f := float32(math.Min(math.Max(float64(xn), 0), 6)); xn == xn && v != f {
							t.Fatalf("%+v %s: element %d = %v, want clip(%v) = %v", tc, path, i, v, xn, f)
						}
					}
				}
			}
		}
	}
}

// BenchmarkClipProgram runs the clip programs with their register loops
// and with the interpreter alone: over one batch-norm chunk (64 rows of 72
// channels, in L1/L2: the arithmetic's cost) and over MobileNetV2 width
// 0.5 batch 96's largest activation (96x32x32x72: memory's).
func BenchmarkClipProgram(b *testing.B) {
	defer func() { clipsOff = false }()
	rng := rand.New(rand.NewPCG(1, 2))
	const c = 72
	for _, rows := range []int{64, 96 * 32 * 32} {
		size := rows * c
		x, g, mean, a, offset := clipInputs(rng, size, c)
		out := make([]float32, size)
		progs := clipPrograms(&testing.T{}, size, c, size)
		for _, name := range []string{"forward", "mask"} {
			p := progs[name]
			inputs := [][]float32{x, {0}, {6}, mean, a, offset}
			if name == "mask" {
				inputs = [][]float32{x, {0}, g, {6}, mean, a, offset}
			}
			for _, mode := range []string{"registers", "interpreter"} {
				b.Run(fmt.Sprintf("rows=%d/%s/%s", rows, name, mode), func(b *testing.B) {
					clipsOff = mode == "interpreter"
					r := p.Runner(inputs)
					defer r.Release()
					for b.Loop() {
						r.Run(out, 0, size)
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/element")
				})
			}
		}
	}
}
