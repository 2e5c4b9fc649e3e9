package kernels

import (
	"math"
	"slices"
	"testing"
)

// The max pooling kernels on hand-computed cases (the engine's tests compare
// them with the stock ops on random shapes, NaN and signed zeros included).
func TestMaxPoolByHand(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(-1))
	negZero := float32(math.Copysign(0, -1))
	for _, tc := range []struct {
		name     string
		p        MaxPool
		in, dy   []float32
		out, dx  []float32
		disjoint bool
	}{
		{
			name: "2x2 stride 2, one channel",
			p:    MaxPool{N: 1, H: 2, W: 4, C: 1, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
			in: []float32{
				1, 5, 2, 2,
				3, 4, 2, 9},
			dy:  []float32{10, 20},
			out: []float32{5, 9},
			// ties (2, 2, 2) do not matter here: 9 wins its window.
			dx: []float32{
				0, 10, 0, 0,
				0, 0, 0, 20},
			disjoint: true,
		},
		{
			name: "ties select the first; two channels vectorized apart",
			p:    MaxPool{N: 1, H: 2, W: 2, C: 2, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
			// pixel-major: (0,0) (0,1) (1,0) (1,1), each [c0, c1]
			in:       []float32{7, 1, 7, 2, 3, 2, 7, 0},
			dy:       []float32{1.5, -2},
			out:      []float32{7, 2},
			dx:       []float32{1.5, 0, 0, -2, 0, 0, 0, 0},
			disjoint: true,
		},
		{
			name: "NaN wins and the last NaN is selected; +0 over -0",
			p:    MaxPool{N: 1, H: 1, W: 3, C: 2, KH: 1, KW: 3, StrideH: 1, StrideW: 3},
			in:   []float32{nan, negZero, 1, 0, nan, negZero},
			dy:   []float32{4, negZero},
			out:  []float32{nan, 0},
			// channel 1: -0 first, then +0 is not greater (equal), then -0:
			// the first stays selected and gets 0 + -0 = +0.
			dx:       []float32{0, 0, 0, 0, 4, 0},
			disjoint: true,
		},
		{
			name: "padding is skipped; a window wholly in it gives -Inf and selects nothing",
			p:    MaxPool{N: 1, H: 1, W: 2, C: 1, KH: 1, KW: 2, StrideH: 1, StrideW: 2, PadLeft: 1, PadRight: 3},
			in:   []float32{-3, -1},
			dy:   []float32{5, 6, 7},
			// windows: [pad, -3], [-1, pad], [pad, pad]
			out:      []float32{-3, -1, inf},
			dx:       []float32{5, 6},
			disjoint: true,
		},
		{
			name: "overlapping windows: forward only",
			p:    MaxPool{N: 1, H: 1, W: 4, C: 1, KH: 1, KW: 3, StrideH: 1, StrideW: 1},
			in:   []float32{1, 4, 2, 3},
			out:  []float32{4, 4},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.p.Validate(); err != nil {
				t.Fatal(err)
			}
			if tc.p.Disjoint() != tc.disjoint {
				t.Fatalf("Disjoint() = %v, want %v", tc.p.Disjoint(), tc.disjoint)
			}
			for _, workers := range []int{1, 3} {
				out := make([]float32, len(tc.out))
				tc.p.Forward(out, tc.in, workers)
				if !sameBits(out, tc.out) {
					t.Errorf("workers %d: Forward = %v, want %v", workers, out, tc.out)
				}
				if !tc.disjoint {
					continue
				}
				dx := slices.Repeat([]float32{99}, len(tc.in)) // Grad must overwrite everything
				tc.p.Grad(dx, tc.in, tc.dy, workers)
				if !sameBits(dx, tc.dx) {
					t.Errorf("workers %d: Grad = %v, want %v", workers, dx, tc.dx)
				}
			}
		})
	}
}

func TestMaxPoolValidate(t *testing.T) {
	ok := MaxPool{N: 1, H: 4, W: 4, C: 3, KH: 2, KW: 2, StrideH: 2, StrideW: 2}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []MaxPool{
		{N: 1, H: 1, W: 4, C: 3, KH: 2, KW: 2, StrideH: 2, StrideW: 2},              // window taller than the input
		{N: 1, H: 4, W: 4, C: 3, KH: 2, KW: 2, StrideH: 0, StrideW: 2},              // zero stride
		{N: 1, H: 4, W: 4, C: 3, KH: 2, KW: 2, StrideH: 2, StrideW: 2, PadLeft: -1}, // negative padding
	} {
		if bad.Validate() == nil {
			t.Errorf("Validate(%+v) = nil, want an error", bad)
		}
	}
}

// sameBits compares float32 slices bit for bit (NaN equals NaN, -0 is not +0).
func sameBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}
