package recipe

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/mlsysrep/mlsysrep/datasets"
	"github.com/mlsysrep/mlsysrep/datasets/pipeline"
)

// flatImages is n 32x32 images, image i of one uniform gray level first+i,
// so that an image stays recognizable after cropping, flipping and
// normalizing: its brightest pixel gives the level back.
func flatImages(n, first int, source string) *datasets.Images {
	im := &datasets.Images{N: n, Height: 32, Width: 32, Classes: []string{"a", "b"}, Source: source,
		Pixels: make([]uint8, n*32*32*3), Labels: make([]int32, n)}
	for i := range n {
		for p := range 32 * 32 * 3 {
			im.Pixels[i*32*32*3+p] = uint8(first + i)
		}
		im.Labels[i] = int32(i % 2)
	}
	return im
}

// gray is the normalized red value of raw level v (0 is what the training
// augmentation's padding shows).
func gray(v int) float32 {
	return (float32(v)/255 - datasets.CIFAR10Mean[0]) / datasets.CIFAR10Std[0]
}

// levels reads a loader's epoch: the level of each image in order, and
// whether any image shows padding (a raw 0 pixel, which no source image has).
func levels(t *testing.T, l *pipeline.Loader) (got []int, padded bool) {
	t.Helper()
	for b, err := range l.Iter() {
		if err != nil {
			t.Fatal(err)
		}
		px := tensors.MustCopyFlatData[float32](b.Inputs[0])
		per := 32 * 32 * 3
		for i := 0; i < len(px); i += per {
			bright := float32(math.Inf(-1))
			for p := i; p < i+per; p += 3 {
				bright = max(bright, px[p])
				padded = padded || math.Abs(float64(px[p]-gray(0))) < 1e-4
			}
			v := int(math.Round(float64((bright*datasets.CIFAR10Std[0] + datasets.CIFAR10Mean[0]) * 255)))
			if math.Abs(float64(gray(v)-bright)) > 1e-4 {
				t.Fatalf("image %d: brightest red %g is no raw level", len(got), bright)
			}
			got = append(got, v)
		}
	}
	return got, padded
}

// TestPTQCalibratesOnFirstTrainingImagesAugmented: a PTQ cell calibrates on
// the first N training images, each once, with the training augmentation
// on (padding shows in the crops), never on test images; its test set is
// the test split, unaugmented. Training images have levels 10..21 and test
// images 200..207, so a calibration on the test split, on other training
// images, or without augmentation shows.
func TestPTQCalibratesOnFirstTrainingImagesAugmented(t *testing.T) {
	r := &runner{opts: Options{Seed: 3}, data: dataCache{"cifar10": &splits{
		train: flatImages(12, 10, "train split"), test: flatImages(8, 200, "test split"), copyName: "flat test copy"}}}
	spec := Spec{TrainImages: 10, Batch: 4, Calibration: 6}
	calib, test, copyName, err := r.ptqData(context.Background(), ResNet18, spec)
	if err != nil {
		t.Fatal(err)
	}
	if copyName != "flat test copy" {
		t.Errorf("data copy %q", copyName)
	}
	got, padded := levels(t, calib)
	if sorted := slices.Sorted(slices.Values(got)); !slices.Equal(sorted, []int{10, 11, 12, 13, 14, 15}) {
		t.Errorf("calibration read levels %v, want the first 6 training images (10..15), each once", got)
	}
	if !padded {
		t.Errorf("no calibration crop shows padding: the training augmentation is off")
	}
	got, padded = levels(t, test)
	if !slices.Equal(got, []int{200, 201, 202, 203, 204, 205, 206, 207}) || padded {
		t.Errorf("test set levels %v (padding %v), want the test split in order, unaugmented", got, padded)
	}
}
