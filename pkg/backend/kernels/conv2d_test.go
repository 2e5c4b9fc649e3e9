package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// undilate maps index i of an input of size n dilated by dil (0 meaning 1)
// to the input index it holds; ok is false for an inserted zero or outside
// the input.
func undilate(i, dil, n int) (j int, ok bool) {
	dil = max(1, dil)
	if i < 0 || i > (n-1)*dil || i%dil != 0 {
		return 0, false
	}
	return i / dil, true
}

// refConv2D is the plain definition of the convolution, accumulated in
// float64, with an HWIO kernel, for any input dilation.
func refConv2D(c Conv2D, in, kernel []float32) []float64 {
	oh, ow := c.OutH(), c.OutW()
	out := make([]float64, c.N*oh*ow*c.O)
	for n := range c.N {
		for y := range oh {
			for x := range ow {
				o := out[((n*oh+y)*ow+x)*c.O:][:c.O]
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
							k := kernel[((kh*c.KW+kw)*c.C+ci)*c.O:][:c.O]
							for co := range c.O {
								o[co] += v * float64(k[co])
							}
						}
					}
				}
			}
		}
	}
	return out
}

// packHWIO packs an HWIO kernel.
func packHWIO(c Conv2D, dst, kernel []float32) {
	c.PackWeights(dst, kernel, c.KW*c.C*c.O, c.C*c.O, c.O, 1, 1)
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// forEachPath runs f once per path this binary and CPU support, restoring
// the original path afterwards.
func forEachPath(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	orig := Path()
	t.Cleanup(func() {
		if err := SetPath(orig); err != nil {
			t.Fatal(err)
		}
	})
	for _, name := range Paths() {
		if err := SetPath(name); err != nil {
			t.Fatal(err)
		}
		t.Run(name, f)
	}
}

// convCases covers every value the kernels special-case: channel counts
// below, at and above the 16-channel block, output-channel tails of 1, 15
// and 16 lanes, strides, dilation, asymmetric and zero padding, 1x1 kernels
// (including the flattened fast case), and images down to 1x1.
func convCases() []Conv2D {
	cs := []Conv2D{
		// The benchmark shape, shrunk.
		{N: 1, H: 8, W: 8, C: 64, KH: 3, KW: 3, O: 64, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		// 1x1 input, 1x1 kernel, one channel each.
		{N: 1, H: 1, W: 1, C: 1, KH: 1, KW: 1, O: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1},
		// 1x1 stride 1 unpadded: the flattened path.
		{N: 3, H: 7, W: 5, C: 33, KH: 1, KW: 1, O: 31, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1},
		// 1x1 stride 2.
		{N: 1, H: 9, W: 9, C: 17, KH: 1, KW: 1, O: 16, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1},
		// Asymmetric padding (0,1,1,0) with stride 2.
		{N: 3, H: 12, W: 11, C: 3, KH: 3, KW: 3, O: 16, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadBottom: 1, PadLeft: 1},
		// Dilation 2, 5x5, odd channels.
		{N: 1, H: 12, W: 12, C: 17, KH: 5, KW: 5, O: 31, StrideH: 1, StrideW: 1, DilH: 2, DilW: 2, PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 2},
		// Wide channels, 130 = 8 blocks + 2.
		{N: 1, H: 6, W: 6, C: 130, KH: 3, KW: 3, O: 64, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		// Kernel as large as the padded input: a single output pixel.
		{N: 3, H: 3, W: 3, C: 16, KH: 5, KW: 5, O: 17, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		// Padding larger than the dilated reach: some output rows see only padding.
		{N: 1, H: 2, W: 4, C: 3, KH: 1, KW: 1, O: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 2, PadBottom: 1, PadLeft: 3, PadRight: 0},
		// Mixed strides and dilations per axis.
		{N: 1, H: 11, W: 12, C: 16, KH: 3, KW: 5, O: 33, StrideH: 2, StrideW: 1, DilH: 1, DilW: 2, PadTop: 0, PadBottom: 1, PadLeft: 1, PadRight: 0},
		// Negative padding (cropping).
		{N: 2, H: 9, W: 8, C: 5, KH: 3, KW: 2, O: 16, StrideH: 1, StrideW: 2, DilH: 1, DilW: 1, PadTop: -1, PadBottom: 2, PadLeft: -2, PadRight: 1},
		// Wide row: several tiles of different widths.
		{N: 1, H: 2, W: 23, C: 16, KH: 3, KW: 3, O: 32, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
	}
	// Random combinations of the values listed in the task.
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(v ...int) int { return v[r.IntN(len(v))] }
	for len(cs) < 60 {
		k := pick(1, 3, 5)
		c := Conv2D{
			N: pick(1, 3), C: pick(1, 3, 16, 17, 33, 64, 130), O: pick(1, 16, 31, 64),
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

func caseName(c Conv2D) string {
	return fmt.Sprintf("N%dH%dW%dC%d_K%dx%dO%d_s%dx%d_d%dx%d_p%d%d%d%d",
		c.N, c.H, c.W, c.C, c.KH, c.KW, c.O, c.StrideH, c.StrideW, c.DilH, c.DilW,
		c.PadTop, c.PadBottom, c.PadLeft, c.PadRight)
}

// relErr returns max|got-want| / max|want|.
func relErr(got []float32, want []float64) float64 {
	var maxDiff, maxRef float64
	for i, w := range want {
		maxDiff = max(maxDiff, math.Abs(float64(got[i])-w))
		maxRef = max(maxRef, math.Abs(w))
	}
	if maxRef == 0 {
		return maxDiff
	}
	return maxDiff / maxRef
}

func TestForwardMatchesReference(t *testing.T) {
	type prepared struct {
		c              Conv2D
		in, packed     []float32
		want           []float64
		workersToCheck []int
	}
	var cases []prepared
	r := rand.New(rand.NewPCG(3, 4))
	for i, c := range convCases() {
		in := randSlice(r, c.InputSize())
		kernel := randSlice(r, c.KH*c.KW*c.C*c.O)
		packed := make([]float32, c.PackedSize())
		packHWIO(c, packed, kernel)
		workers := []int{1 + i%3}
		cases = append(cases, prepared{c, in, packed, refConv2D(c, in, kernel), workers})
	}
	forEachPath(t, func(t *testing.T) {
		for _, pc := range cases {
			for _, workers := range pc.workersToCheck {
				out := make([]float32, pc.c.OutputSize())
				for i := range out {
					out[i] = float32(math.NaN()) // Forward must overwrite every element
				}
				pc.c.Forward(out, pc.in, pc.packed, workers)
				if e := relErr(out, pc.want); !(e <= 1e-5) {
					t.Errorf("%s workers=%d: relative error %.3g > 1e-5", caseName(pc.c), workers, e)
				}
			}
		}
	})
}

// TestForwardWorkerSplits checks the splits of a small batch over many
// workers (row chunks with halos) and of rows too wide for one item.
func TestForwardWorkerSplits(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		c       Conv2D
		workers int
	}{
		{Conv2D{N: 1, H: 13, W: 9, C: 16, KH: 3, KW: 3, O: 32, StrideH: 1, StrideW: 1, DilH: 2, DilW: 1, PadTop: 2, PadBottom: 2, PadLeft: 1, PadRight: 1}, 3},
		{Conv2D{N: 2, H: 9, W: 9, C: 20, KH: 3, KW: 3, O: 16, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}, 7},
		// Rows of 4*512*(120/2+1)... floats: more than packBudget allows per item.
		{Conv2D{N: 1, H: 6, W: 600, C: 512, KH: 3, KW: 1, O: 16, StrideH: 1, StrideW: 2, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1}, 2},
		// Weights of more than chunkBytes per kernel call: the calls in
		// chunks (the last block 16 wide, 6 channels of it real), each over
		// every row of the item.
		{Conv2D{N: 2, H: 4, W: 5, C: 250, KH: 3, KW: 3, O: 70, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}, 2},
	} {
		c := tc.c
		in := randSlice(r, c.InputSize())
		kernel := randSlice(r, c.KH*c.KW*c.C*c.O)
		packed := make([]float32, c.PackedSize())
		packHWIO(c, packed, kernel)
		want := refConv2D(c, in, kernel)
		if set := c.plainSet(); tc.workers == 2 && c.W == 600 && set.rowsPerItem(2) >= set.oh {
			t.Errorf("%s: expected the packing budget to split the rows", caseName(c))
		}
		if g, ks := c.plainSet().phases[0], current.Load(); c.C == 250 && ks != nil && g.callsPerChunk(ks) >= len(g.calls(ks)) {
			t.Errorf("%s: expected the kernel calls in chunks (%d per chunk of %d)", caseName(c), g.callsPerChunk(ks), len(g.calls(ks)))
		}
		forEachPath(t, func(t *testing.T) {
			out := make([]float32, c.OutputSize())
			c.Forward(out, in, packed, tc.workers)
			if e := relErr(out, want); !(e <= 1e-5) {
				t.Errorf("%s workers=%d: relative error %.3g > 1e-5", caseName(c), tc.workers, e)
			}
		})
	}
}

func TestPackWeightsLayouts(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, c := range []Conv2D{
		{KH: 3, KW: 3, C: 17, O: 31},
		{KH: 1, KW: 5, C: 3, O: 64},
		{KH: 2, KW: 1, C: 33, O: 16},
	} {
		hwio := randSlice(r, c.KH*c.KW*c.C*c.O)
		// The same kernel transposed to OIHW and to HWOI, and flipped along
		// kh and kw (read back with negative strides).
		oihw := make([]float32, len(hwio))
		hwoi := make([]float32, len(hwio))
		flipped := make([]float32, len(hwio))
		for kh := range c.KH {
			for kw := range c.KW {
				for ci := range c.C {
					for co := range c.O {
						v := hwio[((kh*c.KW+kw)*c.C+ci)*c.O+co]
						oihw[((co*c.C+ci)*c.KH+kh)*c.KW+kw] = v
						hwoi[((kh*c.KW+kw)*c.O+co)*c.C+ci] = v
						flipped[(((c.KH-1-kh)*c.KW+c.KW-1-kw)*c.C+ci)*c.O+co] = v
					}
				}
			}
		}
		a := make([]float32, c.PackedSize())
		b := make([]float32, c.PackedSize())
		d := make([]float32, c.PackedSize())
		f := make([]float32, c.PackedSize())
		packHWIO(c, a, hwio)
		c.PackWeights(b, oihw, c.KW, 1, c.KH*c.KW, c.C*c.KH*c.KW, 2)
		c.PackWeights(d, hwoi, c.KW*c.O*c.C, c.O*c.C, 1, c.C, 3)
		c.PackWeights(f, flipped, -c.KW*c.C*c.O, -c.C*c.O, c.O, 1, 1)
		for i := range a {
			if a[i] != b[i] || a[i] != d[i] || a[i] != f[i] {
				t.Fatalf("K%dx%d C%d O%d: packed[%d] HWIO %v, OIHW %v, HWOI %v, flipped HWIO %v", c.KH, c.KW, c.C, c.O, i, a[i], b[i], d[i], f[i])
			}
		}
	}
}

func TestValidate(t *testing.T) {
	good := Conv2D{N: 1, H: 4, W: 4, C: 3, KH: 3, KW: 3, O: 8, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid shape rejected: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Conv2D)
		want string
	}{
		{"zero batch", func(c *Conv2D) { c.N = 0 }, "N = 0"},
		{"negative height", func(c *Conv2D) { c.H = -2 }, "H = -2"},
		{"zero channels", func(c *Conv2D) { c.C = 0 }, "C = 0"},
		{"zero outputs", func(c *Conv2D) { c.O = 0 }, "O = 0"},
		{"zero stride", func(c *Conv2D) { c.StrideW = 0 }, "StrideW = 0"},
		{"zero dilation", func(c *Conv2D) { c.DilH = 0 }, "DilH = 0"},
		{"negative input dilation", func(c *Conv2D) { c.InDilW = -1 }, "input dilation"},
		{"cropped to nothing", func(c *Conv2D) { c.PadLeft = -2 }, "output width"},
		{"kernel taller than input", func(c *Conv2D) { c.KH = 5 }, "output height"},
		{"dilated kernel wider than input", func(c *Conv2D) { c.DilW = 2 }, "output width"},
	} {
		c := good
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
	// Output sizes: the standard formula, 0 when the kernel does not fit.
	c := good
	c.H, c.KH, c.PadTop, c.PadBottom, c.StrideH = 32, 3, 1, 1, 2
	if got := c.OutH(); got != 16 {
		t.Errorf("OutH = %d, want 16", got)
	}
	c.H, c.KH, c.PadTop, c.PadBottom = 2, 4, 0, 1
	if got := c.OutH(); got != 0 {
		t.Errorf("OutH with a kernel taller than the padded input = %d, want 0", got)
	}
	// Input dilation: the input gradient of a stride-2 3x3 pad-1
	// convolution of a 32-row input has a 16-row output gradient dilated by
	// 2 (31 rows), padded (1, 2): 32 rows again.
	c = good
	c.H, c.KH, c.StrideH, c.PadTop, c.PadBottom, c.InDilH = 16, 3, 1, 1, 2, 2
	if got := c.OutH(); got != 32 {
		t.Errorf("OutH with input dilation = %d, want 32", got)
	}
	// Negative padding crops.
	c = good
	c.W, c.KW, c.PadLeft, c.PadRight = 10, 3, -2, -1
	if got := c.OutW(); got != 5 {
		t.Errorf("OutW with cropping = %d, want 5", got)
	}
	// InDil 0 and 1 are the same.
	c = good
	d := c
	d.InDilH, d.InDilW = 1, 1
	if c.OutH() != d.OutH() || c.OutW() != d.OutW() || c.Flops() != d.Flops() {
		t.Errorf("InDil 0 and 1 differ")
	}
}

func TestFlops(t *testing.T) {
	fwd := Conv2D{N: 2, H: 32, W: 32, C: 64, KH: 3, KW: 3, O: 128, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1,
		PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	if got, want := fwd.Flops(), 2.0*2*16*16*128*64*9; got != want {
		t.Errorf("Flops = %g, want %g", got, want)
	}
	// The input gradient of fwd counts fwd's taps on input pixels: 47 of
	// the 48 (output row, kernel row) pairs per axis, all but the top
	// padding row.
	bwd := Conv2D{N: 2, H: 16, W: 16, C: 128, KH: 3, KW: 3, O: 64, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1,
		PadTop: 1, PadBottom: 2, PadLeft: 1, PadRight: 2, InDilH: 2, InDilW: 2}
	if bwd.OutH() != 32 || bwd.OutW() != 32 {
		t.Fatalf("input gradient output %dx%d, want 32x32", bwd.OutH(), bwd.OutW())
	}
	if got, want := bwd.Flops(), 2.0*2*128*64*47*47; got != want {
		t.Errorf("input-gradient Flops = %g, want %g", got, want)
	}
	// Brute force over the explicitly dilated input.
	for _, c := range []Conv2D{bwd,
		{N: 1, H: 5, W: 7, C: 3, KH: 4, KW: 2, O: 5, StrideH: 2, StrideW: 3, DilH: 3, DilW: 1, PadTop: -1, PadBottom: 4, PadLeft: 2, PadRight: 0, InDilH: 3, InDilW: 2},
	} {
		th, tw := 0, 0
		for y := range c.OutH() {
			for kh := range c.KH {
				if _, ok := undilate(y*c.StrideH+kh*c.DilH-c.PadTop, c.InDilH, c.H); ok {
					th++
				}
			}
		}
		for x := range c.OutW() {
			for kw := range c.KW {
				if _, ok := undilate(x*c.StrideW+kw*c.DilW-c.PadLeft, c.InDilW, c.W); ok {
					tw++
				}
			}
		}
		if got, want := c.Flops(), 2*float64(c.N*c.C*c.O*th*tw); got != want {
			t.Errorf("%s: Flops = %g, want %g", caseName(c), got, want)
		}
	}
}

func TestForwardPanicsOnShortSlices(t *testing.T) {
	c := Conv2D{N: 1, H: 4, W: 4, C: 3, KH: 3, KW: 3, O: 8, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1}
	packed := make([]float32, c.PackedSize())
	for name, f := range map[string]func(){
		"short input":   func() { c.Forward(make([]float32, c.OutputSize()), make([]float32, c.InputSize()-1), packed, 1) },
		"short output":  func() { c.Forward(make([]float32, c.OutputSize()-1), make([]float32, c.InputSize()), packed, 1) },
		"short weights": func() { c.Forward(make([]float32, c.OutputSize()), make([]float32, c.InputSize()), packed[1:], 1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Forward did not panic", name)
				}
			}()
			f()
		}()
	}
}

func TestSetPath(t *testing.T) {
	orig := Path()
	defer func() { _ = SetPath(orig) }()
	if err := SetPath("bogus"); err == nil || !strings.Contains(err.Error(), "unknown path") {
		t.Errorf("SetPath(bogus) = %v, want an unknown-path error", err)
	}
	if Path() != orig {
		t.Errorf("a failed SetPath changed the path to %q", Path())
	}
	avail := Paths()
	if avail[len(avail)-1] != "generic" {
		t.Errorf("Paths() = %v, want generic last", avail)
	}
	for _, name := range []string{"avx512", "avx2", "generic"} {
		err := SetPath(name)
		switch {
		case err == nil && Path() != name:
			t.Errorf("SetPath(%q) succeeded but Path() = %q", name, Path())
		case err != nil && !strings.Contains(err.Error(), "not available"):
			t.Errorf("SetPath(%q) = %v, want nil or a not-available error", name, err)
		}
	}
	if err := SetPath("auto"); err != nil || Path() != avail[0] {
		t.Errorf("SetPath(auto) = %v, path %q; want the best path %q", err, Path(), avail[0])
	}
	t.Logf("paths on this machine: %v; MLSYSREP_KERNELS error: %v", avail, EnvError())
}

// TestEveryTileKernel runs every micro-kernel of every path: a row of W = P
// output pixels is one tile of width P. O = 48 is a 32- and a 16-wide
// output block (tiles up to the 32-wide table's width); O = 16 and O = 5 are
// one 16-wide block alone, whose table may be wider.
func TestEveryTileKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	forEachPath(t, func(t *testing.T) {
		ks := current.Load()
		for _, o := range []int{48, 16, 5} {
			maxP := len(ks.tiles32)
			if o <= 16 {
				maxP = len(ks.tiles16)
			}
			for p := 1; p <= maxP; p++ {
				c := Conv2D{N: 1, H: 2, W: p, C: 20, KH: 3, KW: 3, O: o, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1,
					PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
				in := randSlice(r, c.InputSize())
				kernel := randSlice(r, c.KH*c.KW*c.C*c.O)
				packed := make([]float32, c.PackedSize())
				packHWIO(c, packed, kernel)
				out := make([]float32, c.OutputSize())
				c.Forward(out, in, packed, 1)
				if e := relErr(out, refConv2D(c, in, kernel)); !(e <= 1e-5) {
					t.Errorf("O=%d P=%d: relative error %.3g > 1e-5", o, p, e)
				}
			}
		}
	})
}
