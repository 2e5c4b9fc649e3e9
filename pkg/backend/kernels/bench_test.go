package kernels

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

// benchConvs are the shapes BenchmarkConv2DForward measures; the first is
// the one the project's performance target refers to.
var benchConvs = []struct {
	name string
	c    Conv2D
}{
	{"3x3_64to64_32x32_b32", Conv2D{N: 32, H: 32, W: 32, C: 64, KH: 3, KW: 3, O: 64,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
	{"3x3s2_128to128_16x16_b32", Conv2D{N: 32, H: 16, W: 16, C: 128, KH: 3, KW: 3, O: 128,
		StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
	{"1x1_64to64_32x32_b32", Conv2D{N: 32, H: 32, W: 32, C: 64, KH: 1, KW: 1, O: 64,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1}},
}

// BenchmarkConv2DForward measures Forward on the current path (see Path;
// force one with MLSYSREP_KERNELS) with one worker per GOMAXPROCS, and
// reports GFLOP/s counting 2*N*OH*OW*O*C*KH*KW flops per call.
func BenchmarkConv2DForward(b *testing.B) {
	workers := runtime.GOMAXPROCS(0)
	for _, bc := range benchConvs {
		b.Run(Path()+"/"+bc.name, func(b *testing.B) {
			c := bc.c
			r := rand.New(rand.NewPCG(1, 1))
			in := randSlice(r, c.InputSize())
			packed := make([]float32, c.PackedSize())
			packHWIO(c, packed, randSlice(r, c.KH*c.KW*c.C*c.O))
			out := make([]float32, c.OutputSize())
			c.Forward(out, in, packed, workers) // warm the worker pool
			b.ResetTimer()
			for b.Loop() {
				c.Forward(out, in, packed, workers)
			}
			b.ReportMetric(c.Flops()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
