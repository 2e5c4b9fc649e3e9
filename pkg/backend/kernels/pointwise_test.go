package kernels

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestPointwise checks Pointwise against float64 sums on every path, for
// channel counts that fill, miss and straddle 16-channel blocks, pixel
// counts that leave remainders of the 6-pixel tiles, and transposed weight
// strides (the input gradient's), and that every path and worker count
// gives the same result as one worker.
func TestPointwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct{ pixels, c, o int }{
		{1, 1, 1}, {5, 3, 7}, {64, 12, 72}, {67, 72, 12}, {130, 16, 16}, {9, 17, 33}, {200, 8, 16}, {3, 130, 5},
	} {
		pw := Pointwise{Pixels: tc.pixels, C: tc.c, O: tc.o}
		x := randomSlice(rng, tc.pixels*tc.c, 0, 1)
		w := randomSlice(rng, tc.c*tc.o, 0, 1) // [O][C]: the transposed strides
		want := make([]float64, tc.pixels*tc.o)
		for p := range tc.pixels {
			for o := range tc.o {
				for c := range tc.c {
					want[p*tc.o+o] += float64(x[p*tc.c+c]) * float64(w[o*tc.c+c])
				}
			}
		}
		packed := make([]float32, pw.PackedSize())
		pw.Pack(packed, w, 1, tc.c)
		for _, path := range Paths() {
			if err := SetPath(path); err != nil {
				t.Fatal(err)
			}
			var first []float32
			for _, workers := range []int{1, 3} {
				out := make([]float32, tc.pixels*tc.o+1)
				out[len(out)-1] = 42 // past the output: untouched
				pw.Forward(out[:tc.pixels*tc.o], x, packed, workers)
				for i, v := range out[:tc.pixels*tc.o] {
					if math.Abs(float64(v)-want[i]) > 1e-5*(1+math.Abs(want[i])) {
						t.Fatalf("%s %+v workers %d: out[%d] = %v, want %v", path, tc, workers, i, v, want[i])
					}
				}
				if out[len(out)-1] != 42 {
					t.Fatalf("%s %+v: wrote past the output", path, tc)
				}
				if first == nil {
					first = out
				} else {
					for i := range first {
						if math.Float32bits(first[i]) != math.Float32bits(out[i]) {
							t.Fatalf("%s %+v: %d workers differ from 1 at %d", path, tc, workers, i)
						}
					}
				}
			}
		}
	}
	if err := SetPath("auto"); err != nil {
		t.Fatal(err)
	}
}

// TestPointwiseFusedOrder checks every output and kernel-gradient element
// of the SIMD paths bit for bit against their definition there: fused
// multiply-adds in order from a zero sum (over the input channels, or over
// the pixels), each rounded once (computed exactly with big.Float and
// rounded to float32), for pixel counts around the 6-pixel tiles and output
// channels in 16- and 8-channel passes and scratch tails of 8 and 16.
func TestPointwiseFusedOrder(t *testing.T) {
	defer SetPath("auto")
	rng := rand.New(rand.NewPCG(11, 12))
	for _, path := range Paths() {
		if path == "generic" {
			continue // products rounded before they are added: TestPointwise
		}
		if err := SetPath(path); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ pixels, c, o int }{{5, 3, 7}, {13, 12, 20}, {7, 17, 33}, {6, 16, 8}, {11, 2, 24}, {9, 5, 12}, {4, 7, 29},
			// AVX-512's passes of 32, 16 and 8 channels in every mix.
			{7, 9, 72}, {5, 4, 56}, {3, 6, 40}, {8, 5, 48}, {6, 3, 64}, {13, 2, 16}, {2, 3, 90}} {
			pw := Pointwise{Pixels: tc.pixels, C: tc.c, O: tc.o}
			x := randomSlice(rng, tc.pixels*tc.c, 0, 1)
			w := randomSlice(rng, tc.c*tc.o, 0, 1)
			packed := make([]float32, pw.PackedSize())
			pw.Pack(packed, w, tc.o, 1)
			out := make([]float32, tc.pixels*tc.o)
			pw.Forward(out, x, packed, 2)
			for p := range tc.pixels {
				for o := range tc.o {
					sum := fusedChain(tc.c, func(c int) float32 { return w[c*tc.o+o] }, func(c int) float32 { return x[p*tc.c+c] })
					if got := out[p*tc.o+o]; math.Float32bits(got) != math.Float32bits(sum) {
						t.Fatalf("%s %+v: out[%d][%d] = %v, want %v", path, tc, p, o, got, sum)
					}
				}
			}
		}
		// The kernel gradient: one chunk of pixels (fewer than 1024), so
		// each element is its pixels' fused multiply-adds in order; pixel
		// counts across the 64-pixel tiles, input channels around the
		// 6-row calls, output channels read in place and through the tile.
		for _, tc := range []struct{ pixels, c, o int }{{70, 7, 12}, {130, 13, 24}, {65, 6, 8}, {9, 1, 5},
			{40, 7, 72}, {33, 5, 56}, {20, 3, 48}, {11, 2, 40}} { // AVX-512's 32-, 16- and 8-channel passes
			pw := Pointwise{Pixels: tc.pixels, C: tc.c, O: tc.o}
			x := randomSlice(rng, tc.pixels*tc.c, 0, 1)
			dy := randomSlice(rng, tc.pixels*tc.o, 0, 1)
			dw := make([]float32, tc.c*tc.o)
			pw.BackwardFilter(dw, x, dy, 2)
			for c := range tc.c {
				for o := range tc.o {
					sum := fusedChain(tc.pixels, func(p int) float32 { return dy[p*tc.o+o] }, func(p int) float32 { return x[p*tc.c+c] })
					if got := dw[c*tc.o+o]; math.Float32bits(got) != math.Float32bits(sum) {
						t.Fatalf("%s %+v: dw[%d][%d] = %v, want %v", path, tc, c, o, got, sum)
					}
				}
			}
		}
	}
}

// fusedChain is sum = a(i)*b(i) + sum for i = 0 to n-1 in order, from a zero
// sum, each step rounded once.
func fusedChain(n int, a, b func(int) float32) float32 {
	var sum float32
	for i := range n {
		sum = fusedMulAdd32(a(i), b(i), sum)
	}
	return sum
}

// fusedMulAdd32 is a*b + c rounded once to float32.
func fusedMulAdd32(a, b, c float32) float32 {
	prod := new(big.Float).SetPrec(200).Mul(big.NewFloat(float64(a)), big.NewFloat(float64(b)))
	f, _ := prod.Add(prod, big.NewFloat(float64(c))).Float32()
	return f
}

// BenchmarkPointwise measures MobileNetV2's 1x1 shapes against
// BenchmarkConv2DForward's.
func BenchmarkPointwise(b *testing.B) {
	for _, s := range []struct {
		name         string
		pixels, c, o int
	}{{"1x1_12to72_32x32_b96", 96 * 1024, 12, 72}, {"1x1_72to12_32x32_b96", 96 * 1024, 72, 12},
		{"1x1_16to96_16x16_b96", 96 * 256, 16, 96}, {"1x1_96to16_16x16_b96", 96 * 256, 96, 16},
		{"1x1_48to288_8x8_b96", 96 * 64, 48, 288}, {"1x1_160to640_4x4_b96", 96 * 16, 160, 640}} {
		b.Run(Path()+"/"+s.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			pw := Pointwise{Pixels: s.pixels, C: s.c, O: s.o}
			x := randomSlice(rng, s.pixels*s.c, 0, 1)
			packed := make([]float32, pw.PackedSize())
			pw.Pack(packed, randomSlice(rng, s.c*s.o, 0, 1), s.o, 1)
			out := make([]float32, s.pixels*s.o)
			for b.Loop() {
				pw.Forward(out, x, packed, 2)
			}
			b.ReportMetric(2*float64(s.pixels*s.c*s.o)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// TestPointwiseBackwardFilter checks the 1x1 kernel gradient against
// float64 sums and against Conv2D.BackwardFilter, on every path, for
// channel counts that fill and miss 4-channel groups and 8- and 16-lane
// vectors and pixel counts across chunk and tile edges; every worker count
// gives the bits of one worker.
func TestPointwiseBackwardFilter(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct{ pixels, c, o int }{
		{1, 1, 1}, {5, 3, 7}, {64, 12, 72}, {67, 72, 12}, {130, 16, 16}, {9, 17, 33}, {2500, 8, 48}, {1100, 48, 8}, {3, 130, 5},
	} {
		pw := Pointwise{Pixels: tc.pixels, C: tc.c, O: tc.o}
		x := randomSlice(rng, tc.pixels*tc.c, 0, 1)
		dy := randomSlice(rng, tc.pixels*tc.o, 0, 1)
		want := make([]float64, tc.c*tc.o)
		for p := range tc.pixels {
			for c := range tc.c {
				for o := range tc.o {
					want[c*tc.o+o] += float64(x[p*tc.c+c]) * float64(dy[p*tc.o+o])
				}
			}
		}
		conv := Conv2D{N: 1, H: tc.pixels, W: 1, C: tc.c, KH: 1, KW: 1, O: tc.o, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1}
		for _, path := range Paths() {
			if err := SetPath(path); err != nil {
				t.Fatal(err)
			}
			stock := make([]float32, tc.c*tc.o)
			conv.BackwardFilter(stock, x, dy, 2)
			var first []float32
			for _, workers := range []int{1, 3} {
				dw := make([]float32, tc.c*tc.o+1)
				dw[len(dw)-1] = 42
				pw.BackwardFilter(dw[:tc.c*tc.o], x, dy, workers)
				for i, v := range dw[:tc.c*tc.o] {
					tol := 1e-5 * (1 + math.Abs(want[i]) + math.Sqrt(float64(tc.pixels)))
					if math.Abs(float64(v)-want[i]) > tol || math.Abs(float64(v-stock[i])) > tol {
						t.Fatalf("%s %+v workers %d: dw[%d] = %v, want %v (Conv2D: %v)", path, tc, workers, i, v, want[i], stock[i])
					}
				}
				if dw[len(dw)-1] != 42 {
					t.Fatalf("%s %+v: wrote past dw", path, tc)
				}
				if first == nil {
					first = dw
				} else {
					for i := range first {
						if math.Float32bits(first[i]) != math.Float32bits(dw[i]) {
							t.Fatalf("%s %+v: %d workers differ from 1 at %d", path, tc, workers, i)
						}
					}
				}
			}
		}
	}
	if err := SetPath("auto"); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkPointwiseBackwardFilter times the 1x1 kernel gradient of
// MobileNetV2's few-channel layers (batch 96) on Pointwise and on
// Conv2D.BackwardFilter, interleaved per shape.
func BenchmarkPointwiseBackwardFilter(b *testing.B) {
	for _, s := range []struct {
		name         string
		pixels, c, o int
	}{{"1x1_12to72_32x32_b96", 96 * 1024, 12, 72}, {"1x1_72to12_32x32_b96", 96 * 1024, 72, 12},
		{"1x1_8to48_32x32_b96", 96 * 1024, 8, 48}, {"1x1_48to12_32x32_b96", 96 * 1024, 48, 12},
		{"1x1_12to72_16x16_b96", 96 * 256, 12, 72}} {
		rng := rand.New(rand.NewPCG(1, 1))
		x := randomSlice(rng, s.pixels*s.c, 0, 1)
		dy := randomSlice(rng, s.pixels*s.o, 0, 1)
		dw := make([]float32, s.c*s.o)
		flops := 2 * float64(s.pixels*s.c*s.o)
		b.Run(Path()+"/Pointwise/"+s.name, func(b *testing.B) {
			pw := Pointwise{Pixels: s.pixels, C: s.c, O: s.o}
			for b.Loop() {
				pw.BackwardFilter(dw, x, dy, 2)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(Path()+"/Conv2D/"+s.name, func(b *testing.B) {
			conv := Conv2D{N: 1, H: s.pixels, W: 1, C: s.c, KH: 1, KW: 1, O: s.o, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1}
			for b.Loop() {
				conv.BackwardFilter(dw, x, dy, 2)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
