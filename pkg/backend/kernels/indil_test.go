package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// dilateInput builds the input dilated by c's InDilH x InDilW explicitly,
// and the convolution without input dilation that reads it.
func dilateInput(c Conv2D, in []float32) (Conv2D, []float32) {
	d := c
	d.H, d.W, d.InDilH, d.InDilW = c.dilatedH(), c.dilatedW(), 0, 0
	out := make([]float32, d.InputSize())
	for n := range c.N {
		for h := range c.H {
			for w := range c.W {
				src := in[((n*c.H+h)*c.W+w)*c.C:][:c.C]
				copy(out[((n*d.H+h*c.inDilH())*d.W+w*c.inDilW())*c.C:], src)
			}
		}
	}
	return d, out
}

// inDilCases covers input dilations 2 and 3 with strides, kernel dilations
// (sharing a factor with the input dilation or not), kernels with fewer taps
// than phases, zero, asymmetric and negative padding, and odd channels.
func inDilCases() []Conv2D {
	cs := []Conv2D{
		// The input gradient of a stride-2 3x3 pad-1 convolution, shrunk.
		{N: 2, H: 8, W: 8, C: 32, KH: 3, KW: 3, O: 16, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 2, PadLeft: 1, PadRight: 2, InDilH: 2, InDilW: 2},
		// Input dilation 3, odd channels.
		{N: 1, H: 5, W: 6, C: 17, KH: 3, KW: 3, O: 31, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 2, InDilH: 3, InDilW: 3},
		// 1x1 kernel: phases without any tap (zero outputs).
		{N: 2, H: 4, W: 5, C: 3, KH: 1, KW: 1, O: 16, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadBottom: 1, PadRight: 1, InDilH: 2, InDilW: 2},
		// Stride equal to the input dilation: one phase, stride 1.
		{N: 1, H: 6, W: 6, C: 16, KH: 3, KW: 3, O: 16, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, InDilH: 2, InDilW: 2},
		// Stride 2 with input dilation 3: three phases of stride 2.
		{N: 1, H: 7, W: 7, C: 16, KH: 3, KW: 3, O: 16, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, InDilH: 3, InDilW: 3},
		// Kernel dilation sharing the input dilation: taps every phase or none.
		{N: 1, H: 6, W: 6, C: 16, KH: 3, KW: 3, O: 32, StrideH: 1, StrideW: 1, DilH: 2, DilW: 2, PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 2, InDilH: 2, InDilW: 2},
		// Kernel dilation 3 against input dilation 2.
		{N: 1, H: 6, W: 6, C: 16, KH: 3, KW: 3, O: 16, StrideH: 1, StrideW: 1, DilH: 3, DilW: 3, PadTop: 3, PadBottom: 3, PadLeft: 3, PadRight: 3, InDilH: 2, InDilW: 2},
		// Different dilations per axis, negative padding.
		{N: 2, H: 6, W: 5, C: 20, KH: 2, KW: 5, O: 33, StrideH: 1, StrideW: 2, DilH: 1, DilW: 1, PadTop: -1, PadBottom: 1, PadLeft: 3, PadRight: -2, InDilH: 3, InDilW: 2},
		// Input dilation on one axis only.
		{N: 1, H: 5, W: 9, C: 16, KH: 3, KW: 3, O: 16, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, InDilH: 2},
		// 1x1 input.
		{N: 3, H: 1, W: 1, C: 3, KH: 3, KW: 3, O: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 2, InDilH: 2, InDilW: 2},
	}
	r := rand.New(rand.NewPCG(23, 24))
	pick := func(v ...int) int { return v[r.IntN(len(v))] }
	for len(cs) < 50 {
		c := Conv2D{
			N: pick(1, 2), C: pick(1, 3, 16, 17, 64), O: pick(1, 16, 31, 64),
			H: 1 + r.IntN(9), W: 1 + r.IntN(9), KH: pick(1, 2, 3, 5), KW: pick(1, 2, 3, 5),
			StrideH: pick(1, 1, 2), StrideW: pick(1, 1, 2), DilH: pick(1, 1, 2), DilW: pick(1, 1, 2),
			PadTop: pick(-1, 0, 1, 2), PadBottom: pick(-1, 0, 1, 2), PadLeft: pick(-1, 0, 1, 2), PadRight: pick(-1, 0, 1, 2),
			InDilH: pick(1, 2, 3), InDilW: pick(2, 3),
		}
		if c.Validate() != nil || c.Flops() > 1e7 {
			continue
		}
		cs = append(cs, c)
	}
	return cs
}

func TestForwardInputDilation(t *testing.T) {
	type prepared struct {
		c          Conv2D
		in, packed []float32
		want       []float64
	}
	var cases []prepared
	r := rand.New(rand.NewPCG(25, 26))
	for _, c := range inDilCases() {
		in := randSlice(r, c.InputSize())
		kernel := randSlice(r, c.KH*c.KW*c.C*c.O)
		packed := make([]float32, c.PackedSize())
		packHWIO(c, packed, kernel)
		d, dilated := dilateInput(c, in)
		if d.OutH() != c.OutH() || d.OutW() != c.OutW() {
			t.Fatalf("%s: output %dx%d, of the explicitly dilated input %dx%d", caseName(c), c.OutH(), c.OutW(), d.OutH(), d.OutW())
		}
		cases = append(cases, prepared{c, in, packed, refConv2D(d, dilated, kernel)})
	}
	forEachPath(t, func(t *testing.T) {
		for i, pc := range cases {
			out := make([]float32, pc.c.OutputSize())
			for i := range out {
				out[i] = float32(math.NaN()) // Forward must overwrite every element
			}
			workers := 1 + i%3
			pc.c.Forward(out, pc.in, pc.packed, workers)
			if e := relErr(out, pc.want); !(e <= 1e-5) {
				t.Errorf("%s indil %dx%d workers=%d: relative error %.3g > 1e-5", caseName(pc.c), pc.c.InDilH, pc.c.InDilW, workers, e)
			}
		}
	})
}

// inputGradient is the plain definition of the input gradient of the
// convolution c (no input dilation), in float64: dx[n,h,w,ci] = sum of
// dy[n,oh,ow,co] * w[kh,kw,ci,co] over the taps that read (h, w).
func inputGradient(c Conv2D, dy, kernel []float32) []float64 {
	oh, ow := c.OutH(), c.OutW()
	dx := make([]float64, c.InputSize())
	for n := range c.N {
		for y := range oh {
			for x := range ow {
				g := dy[((n*oh+y)*ow+x)*c.O:][:c.O]
				for kh := range c.KH {
					h := y*c.StrideH + kh*c.DilH - c.PadTop
					if h < 0 || h >= c.H {
						continue
					}
					for kw := range c.KW {
						w := x*c.StrideW + kw*c.DilW - c.PadLeft
						if w < 0 || w >= c.W {
							continue
						}
						d := dx[((n*c.H+h)*c.W+w)*c.C:][:c.C]
						for ci := range c.C {
							k := kernel[((kh*c.KW+kw)*c.C+ci)*c.O:][:c.O]
							var s float64
							for co := range c.O {
								s += float64(g[co]) * float64(k[co])
							}
							d[ci] += s
						}
					}
				}
			}
		}
	}
	return dx
}

// gradientConv returns the convolution GoMLX runs for the input gradient of
// the strided convolution f: the output gradient dilated by the strides,
// padded so that the result has f's input size, with the spatially reversed
// kernel (input and output channels swapped). The low padding is
// DilH*(KH-1) - PadTop, as in GoMLX's convVJPWrtX; the high padding is what
// makes the output H rows. (For odd kernels; GoMLX computes the low padding
// as 2*((DilH*(KH-1)+1-1)/2) - PadTop, which differs for even ones.)
func gradientConv(f Conv2D) Conv2D {
	oh, ow := f.OutH(), f.OutW()
	g := Conv2D{N: f.N, H: oh, W: ow, C: f.O, KH: f.KH, KW: f.KW, O: f.C,
		StrideH: 1, StrideW: 1, DilH: f.DilH, DilW: f.DilW, InDilH: f.StrideH, InDilW: f.StrideW}
	g.PadTop = f.DilH*(f.KH-1) - f.PadTop
	g.PadLeft = f.DilW*(f.KW-1) - f.PadLeft
	g.PadBottom = f.H - ((oh-1)*f.StrideH + 1) - g.PadTop + f.DilH*(f.KH-1)
	g.PadRight = f.W - ((ow-1)*f.StrideW + 1) - g.PadLeft + f.DilW*(f.KW-1)
	return g
}

// TestInputGradientAsDilatedForward runs the input gradients of strided
// convolutions the way GoMLX expresses them, including the exact paddings
// it uses: (1, 2) for a stride-2 3x3 pad-1 convolution of an even size,
// (1, 1) of an odd one (9 -> 5 -> 9), (0, 1) for a 1x1 stride-2 shortcut
// and (2, 3) for a stride-2 3x3 unpadded one.
func TestInputGradientAsDilatedForward(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	for _, tc := range []struct {
		f          Conv2D
		padH, padW [2]int
	}{
		{f: Conv2D{N: 2, H: 32, W: 32, C: 16, KH: 3, KW: 3, O: 32, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
			padH: [2]int{1, 2}, padW: [2]int{1, 2}},
		{f: Conv2D{N: 2, H: 9, W: 9, C: 17, KH: 3, KW: 3, O: 20, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
			padH: [2]int{1, 1}, padW: [2]int{1, 1}},
		{f: Conv2D{N: 2, H: 8, W: 8, C: 64, KH: 1, KW: 1, O: 128, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1},
			padH: [2]int{0, 1}, padW: [2]int{0, 1}},
		{f: Conv2D{N: 1, H: 32, W: 32, C: 16, KH: 3, KW: 3, O: 16, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1},
			padH: [2]int{2, 3}, padW: [2]int{2, 3}},
		// Odd width, stride 2 rows only, asymmetric pad.
		{f: Conv2D{N: 1, H: 10, W: 7, C: 16, KH: 3, KW: 3, O: 16, StrideH: 2, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 0, PadLeft: 1, PadRight: 1},
			padH: [2]int{1, 2}, padW: [2]int{1, 1}},
		// Large high padding: GoMLX's gradient then has a negative one.
		{f: Conv2D{N: 1, H: 6, W: 6, C: 16, KH: 3, KW: 3, O: 16, StrideH: 1, StrideW: 2, DilH: 1, DilW: 1, PadTop: 0, PadBottom: 3, PadLeft: 0, PadRight: 3},
			padH: [2]int{2, -1}, padW: [2]int{2, -1}},
	} {
		f := tc.f
		t.Run(caseName(f), func(t *testing.T) {
			g := gradientConv(f)
			if got := ([2]int{g.PadTop, g.PadBottom}); got != tc.padH {
				t.Errorf("row padding %v, want %v", got, tc.padH)
			}
			if got := ([2]int{g.PadLeft, g.PadRight}); got != tc.padW {
				t.Errorf("column padding %v, want %v", got, tc.padW)
			}
			if err := g.Validate(); err != nil {
				t.Fatal(err)
			}
			if g.OutH() != f.H || g.OutW() != f.W {
				t.Fatalf("gradient output %dx%d, want %dx%d", g.OutH(), g.OutW(), f.H, f.W)
			}
			kernel := randSlice(r, f.KH*f.KW*f.C*f.O)
			dy := randSlice(r, f.OutputSize())
			want := inputGradient(f, dy, kernel)
			// The reversed kernel, packed straight from the forward kernel's
			// HWIO data: tap (kh, kw) of g is tap (KH-1-kh, KW-1-kw) of f,
			// g's input channels are f's output channels.
			packed := make([]float32, g.PackedSize())
			rev := make([]float32, len(kernel))
			for kh := range f.KH {
				for kw := range f.KW {
					for ci := range f.C {
						for co := range f.O {
							rev[(((f.KH-1-kh)*f.KW+f.KW-1-kw)*f.O+co)*f.C+ci] = kernel[((kh*f.KW+kw)*f.C+ci)*f.O+co]
						}
					}
				}
			}
			packHWIO(g, packed, rev)
			// Flops: the forward's multiply-adds on input pixels.
			th, tw := 0, 0
			for y := range f.OutH() {
				for kh := range f.KH {
					if h := y*f.StrideH + kh*f.DilH - f.PadTop; h >= 0 && h < f.H {
						th++
					}
				}
			}
			for x := range f.OutW() {
				for kw := range f.KW {
					if w := x*f.StrideW + kw*f.DilW - f.PadLeft; w >= 0 && w < f.W {
						tw++
					}
				}
			}
			real := 2 * float64(f.N*f.C*f.O*th*tw)
			if g.Flops() != real {
				t.Errorf("gradient Flops %g, want the forward's multiply-adds on input pixels, %g", g.Flops(), real)
			}
			forEachPath(t, func(t *testing.T) {
				for _, workers := range []int{1, 2} {
					dx := make([]float32, g.OutputSize())
					g.Forward(dx, dy, packed, workers)
					if e := relErr(dx, want); !(e <= 1e-5) {
						t.Errorf("workers=%d: relative error %.3g > 1e-5", workers, e)
					}
				}
			})
		})
	}
}

func TestDimPhases(t *testing.T) {
	// Every (output, tap) pair on the lattice is in exactly one phase, with
	// the right undilated input index.
	for _, tc := range [][6]int{
		// out, kernel, dil, stride, pad, inDil
		{32, 3, 1, 1, 1, 2}, {9, 3, 1, 1, 1, 2}, {10, 5, 2, 1, 3, 2}, {11, 3, 3, 2, -1, 3}, {7, 1, 1, 1, 0, 3}, {12, 4, 2, 3, 2, 4},
	} {
		out, kernel, dil, stride, pad, inDil := tc[0], tc[1], tc[2], tc[3], tc[4], tc[5]
		seen := map[[2]int]int{}
		for _, p := range dimPhases(out, kernel, dil, stride, pad, inDil) {
			for m := range p.n {
				for j := range p.k {
					o, k := p.off+m*p.mul, p.k0+j*p.kStep
					i := o*stride + k*dil - pad
					if mod(i, inDil) != 0 || floorDiv(i, inDil) != m*p.stride+j*p.dil-p.pad {
						t.Errorf("%v: phase %+v: output %d tap %d reads dilated %d, phase says %d", tc, p, o, k, i, m*p.stride+j*p.dil-p.pad)
					}
					seen[[2]int{o, k}]++
				}
			}
		}
		for o := range out {
			for k := range kernel {
				want := 0
				if mod(o*stride+k*dil-pad, inDil) == 0 {
					want = 1
				}
				if got := seen[[2]int{o, k}]; got != want {
					t.Errorf("%v: output %d tap %d in %d phases, want %d", tc, o, k, got, want)
				}
			}
		}
	}
}
