package kernels

import (
	"fmt"
	"testing"
	"unsafe"
)

// BenchmarkTileKernel measures each micro-kernel of each path alone, with
// its operands in L1: 36 steps (a 3x3 tap over 64 channels) that all read
// the same 16 input channels and weight rows. The gap between this and
// BenchmarkConv2DForward is the cost of everything around the kernels.
func BenchmarkTileKernel(b *testing.B) {
	orig := Path()
	defer func() { _ = SetPath(orig) }()
	for _, name := range Paths() {
		if name == "generic" && !testing.Verbose() {
			continue // slow and not interesting for tuning
		}
		if err := SetPath(name); err != nil {
			b.Fatal(err)
		}
		ks := current.Load()
		for _, width := range []int{32, 16} {
			tiles := ks.tiles32
			if width == 16 {
				tiles = ks.tiles16
			}
			for p := 1; p <= ks.maxP; p++ {
				b.Run(fmt.Sprintf("%s/w%d/P%d", name, width, p), func(b *testing.B) {
					in := make([]float32, maxTile*ciBlock)
					wts := make([]float32, ciBlock*width)
					var out [maxTile * 32]float32
					var sink [16]float32
					steps := make([]step, 36)
					for i := range steps {
						steps[i] = step{in: unsafe.Pointer(&in[0]), w: unsafe.Pointer(&wts[0])}
					}
					calls := 1
					if ks.halves {
						calls = width / 16
					}
					for b.Loop() {
						for range calls {
							tiles[p-1](steps, unsafe.Pointer(&out[0]), 4*32, &sink)
						}
					}
					flops := float64(b.N) * 2 * float64(len(steps)*ciBlock*p*width)
					b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
