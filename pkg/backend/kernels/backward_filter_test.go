package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refBackwardFilter is the plain definition of the kernel gradient,
// accumulated in float64, for any input dilation (HWIO result).
func refBackwardFilter(c Conv2D, in, dy []float32) []float64 {
	oh, ow := c.OutH(), c.OutW()
	dw := make([]float64, c.KH*c.KW*c.C*c.O)
	for n := range c.N {
		for y := range oh {
			for x := range ow {
				g := dy[((n*oh+y)*ow+x)*c.O:][:c.O]
				for kh := range c.KH {
					h, ok := undilate(y*c.StrideH+kh*c.DilH-c.PadTop, c.InDilH, c.H)
					if !ok {
						continue
					}
					for kw := range c.KW {
						w, ok := undilate(x*c.StrideW+kw*c.DilW-c.PadLeft, c.InDilW, c.W)
						if !ok {
							continue
						}
						for ci := range c.C {
							v := float64(in[((n*c.H+h)*c.W+w)*c.C+ci])
							d := dw[((kh*c.KW+kw)*c.C+ci)*c.O:][:c.O]
							for co := range c.O {
								d[co] += v * float64(g[co])
							}
						}
					}
				}
			}
		}
	}
	return dw
}

// filterCases covers the values BackwardFilter special-cases: input
// channels below, at and above a 16-block (tiles of every height), output
// channels with 1-, 15- and 16-lane tails, strides, dilations, zero,
// symmetric, asymmetric and negative padding, 1x1 to 5x5 kernels, batches
// of 1 and 3, and chunks of rows and of several images.
func filterCases() []Conv2D {
	cs := []Conv2D{
		// The benchmark shape, shrunk.
		{N: 1, H: 8, W: 8, C: 64, KH: 3, KW: 3, O: 64, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		// Stride 2, 3x3, pad 1: the ResNet downsampling shape, shrunk.
		{N: 3, H: 10, W: 10, C: 16, KH: 3, KW: 3, O: 32, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		// 1x1 stride 2: the shortcut.
		{N: 3, H: 8, W: 8, C: 17, KH: 1, KW: 1, O: 31, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1},
		// 1x1 input and kernel, one channel each.
		{N: 1, H: 1, W: 1, C: 1, KH: 1, KW: 1, O: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1},
		// Asymmetric padding with stride 2.
		{N: 3, H: 12, W: 11, C: 3, KH: 3, KW: 3, O: 16, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadBottom: 1, PadLeft: 1},
		// Dilation 2, 5x5, odd channels.
		{N: 1, H: 12, W: 12, C: 17, KH: 5, KW: 5, O: 31, StrideH: 1, StrideW: 1, DilH: 2, DilW: 2, PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 2},
		// 130 = 8 blocks + 2 input channels, 64 output channels.
		{N: 1, H: 6, W: 6, C: 130, KH: 3, KW: 3, O: 64, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		// Kernel as large as the padded input.
		{N: 3, H: 3, W: 3, C: 16, KH: 5, KW: 5, O: 17, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		// Padding larger than the kernel's reach: taps that never see input.
		{N: 1, H: 2, W: 4, C: 3, KH: 1, KW: 1, O: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 2, PadBottom: 1, PadLeft: 3, PadRight: 0},
		// Mixed strides and dilations per axis, stride 3 rows.
		{N: 1, H: 11, W: 12, C: 16, KH: 3, KW: 5, O: 33, StrideH: 3, StrideW: 1, DilH: 1, DilW: 2, PadTop: 0, PadBottom: 1, PadLeft: 1, PadRight: 0},
		// Negative padding (cropping).
		{N: 2, H: 9, W: 8, C: 5, KH: 3, KW: 2, O: 16, StrideH: 1, StrideW: 2, DilH: 1, DilW: 1, PadTop: -1, PadBottom: 2, PadLeft: -2, PadRight: 1},
		// Input dilation (correct, not fast).
		{N: 2, H: 5, W: 4, C: 16, KH: 3, KW: 3, O: 16, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 2, PadLeft: 1, PadRight: 2, InDilH: 2, InDilW: 3},
		// Small images: chunks of several images.
		{N: 9, H: 4, W: 4, C: 64, KH: 3, KW: 3, O: 64, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		// Wide rows: chunks of rows.
		{N: 1, H: 5, W: 130, C: 16, KH: 3, KW: 3, O: 16, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
	}
	// Random combinations of the values listed in the task.
	r := rand.New(rand.NewPCG(11, 12))
	pick := func(v ...int) int { return v[r.IntN(len(v))] }
	for len(cs) < 70 {
		k := pick(1, 3, 5)
		c := Conv2D{
			N: pick(1, 3), C: pick(1, 3, 16, 17, 64, 130), O: pick(1, 16, 31, 64),
			H: 1 + r.IntN(12), W: 1 + r.IntN(12), KH: k, KW: k,
			StrideH: pick(1, 2), DilH: pick(1, 1, 2),
		}
		c.StrideW, c.DilW = c.StrideH, c.DilH
		switch r.IntN(3) {
		case 0:
		case 1:
			p := (k - 1) / 2 * c.DilH
			c.PadTop, c.PadBottom, c.PadLeft, c.PadRight = p, p, p, p
		case 2:
			c.PadTop, c.PadBottom, c.PadLeft, c.PadRight = 0, 1, 1, 0
		}
		if c.Validate() != nil || c.Flops() > 2e7 {
			continue
		}
		cs = append(cs, c)
	}
	return cs
}

func TestBackwardFilterMatchesReference(t *testing.T) {
	type prepared struct {
		c       Conv2D
		in, dy  []float32
		want    []float64
		workers int
	}
	var cases []prepared
	r := rand.New(rand.NewPCG(13, 14))
	for i, c := range filterCases() {
		in := randSlice(r, c.InputSize())
		dy := randSlice(r, c.OutputSize())
		cases = append(cases, prepared{c, in, dy, refBackwardFilter(c, in, dy), 1 + i%3})
	}
	forEachPath(t, func(t *testing.T) {
		for _, pc := range cases {
			dw := make([]float32, pc.c.KH*pc.c.KW*pc.c.C*pc.c.O)
			for i := range dw {
				dw[i] = float32(math.NaN()) // BackwardFilter must overwrite every element
			}
			pc.c.BackwardFilter(dw, pc.in, pc.dy, pc.workers)
			if e := relErr(dw, pc.want); !(e <= 1e-5) {
				t.Errorf("%s indil %dx%d workers=%d: relative error %.3g > 1e-5", caseName(pc.c), pc.c.InDilH, pc.c.InDilW, pc.workers, e)
			}
		}
	})
}

// TestBackwardFilterSplits checks both ways of splitting the work, on every
// path, with several worker counts, including the per-goroutine copies of
// padded sums (O not a multiple of 16) and groups.
func TestBackwardFilterSplits(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, c := range []Conv2D{
		// Many pixels, small dw: split by pixels.
		{N: 4, H: 16, W: 16, C: 32, KH: 3, KW: 3, O: 40, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		// Few pixels, large dw: split by groups.
		{N: 2, H: 2, W: 2, C: 130, KH: 3, KW: 3, O: 200, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		{N: 3, H: 3, W: 3, C: 64, KH: 3, KW: 3, O: 128, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
	} {
		in := randSlice(r, c.InputSize())
		dy := randSlice(r, c.OutputSize())
		want := refBackwardFilter(c, in, dy)
		forEachPath(t, func(t *testing.T) {
			for _, workers := range []int{1, 2, 3, 5} {
				p := c.planFilter(workers)
				dw := make([]float32, len(want))
				c.BackwardFilter(dw, in, dy, workers)
				if e := relErr(dw, want); !(e <= 1e-5) {
					t.Errorf("%s workers=%d (by pixels %v, %d groups): relative error %.3g > 1e-5",
						caseName(c), workers, p.byPixels, len(p.groups), e)
				}
			}
		})
	}
	for _, tc := range []struct {
		c        Conv2D
		byPixels bool
	}{
		// ResNet-18's first stage (many pixels, small dw) and last stage
		// (few pixels, large dw) with batch 32 on 2 cores.
		{Conv2D{N: 32, H: 32, W: 32, C: 64, KH: 3, KW: 3, O: 64, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1,
			PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}, true},
		{Conv2D{N: 32, H: 4, W: 4, C: 512, KH: 3, KW: 3, O: 512, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1,
			PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}, false},
	} {
		if p := tc.c.planFilter(2); p.byPixels != tc.byPixels {
			t.Errorf("%s: split by pixels %v, want %v", caseName(tc.c), p.byPixels, tc.byPixels)
		}
	}
}

// TestFilterPlanCached: BackwardFilter plans a convolution once per
// goroutine count and reuses that plan, the same as planning afresh.
func TestFilterPlanCached(t *testing.T) {
	c := Conv2D{N: 3, H: 5, W: 5, C: 24, KH: 3, KW: 3, O: 40, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1,
		PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	first := c.cachedPlanFilter(2)
	if again := c.cachedPlanFilter(2); again != first {
		t.Error("the second call planned again")
	}
	if other := c.cachedPlanFilter(3); other == first {
		t.Error("3 goroutines got the plan made for 2")
	}
	d := c
	d.O = 41
	if other := d.cachedPlanFilter(2); other == first || other.op == first.op && other.O == first.O {
		t.Error("another convolution got the cached plan")
	}
	fresh := c.planFilter(2)
	if fresh.byPixels != first.byPixels || len(fresh.groups) != len(first.groups) || fresh.nb != first.nb || fresh.rows != first.rows {
		t.Errorf("cached plan %+v differs from a fresh one %+v", *first, *fresh)
	}
}

// TestBackwardFilterLarge checks float32 accumulation over the benchmark
// shape's 32768 pixels per tap against the float64 reference.
func TestBackwardFilterLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large case")
	}
	c := Conv2D{N: 32, H: 32, W: 32, C: 64, KH: 3, KW: 3, O: 64,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	r := rand.New(rand.NewPCG(17, 18))
	in := randSlice(r, c.InputSize())
	dy := randSlice(r, c.OutputSize())
	want := refBackwardFilter(c, in, dy)
	forEachPath(t, func(t *testing.T) {
		dw := make([]float32, len(want))
		c.BackwardFilter(dw, in, dy, 2)
		e := relErr(dw, want)
		if !(e <= 1e-5) {
			t.Errorf("relative error %.3g > 1e-5", e)
		}
		t.Logf("relative error %.3g", e)
	})
}

// TestBackwardFilterIsForwardTransposed checks the identity that defines the
// kernel gradient: for any kernel v, sum(dw * v) = sum(dy * Forward(in, v)),
// both sides being the same sum of products.
func TestBackwardFilterIsForwardTransposed(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	for _, c := range []Conv2D{
		{N: 2, H: 9, W: 7, C: 20, KH: 3, KW: 3, O: 24, StrideH: 2, StrideW: 1, DilH: 1, DilW: 2, PadTop: 1, PadBottom: 0, PadLeft: 2, PadRight: 1},
		{N: 3, H: 6, W: 6, C: 7, KH: 1, KW: 1, O: 33, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1},
	} {
		in := randSlice(r, c.InputSize())
		dy := randSlice(r, c.OutputSize())
		v := randSlice(r, c.KH*c.KW*c.C*c.O)
		packed := make([]float32, c.PackedSize())
		packHWIO(c, packed, v)
		forEachPath(t, func(t *testing.T) {
			dw := make([]float32, len(v))
			c.BackwardFilter(dw, in, dy, 2)
			out := make([]float32, c.OutputSize())
			c.Forward(out, in, packed, 2)
			var lhs, rhs, scale float64
			for i := range dw {
				lhs += float64(dw[i]) * float64(v[i])
				scale += math.Abs(float64(dw[i]) * float64(v[i]))
			}
			for i := range out {
				rhs += float64(dy[i]) * float64(out[i])
			}
			if d := math.Abs(lhs-rhs) / scale; !(d <= 1e-5) {
				t.Errorf("%s: <dw, v> = %g, <dy, conv(in, v)> = %g: relative difference %.3g", caseName(c), lhs, rhs, d)
			}
		})
	}
}

// TestEveryFilterKernel runs every weight-gradient micro-kernel of every
// path: C = 16+rows gives a block of full tiles and one of rows rows, O = 48
// a 32- and a 16-wide block, and 21 pixels a tail step.
func TestEveryFilterKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	forEachPath(t, func(t *testing.T) {
		ks := current.Load()
		for rows := 1; rows <= max(len(ks.filter16), len(ks.filter32)); rows++ {
			c := Conv2D{N: 1, H: 3, W: 7, C: 16 + rows, KH: 2, KW: 2, O: 48, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1,
				PadBottom: 1, PadRight: 1}
			in := randSlice(r, c.InputSize())
			dy := randSlice(r, c.OutputSize())
			dw := make([]float32, c.KH*c.KW*c.C*c.O)
			c.BackwardFilter(dw, in, dy, 1)
			if e := relErr(dw, refBackwardFilter(c, in, dy)); !(e <= 1e-5) {
				t.Errorf("rows=%d: relative error %.3g > 1e-5", rows, e)
			}
		}
	})
}

func TestBackwardFilterPanicsOnShortSlices(t *testing.T) {
	c := Conv2D{N: 1, H: 4, W: 4, C: 3, KH: 3, KW: 3, O: 8, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1}
	nw := c.KH * c.KW * c.C * c.O
	for name, f := range map[string]func(){
		"short input": func() {
			c.BackwardFilter(make([]float32, nw), make([]float32, c.InputSize()-1), make([]float32, c.OutputSize()), 1)
		},
		"short output gradient": func() {
			c.BackwardFilter(make([]float32, nw), make([]float32, c.InputSize()), make([]float32, c.OutputSize()-1), 1)
		},
		"short kernel gradient": func() {
			c.BackwardFilter(make([]float32, nw-1), make([]float32, c.InputSize()), make([]float32, c.OutputSize()), 1)
		},
		"invalid": func() {
			d := c
			d.StrideH = 0
			d.BackwardFilter(make([]float32, nw), make([]float32, c.InputSize()), make([]float32, c.OutputSize()), 1)
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: BackwardFilter did not panic", name)
				}
			}()
			f()
		}()
	}
}
