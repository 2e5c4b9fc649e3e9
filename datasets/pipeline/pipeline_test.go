package pipeline

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/mlsysrep/mlsysrep/datasets"
)

// testImages is n 32x32 images whose pixel (y, x) is (x, y, image index).
func testImages(n int) *datasets.Images {
	im := &datasets.Images{N: n, Height: 32, Width: 32, Classes: []string{"a", "b", "c"}, Source: "test"}
	for i := range n {
		for y := range 32 {
			for x := range 32 {
				im.Pixels = append(im.Pixels, uint8(x+100), uint8(y+100), uint8(i))
			}
		}
		im.Labels = append(im.Labels, int32(i%3))
	}
	return im
}

func TestCIFARTrainCropFlipNormalize(t *testing.T) {
	tr := NewCIFARTrain()
	src := testImages(1).Image(0)
	dst := make([]float32, 32*32*3)
	rng := rand.New(rand.NewPCG(1, 2))
	flips := 0
	const draws = 400
	for range draws {
		tr.Apply(rng, src, 32, 32, dst)
		// Undo the normalization; padded pixels are exactly 0 before it.
		px := func(y, x, c int) float64 {
			return math.Round(float64(dst[(y*32+x)*3+c]*tr.Std[c]+tr.Mean[c]) * 255)
		}
		// Find the crop offset from a pixel that is inside the image.
		var dx, dy int
		var flipped, found bool
		for y := 0; y < 32 && !found; y++ {
			for x := 0; x < 31 && !found; x++ {
				a, b := px(y, x, 0), px(y, x+1, 0)
				if a >= 100 && b >= 100 {
					found = true
					flipped = b < a
					sx := int(a) - 100
					if flipped {
						dx = sx - (31 - x)
					} else {
						dx = sx - x
					}
					dy = int(px(y, x, 1)) - 100 - y
				}
			}
		}
		if !found || dx < -4 || dx > 4 || dy < -4 || dy > 4 {
			t.Fatalf("crop offset (%d, %d) outside the 4-pixel padding", dy, dx)
		}
		if flipped {
			flips++
		}
		// Every output pixel is the source pixel at the offset, or padding.
		for y := range 32 {
			for x := range 32 {
				sx := x
				if flipped {
					sx = 31 - x
				}
				py, pxx := y+dy, sx+dx
				wantR, wantG := 0.0, 0.0
				if py >= 0 && py < 32 && pxx >= 0 && pxx < 32 {
					wantR, wantG = float64(pxx+100), float64(py+100)
				}
				if px(y, x, 0) != wantR || px(y, x, 1) != wantG {
					t.Fatalf("pixel (%d,%d) = (%g,%g), want (%g,%g) for offset (%d,%d) flip %v",
						y, x, px(y, x, 0), px(y, x, 1), wantR, wantG, dy, dx, flipped)
				}
			}
		}
	}
	if flips < draws*4/10 || flips > draws*6/10 {
		t.Errorf("%d flips in %d draws, want about half", flips, draws)
	}
}

func TestNormalizationConstants(t *testing.T) {
	im := &datasets.Images{N: 1, Height: 32, Width: 32, Classes: []string{"a"}, Pixels: make([]uint8, 32*32*3), Labels: []int32{0}}
	im.Pixels[0], im.Pixels[1], im.Pixels[2] = 255, 0, 128
	dst := make([]float32, 32*32*3)
	NewCIFAREval().Apply(nil, im.Image(0), 32, 32, dst)
	for c, want := range []float64{(1 - 0.4914) / 0.2023, (0 - 0.4822) / 0.1994, (128.0/255 - 0.4465) / 0.2010} {
		if math.Abs(float64(dst[c])-want) > 1e-5 {
			t.Errorf("channel %d: %g, want %g", c, dst[c], want)
		}
	}
}

func batches(t *testing.T, l *Loader) (sizes []int, first [][]float32, labels [][]int32) {
	t.Helper()
	for b, err := range l.Iter() {
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, b.Inputs[0].Shape().Dim(0))
		first = append(first, tensors.MustCopyFlatData[float32](b.Inputs[0]))
		labels = append(labels, tensors.MustCopyFlatData[int32](b.Labels[0]))
	}
	return
}

func TestLoader(t *testing.T) {
	im := testImages(10)
	for _, tc := range []struct {
		last  LastBatch
		sizes string
	}{
		{Keep, "[4 4 2]"}, {Drop, "[4 4]"}, {Pad, "[4 4 4]"},
	} {
		l := &Loader{Images: im, Batch: 4, Last: tc.last, Transform: NewCIFAREval()}
		sizes, _, labels := batches(t, l)
		if got := fmtInts(sizes); got != tc.sizes {
			t.Errorf("last=%d: batch sizes %s, want %s", tc.last, got, tc.sizes)
		}
		if tc.last == Pad && fmtInts32(labels[2]) != "[2 0 0 1]" { // images 8, 9 then 0, 1
			t.Errorf("padded batch labels %v", labels[2])
		}
	}
	// Same seed, same epoch: same batches, with any number of workers.
	mk := func(workers int) *Loader {
		return &Loader{Images: im, Batch: 3, Shuffle: true, Seed: 42, Last: Drop, Transform: NewCIFARTrain(), Workers: workers}
	}
	_, a, la := batches(t, mk(1))
	_, b, lb := batches(t, mk(4))
	if !equalBatches(a, b) || fmtInts32(flatten(la)) != fmtInts32(flatten(lb)) {
		t.Error("same seed gave different batches with 1 and 4 workers")
	}
	// The next epoch is shuffled differently.
	l := mk(2)
	_, e0, _ := batches(t, l)
	_, e1, _ := batches(t, l)
	if equalBatches(e0, e1) || l.Epoch() != 2 {
		t.Error("two epochs gave the same batches")
	}
	// SetEpoch replays an epoch (resume).
	l.SetEpoch(1)
	if _, again, _ := batches(t, l); !equalBatches(again, e1) {
		t.Error("SetEpoch(1) did not replay epoch 1")
	}
	// Stopping early does not hang.
	for range mk(3).Iter() {
		break
	}
	if err := (&Loader{Images: im, Batch: 20, Last: Drop, Transform: NewCIFAREval()}).Check(); err == nil {
		t.Error("a batch larger than the set was accepted with Drop")
	}
}

func TestResizeBilinear(t *testing.T) {
	// A constant image stays constant; corners keep the corner values; a
	// horizontal ramp stays monotone.
	src := make([]uint8, 32*32*3)
	for y := range 32 {
		for x := range 32 {
			src[(y*32+x)*3] = uint8(8 * x)
			src[(y*32+x)*3+1] = 77
		}
	}
	dst := make([]float32, 40*40*3)
	ResizeBilinear(src, 32, 32, dst, 40)
	for i := 0; i < len(dst); i += 3 {
		if math.Abs(float64(dst[i+1])-77.0/255) > 1e-6 {
			t.Fatalf("constant channel changed: %g", dst[i+1])
		}
	}
	if dst[0] != 0 || math.Abs(float64(dst[39*3])-248.0/255) > 1e-6 {
		t.Errorf("corners %g %g, want 0 and %g", dst[0], dst[39*3], 248.0/255)
	}
	// Output x=1 samples source x = 1.5*0.8-0.5 = 0.7: 0.7*8 = 5.6.
	if math.Abs(float64(dst[3])*255-5.6) > 1e-4 {
		t.Errorf("dst x=1 = %g, want 5.6", dst[3]*255)
	}
}

func TestSVHNJitter(t *testing.T) {
	tr := NewSVHNTrain()
	src := testImages(1).Image(0)
	dst := make([]float32, 40*40*3)
	rng := rand.New(rand.NewPCG(3, 4))
	saturated := 0
	for range 50 {
		tr.Apply(rng, src, 32, 32, dst)
		for _, v := range dst {
			if v < 0 || v > 1 {
				t.Fatalf("value %g outside [0,1]", v)
			}
		}
		if dst[0] == 1 {
			saturated++
		}
	}
	// Brightness factors up to 31 saturate most images (PROTOCOL section 2).
	if saturated < 25 {
		t.Errorf("only %d of 50 jittered images saturated", saturated)
	}
}

func BenchmarkCIFARTrainPipeline(b *testing.B) {
	im := testImages(2048)
	l := &Loader{Images: im, Batch: 128, Shuffle: true, Seed: 1, Last: Drop, Transform: NewCIFARTrain()}
	images := 0
	for b.Loop() {
		for batch, err := range l.Iter() {
			if err != nil {
				b.Fatal(err)
			}
			images += batch.Inputs[0].Shape().Dim(0)
		}
	}
	b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "images/s")
}
