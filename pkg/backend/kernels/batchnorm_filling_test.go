package kernels

import (
	"math"
	"sync"
	"testing"
)

// TestGradFillingProgram computes a batch norm's gradient from a program's
// output stored whole (Grad) and from the program run chunk by chunk
// inside the kernel, twice, never stored whole (GradFilling with
// ProgramRunner fillers): every output the same bits, on every path, for worker counts that cut the rows
// differently and channel counts around the vector widths.
func TestGradFillingProgram(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		for _, tc := range []struct{ rows, c, workers int }{
			{37, 5, 2}, {300, 72, 3}, {130, 16, 2}, {65, 130, 1}, {1, 8, 2},
		} {
			size := tc.rows * tc.c
			x, y, dz := make([]float32, size), make([]float32, size), make([]float32, size)
			scale, mean, variance := make([]float32, tc.c), make([]float32, tc.c), make([]float32, tc.c)
			for i := range tc.c {
				scale[i], mean[i], variance[i] = float32(i%5)*0.4-0.7, float32(math.Cos(float64(i))), float32(i%3)+0.5
			}
			for i := range x {
				x[i] = float32(math.Sin(float64(i))) * 3
				y[i] = float32(math.Sin(float64(i)*0.7)) * 8
				dz[i] = float32(math.Cos(float64(i)*1.3)) - 0.2
			}
			// A ReLU6 gradient mask: dz where 0 <= y < 6, else 0.
			prog := Program{Size: size, NumInputs: 4, Scalar: []bool{false, false, true, true},
				Code: []Instruction{
					{Op: OpLess, Args: [3]int{0, 3}},         // y < 6
					{Op: OpGreaterEqual, Args: [3]int{0, 2}}, // y >= 0
					{Op: OpMul, Args: [3]int{4, 5}},
					{Op: OpMul, Args: [3]int{6, 1}},
				}, TailFrom: size}
			if err := prog.Validate(); err != nil {
				t.Fatal(err)
			}
			inputs := [][]float32{y, dz, {0}, {6}}
			dy := make([]float32, size)
			prog.Run(dy, inputs, tc.workers)
			bn := BatchNorm{Rows: tc.rows, C: tc.c, Epsilon: 1e-3}
			want := [][]float32{make([]float32, size), make([]float32, tc.c), make([]float32, tc.c)}
			bn.Grad(want[0], want[1], want[2], x, scale, mean, variance, dy, tc.workers)
			got := [][]float32{make([]float32, size), make([]float32, tc.c), make([]float32, tc.c)}
			fills := 0
			var mu sync.Mutex
			bn.GradFilling(got[0], got[1], got[2], x, scale, mean, variance, func() func(dst []float32, lo, hi int) {
				r := prog.Runner(inputs)
				return func(dst []float32, lo, hi int) {
					clear(dst) // a filler must write every element: a stale chunk would show
					r.Run(dst, lo, hi)
					mu.Lock()
					fills += hi - lo
					mu.Unlock()
				}
			}, tc.workers)
			if fills != 2*size { // once for the sums, once for dx
				t.Errorf("%+v: the fillers wrote %d elements, want 2 x %d", tc, fills, size)
			}
			for k, name := range []string{"dx", "dScale", "dOffset"} {
				for i := range want[k] {
					if math.Float32bits(got[k][i]) != math.Float32bits(want[k][i]) {
						t.Fatalf("%+v: %s[%d] = %v, want %v", tc, name, i, got[k][i], want[k][i])
					}
				}
			}
		}
	})
}
