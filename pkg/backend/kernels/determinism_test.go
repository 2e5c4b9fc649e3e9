package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRepeatable: every kernel gives the same bits when called again on the
// same data with the same number of workers, whatever the goroutines'
// timing (a training run must resume bit for bit from a checkpoint).
func TestRepeatable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []Conv2D{
		{N: 8, H: 8, W: 8, C: 3, KH: 3, KW: 3, O: 8, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		{N: 8, H: 9, W: 9, C: 17, KH: 3, KW: 3, O: 8, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		{N: 16, H: 16, W: 16, C: 32, KH: 3, KW: 3, O: 32, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
	} {
		in := randomSlice(rng, c.InputSize(), 0, 1)
		dy := randomSlice(rng, c.OutputSize(), 0, 1)
		w := randomSlice(rng, c.KH*c.KW*c.C*c.O, 0, 1)
		p := make([]float32, c.PackedSize())
		c.PackWeights(p, w, c.KW*c.C*c.O, c.C*c.O, c.O, 1, 2)
		bn := BatchNorm{Rows: c.N * c.H * c.W, C: c.C, Epsilon: 1e-5}
		scale, offset := randomSlice(rng, c.C, 1, 0.1), randomSlice(rng, c.C, 0, 0.1)
		run := func() [][]float32 {
			dw, y := make([]float32, len(w)), make([]float32, c.OutputSize())
			c.BackwardFilter(dw, in, dy, 2)
			c.Forward(y, in, p, 2)
			norm, mean, variance := make([]float32, len(in)), make([]float32, c.C), make([]float32, c.C)
			bn.Train(norm, mean, variance, in, scale, offset, 2)
			dx, ds, do := make([]float32, len(in)), make([]float32, c.C), make([]float32, c.C)
			bn.Grad(dx, ds, do, in, scale, mean, variance, in, 2)
			return [][]float32{dw, y, norm, mean, variance, dx, ds, do}
		}
		first := run()
		for rep := range 8 {
			for k, got := range run() {
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(first[k][i]) {
						t.Fatalf("%+v: call %d, result %d differs at %d: %v, first call %v", c, rep+2, k, i, got[i], first[k][i])
					}
				}
			}
		}
	}
}
