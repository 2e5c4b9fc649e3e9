package kernels

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// naiveDepthwise is the definition of Depthwise.Forward, in float64.
func naiveDepthwise(d Depthwise, in, w []float32) []float64 {
	oh, ow := d.OutH(), d.OutW()
	out := make([]float64, d.N*oh*ow*d.C)
	for n := range d.N {
		for oy := range oh {
			for ox := range ow {
				for c := range d.C {
					var sum float64
					for ky := range d.KH {
						for kx := range d.KW {
							iy, ix := oy*d.StrideH+ky-d.PadTop, ox*d.StrideW+kx-d.PadLeft
							if iy < 0 || ix < 0 || iy%d.InDilH != 0 || ix%d.InDilW != 0 {
								continue
							}
							iy, ix = iy/d.InDilH, ix/d.InDilW
							if iy >= d.H || ix >= d.W {
								continue
							}
							sum += float64(in[((n*d.H+iy)*d.W+ix)*d.C+c]) * float64(w[(ky*d.KW+kx)*d.C+c])
						}
					}
					out[((n*oh+oy)*ow+ox)*d.C+c] = sum
				}
			}
		}
	}
	return out
}

// naiveDepthwiseFilter is the definition of DepthwiseFilter.Compute, in
// float64.
func naiveDepthwiseFilter(d DepthwiseFilter, in, dy []float32) []float64 {
	dw := make([]float64, d.KH*d.KW*d.C)
	for n := range d.N {
		for oy := range d.OH {
			for ox := range d.OW {
				for ky := range d.KH {
					for kx := range d.KW {
						iy, ix := oy*d.StrideH+ky-d.PadTop, ox*d.StrideW+kx-d.PadLeft
						if iy < 0 || ix < 0 || iy >= d.H || ix >= d.W {
							continue
						}
						for c := range d.C {
							dw[(ky*d.KW+kx)*d.C+c] += float64(in[((n*d.H+iy)*d.W+ix)*d.C+c]) * float64(dy[((n*d.OH+oy)*d.OW+ox)*d.C+c])
						}
					}
				}
			}
		}
	}
	return dw
}

// depthwiseCases are forward and transposed (input-dilated) shapes: odd and
// even sizes, channel counts around the vector widths (1, 7, 8, 9, 16, 17,
// 24, 33, 130), kernels 1, 3 and 5, strides 1 and 2, asymmetric padding.
var depthwiseCases = []Depthwise{
	{N: 1, H: 5, W: 5, C: 1, KH: 3, KW: 3, StrideH: 1, StrideW: 1, InDilH: 1, InDilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
	{N: 2, H: 7, W: 6, C: 7, KH: 3, KW: 3, StrideH: 2, StrideW: 2, InDilH: 1, InDilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
	{N: 2, H: 8, W: 8, C: 24, KH: 3, KW: 3, StrideH: 2, StrideW: 2, InDilH: 1, InDilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
	{N: 3, H: 6, W: 9, C: 17, KH: 5, KW: 5, StrideH: 1, StrideW: 1, InDilH: 1, InDilW: 1, PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 2},
	{N: 1, H: 9, W: 7, C: 130, KH: 3, KW: 3, StrideH: 1, StrideW: 2, InDilH: 1, InDilW: 1, PadTop: 0, PadBottom: 2, PadLeft: 1, PadRight: 0},
	{N: 2, H: 4, W: 5, C: 33, KH: 1, KW: 1, StrideH: 2, StrideW: 1, InDilH: 1, InDilW: 1},
	// AVX-512's channel passes of 32 and 16 (48 channels: whole 64-byte
	// lines, which AVX-512 kernels take), and 32, 16 and 8 (which AVX2's
	// take on every path, MobileNetV2's 72 channels among them).
	{N: 2, H: 5, W: 7, C: 48, KH: 3, KW: 3, StrideH: 1, StrideW: 1, InDilH: 1, InDilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
	{N: 2, H: 6, W: 7, C: 56, KH: 3, KW: 3, StrideH: 1, StrideW: 1, InDilH: 1, InDilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
	{N: 1, H: 8, W: 8, C: 72, KH: 3, KW: 3, StrideH: 2, StrideW: 2, InDilH: 1, InDilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
	// Transposed: the input gradient of a stride-2 3x3 convolution of an 8x8
	// (or 7x7) input, as engine v2 receives it.
	{N: 2, H: 4, W: 4, C: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, InDilH: 2, InDilW: 2, PadTop: 1, PadBottom: 2, PadLeft: 1, PadRight: 2},
	{N: 1, H: 4, W: 4, C: 9, KH: 3, KW: 3, StrideH: 1, StrideW: 1, InDilH: 2, InDilW: 2, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
	{N: 1, H: 3, W: 5, C: 8, KH: 5, KW: 3, StrideH: 1, StrideW: 1, InDilH: 3, InDilW: 2, PadTop: 4, PadBottom: 3, PadLeft: 2, PadRight: 1},
	// Runs of many columns in each phase, 16- and 8-channel passes.
	{N: 1, H: 5, W: 12, C: 24, KH: 3, KW: 3, StrideH: 1, StrideW: 1, InDilH: 2, InDilW: 2, PadTop: 1, PadBottom: 2, PadLeft: 1, PadRight: 2},
	// Strided and dilated: phases of period 3 whose columns step 2 inputs,
	// and of period 1.
	{N: 1, H: 4, W: 11, C: 16, KH: 3, KW: 4, StrideH: 2, StrideW: 2, InDilH: 1, InDilW: 3, PadTop: 1, PadBottom: 1, PadLeft: 2, PadRight: 3},
	{N: 2, H: 5, W: 9, C: 9, KH: 3, KW: 3, StrideH: 1, StrideW: 2, InDilH: 2, InDilW: 2, PadTop: 2, PadBottom: 0, PadLeft: 1, PadRight: 1},
}

// TestDepthwise checks the forward kernel against its definition on every
// path, and that every path gives the same bits.
func TestDepthwise(t *testing.T) {
	defer SetPath("auto")
	rng := rand.New(rand.NewPCG(5, 6))
	for _, d := range depthwiseCases {
		t.Run(fmt.Sprintf("%+v", d), func(t *testing.T) {
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
			in := randomSlice(rng, d.N*d.H*d.W*d.C, 0, 1)
			w := randomSlice(rng, d.KH*d.KW*d.C, 0, 1)
			want := naiveDepthwise(d, in, w)
			var first []float32
			for _, path := range Paths() {
				if err := SetPath(path); err != nil {
					t.Fatal(err)
				}
				for _, workers := range []int{1, 3} {
					out := randomSlice(rng, len(want), 0, 1) // every element must be written
					d.Forward(out, in, w, workers)
					if e := maxRelErr(out, want); e > 1e-6 {
						t.Errorf("%s, %d workers: relative error %.3g", path, workers, e)
					}
					if first == nil {
						first = out
					} else if !slices.Equal(out, first) {
						t.Errorf("%s, %d workers: not bit-identical to %s", path, workers, Paths()[0])
					}
				}
			}
		})
	}
}

// TestDepthwiseFilter checks the filter gradient against its definition on
// every path, for strides 1 and 2 and sizes where the last rows are never
// read, and that every path gives the same bits for a number of workers.
func TestDepthwiseFilter(t *testing.T) {
	defer SetPath("auto")
	rng := rand.New(rand.NewPCG(7, 8))
	cases := []DepthwiseFilter{
		{N: 2, H: 7, W: 6, C: 7, OH: 7, OW: 6, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadLeft: 1},
		{N: 3, H: 8, W: 8, C: 33, OH: 4, OW: 4, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1},
		{N: 2, H: 7, W: 9, C: 130, OH: 4, OW: 5, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1},
		{N: 2, H: 6, W: 7, C: 56, OH: 6, OW: 7, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadLeft: 1},
		{N: 2, H: 5, W: 7, C: 48, OH: 5, OW: 7, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadLeft: 1},
		{N: 1, H: 8, W: 8, C: 72, OH: 4, OW: 4, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1},
		{N: 1, H: 6, W: 6, C: 16, OH: 6, OW: 6, KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadTop: 2, PadLeft: 2},
		{N: 2, H: 6, W: 5, C: 9, OH: 3, OW: 3, KH: 1, KW: 1, StrideH: 2, StrideW: 2},
		// Rows of several pixel blocks; 16- and 8-channel passes.
		{N: 1, H: 5, W: 21, C: 24, OH: 5, OW: 21, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadLeft: 1},
		{N: 2, H: 9, W: 19, C: 40, OH: 5, OW: 10, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1},
	}
	for _, d := range cases {
		t.Run(fmt.Sprintf("%+v", d), func(t *testing.T) {
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
			in := randomSlice(rng, d.N*d.H*d.W*d.C, 0, 1)
			dy := randomSlice(rng, d.N*d.OH*d.OW*d.C, 0, 1)
			want := naiveDepthwiseFilter(d, in, dy)
			first := map[int][]float32{} // by workers: the worker count groups the sums
			for _, path := range Paths() {
				if err := SetPath(path); err != nil {
					t.Fatal(err)
				}
				for _, workers := range []int{1, 2} {
					dw := randomSlice(rng, len(want), 0, 1) // every element must be written
					d.Compute(dw, in, dy, workers)
					if e := maxRelErr(dw, want); e > 1e-5 {
						t.Errorf("%s, %d workers: relative error %.3g", path, workers, e)
					}
					if first[workers] == nil {
						first[workers] = dw
					} else if !slices.Equal(dw, first[workers]) {
						t.Errorf("%s, %d workers: not bit-identical to %s", path, workers, Paths()[0])
					}
				}
			}
		})
	}
}
