package imagefolder

import (
	"bytes"
	"image"
	"slices"
	"testing"

	"github.com/mlsysrep/mlsysrep/datasets"
)

// fuzzLimits lowers the image limits for a fuzz target so that an input
// declaring a large image costs little per run; the checks are the same.
func fuzzLimits(f *testing.F) {
	pixels, bytes := MaxImagePixels, MaxFileBytes
	MaxImagePixels, MaxFileBytes = 64*64, 64<<10
	f.Cleanup(func() { MaxImagePixels, MaxFileBytes = pixels, bytes })
}

// checkImages fails t unless im is a consistent image set: pixels and labels
// for N images, labels naming classes, classes sorted and distinct.
func checkImages(t *testing.T, im *datasets.Images) {
	t.Helper()
	if im.N < 1 || im.Width < 1 || im.Height < 1 || len(im.Pixels) != im.N*im.ImageSize() || len(im.Labels) != im.N {
		t.Fatalf("%d images of %dx%d with %d pixel bytes and %d labels", im.N, im.Width, im.Height, len(im.Pixels), len(im.Labels))
	}
	if err := im.Check(); err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(im.Classes) || len(slices.Compact(slices.Clone(im.Classes))) != len(im.Classes) {
		t.Fatalf("classes %q are not sorted and distinct", im.Classes)
	}
}

// FuzzDecodeImage checks that decoding one image file never panics, and that
// a file that decodes gives one image of the size its header declares.
func FuzzDecodeImage(f *testing.F) {
	fuzzLimits(f)
	f.Add(pngOf(f, 4, 3, 20))
	f.Add(jpegOf(f, 4, 3))
	f.Add(hugePNG(f, 1<<16, 1))
	f.Add(hugeJPEG(f, 20000, 20000))
	f.Fuzz(func(t *testing.T, data []byte) {
		im, err := decode([]file{{class: "c", name: "f", data: data}}, "fuzz")
		if err != nil {
			return
		}
		checkImages(t, im)
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width != im.Width || cfg.Height != im.Height || im.N != 1 {
			t.Fatalf("decoded %d images of %dx%d from a file declaring %dx%d (%v)", im.N, im.Width, im.Height, cfg.Width, cfg.Height, err)
		}
	})
}

// FuzzReadTarGz checks that reading an image-folder archive never panics,
// and that an archive read without error gives a consistent image set. The
// input is the tar, compressed here, so that mutations reach the tar layer
// instead of breaking the gzip checksum.
func FuzzReadTarGz(f *testing.F) {
	fuzzLimits(f)
	png1, png2, jpg := string(pngOf(f, 4, 3, 10)), string(pngOf(f, 4, 3, 20)), string(jpegOf(f, 4, 3))
	f.Add(tarOf(f, "zebra/a.png", png1, "zebra/b.png", png2, "ant/x.jpg", jpg, "readme.txt", "text"))
	f.Add(tarOf(f, "c/a.png", png1, "c/b.png", string(pngOf(f, 5, 3, 1))))
	f.Fuzz(func(t *testing.T, data []byte) {
		im, err := ReadTarGz(bytes.NewReader(gzipped(data)), "fuzz.tar.gz", "")
		if err != nil {
			return
		}
		checkImages(t, im)
	})
}
