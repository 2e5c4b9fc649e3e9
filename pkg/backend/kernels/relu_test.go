package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRelu checks ReLU and its gradient on every path against their
// definitions, including NaN and -0, over lengths that are not multiples of
// the vector width and that span several parallel chunks.
func TestRelu(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	nan, negZero := float32(math.NaN()), float32(math.Copysign(0, -1))
	for _, n := range []int{1, 7, 16, 33, 1000, 3*reluChunk + 5} {
		x, dOut := randomSlice(rng, n, 0, 1), randomSlice(rng, n, 0, 1)
		x[0] = nan
		if n > 1 {
			x[1] = negZero
		}
		if n > 20 {
			x[17], x[18] = nan, negZero // inside a vector on the SIMD paths
		}
		for _, path := range Paths() {
			if err := SetPath(path); err != nil {
				t.Fatal(err)
			}
			out, dx := make([]float32, n), make([]float32, n)
			Relu(out, x, 2)
			ReluGrad(dx, x, dOut, 2)
			for i := range x {
				wantOut, wantDx := x[i], float32(0)
				if x[i] < 0 {
					wantOut = 0
				}
				if x[i] > 0 {
					wantDx = dOut[i]
				}
				if math.Float32bits(out[i]) != math.Float32bits(wantOut) || math.Float32bits(dx[i]) != math.Float32bits(wantDx) {
					t.Fatalf("%s n=%d: x[%d]=%v: relu %v (want %v), grad %v (want %v)", path, n, i, x[i], out[i], wantOut, dx[i], wantDx)
				}
			}
		}
	}
	if err := SetPath("auto"); err != nil {
		t.Fatal(err)
	}
}
