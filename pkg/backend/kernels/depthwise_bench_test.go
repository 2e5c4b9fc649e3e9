package kernels

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

// BenchmarkDepthwise measures the depthwise forward kernel and its filter
// gradient on the current path, at MobileNetV2 width 0.5 batch 96 shapes
// (its costliest depthwise layers and a strided one's input gradient),
// with one worker per GOMAXPROCS. It reports GFLOP/s (2 flops per tap and
// output, the taps on a dilated input's zeros included, though never
// computed) and GB/s (the input and output moved once).
func BenchmarkDepthwise(b *testing.B) {
	workers := runtime.GOMAXPROCS(0)
	for _, bc := range []struct {
		name string
		d    Depthwise
	}{
		{"3x3_72ch_32x32_b96", Depthwise{N: 96, H: 32, W: 32, C: 72, KH: 3, KW: 3, StrideH: 1, StrideW: 1, InDilH: 1, InDilW: 1,
			PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
		{"3x3_16ch_32x32_b96", Depthwise{N: 96, H: 32, W: 32, C: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, InDilH: 1, InDilW: 1,
			PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
		{"3x3_48ch_32x32_b96", Depthwise{N: 96, H: 32, W: 32, C: 48, KH: 3, KW: 3, StrideH: 1, StrideW: 1, InDilH: 1, InDilW: 1,
			PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
		{"3x3s2_72ch_32x32_b96", Depthwise{N: 96, H: 32, W: 32, C: 72, KH: 3, KW: 3, StrideH: 2, StrideW: 2, InDilH: 1, InDilW: 1,
			PadTop: 0, PadBottom: 1, PadLeft: 0, PadRight: 1}},
		{"3x3_192ch_8x8_b96", Depthwise{N: 96, H: 8, W: 8, C: 192, KH: 3, KW: 3, StrideH: 1, StrideW: 1, InDilH: 1, InDilW: 1,
			PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
		// The input gradient of 3x3s2_72ch: the 16x16 gradient dilated by 2.
		{"3x3s2_dx_72ch_32x32_b96", Depthwise{N: 96, H: 16, W: 16, C: 72, KH: 3, KW: 3, StrideH: 1, StrideW: 1, InDilH: 2, InDilW: 2,
			PadTop: 2, PadBottom: 1, PadLeft: 2, PadRight: 1}},
	} {
		d := bc.d
		r := rand.New(rand.NewPCG(1, 1))
		in := randSlice(r, d.N*d.H*d.W*d.C)
		w := randSlice(r, d.KH*d.KW*d.C)
		out := make([]float32, d.N*d.OutH()*d.OutW()*d.C)
		flops := 2 * float64(len(out)*d.KH*d.KW)
		bytes := 4 * float64(len(in)+len(out))
		b.Run(Path()+"/forward/"+bc.name, func(b *testing.B) {
			d.Forward(out, in, w, workers)
			for b.Loop() {
				d.Forward(out, in, w, workers)
			}
			s := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(flops/s/1e9, "GFLOP/s")
			b.ReportMetric(bytes/s/1e9, "GB/s")
		})
		g := DepthwiseFilter{N: d.N, H: d.H, W: d.W, C: d.C, OH: d.OutH(), OW: d.OutW(), KH: d.KH, KW: d.KW,
			StrideH: d.StrideH, StrideW: d.StrideW, PadTop: d.PadTop, PadLeft: d.PadLeft}
		if d.InDilH > 1 {
			continue // an input gradient: no filter gradient of this shape
		}
		dw := make([]float32, len(w))
		b.Run(Path()+"/filter/"+bc.name, func(b *testing.B) {
			g.Compute(dw, in, out, workers)
			for b.Loop() {
				g.Compute(dw, in, out, workers)
			}
			s := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(flops/s/1e9, "GFLOP/s")
			b.ReportMetric(bytes/s/1e9, "GB/s")
		})
	}
}
