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
			for p := 1; p <= len(tiles); p++ {
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

// BenchmarkFilterKernel measures each weight-gradient micro-kernel of each
// path alone, with its operands in L1, over calls of 4, 16 and 64 steps of
// 16 pixels: the gap between the call lengths is the cost of a call (its
// sums loaded and stored), the gap to BenchmarkConv2DBackwardFilter that of
// everything around the kernels.
func BenchmarkFilterKernel(b *testing.B) {
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
			kerns := ks.filter32
			if width == 16 {
				kerns = ks.filter16
			}
			for r := 1; r <= len(kerns); r++ {
				for _, steps := range []int{4, 16, 64} {
					if steps != 16 && r != len(kerns) {
						continue
					}
					b.Run(fmt.Sprintf("%s/w%d/R%d/steps%d", name, width, r, steps), func(b *testing.B) {
						// 64 steps of x and dy are 96 KiB: the pointers go back
						// to the start every 16 steps, to stay in L1. (The
						// kernels leave them one step on: a step more each.)
						x := make([]float32, 17*ciBlock*16)
						dy := make([]float32, 17*width*16)
						dst := make([]float32, len(kerns)*width)
						var sink [16]float32
						calls := 1
						if ks.halves {
							calls = width / 16
						}
						for b.Loop() {
							for done := 0; done < steps; done += 16 {
								n := min(16, steps-done)
								for h := range calls {
									kerns[r-1](unsafe.Pointer(&x[0]), unsafe.Pointer(&dy[16*h]), n, unsafe.Pointer(&dst[16*h]), uintptr(4*width), &sink)
								}
							}
						}
						flops := float64(b.N) * 2 * float64(steps*16*r*width)
						b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
					})
				}
			}
		}
	}
}
