package pipeline

import (
	"math"
	"math/rand/v2"

	"github.com/mlsysrep/mlsysrep/datasets"
)

// Transform turns one image (RGB bytes, row-major, h x w) into the network's
// float32 input (OutputSize x OutputSize x 3). Training transforms draw their
// randomness from rng, which the loader seeds per batch so that a seed gives
// the same batches however many workers run.
type Transform interface {
	OutputSize() int
	Apply(rng *rand.Rand, src []uint8, h, w int, dst []float32)
}

// CIFARTrain is the reference's CIFAR-10 training augmentation (torchvision's
// RandomCrop(32, padding=4) + RandomHorizontalFlip + Normalize): pad the raw
// image with Pad zero pixels on each side, take a random 32x32 crop, flip it
// horizontally with probability 1/2, then normalize per channel, so padded
// pixels become -mean/std.
type CIFARTrain struct {
	Pad       int
	Mean, Std [3]float32
}

// NewCIFARTrain is CIFARTrain with PROTOCOL section 2's constants.
func NewCIFARTrain() CIFARTrain {
	return CIFARTrain{Pad: 4, Mean: datasets.CIFAR10Mean, Std: datasets.CIFAR10Std}
}

// OutputSize implements Transform.
func (CIFARTrain) OutputSize() int { return 32 }

// Apply implements Transform.
func (t CIFARTrain) Apply(rng *rand.Rand, src []uint8, h, w int, dst []float32) {
	const size = 32
	dy, dx := rng.IntN(h+2*t.Pad-size+1)-t.Pad, rng.IntN(w+2*t.Pad-size+1)-t.Pad
	flip := rng.IntN(2) == 1
	for y := range size {
		for x := range size {
			sx := x
			if flip {
				sx = size - 1 - x
			}
			py, px := y+dy, sx+dx
			for c := range 3 {
				v := float32(0)
				if py >= 0 && py < h && px >= 0 && px < w {
					v = float32(src[(py*w+px)*3+c]) / 255
				}
				dst[(y*size+x)*3+c] = (v - t.Mean[c]) / t.Std[c]
			}
		}
	}
}

// Normalized is the evaluation transform: [0,1] scale, then per-channel
// (x - mean) / std, no randomness (Mean 0 and Std 1 give plain [0,1] scaling).
type Normalized struct {
	Size      int
	Mean, Std [3]float32
}

// NewCIFAREval is Normalized with CIFAR-10's constants.
func NewCIFAREval() Normalized {
	return Normalized{Size: 32, Mean: datasets.CIFAR10Mean, Std: datasets.CIFAR10Std}
}

// OutputSize implements Transform.
func (t Normalized) OutputSize() int { return t.Size }

// Apply implements Transform.
func (t Normalized) Apply(_ *rand.Rand, src []uint8, _, _ int, dst []float32) {
	datasets.Normalize(dst, src[:len(dst)], t.Mean, t.Std)
}

// SVHN is the reference's SVHN transform: bilinear resize to Size x Size
// (PIL's bilinear, half-pixel centers), scale to [0,1] and, when Jitter is
// set, torchvision's ColorJitter(brightness=Brightness, contrast=(ContrastLo,
// ContrastHi)): a brightness factor uniform in [max(0, 1-B), 1+B] and a
// contrast factor uniform in [lo, hi], applied in random order, each clipped
// to [0,1]. The reference used B = 30, (0.5, 1.5) (NewSVHNTrain).
type SVHN struct {
	Size                   int
	Jitter                 bool
	Brightness             float64
	ContrastLo, ContrastHi float64
}

// NewSVHNTrain is the reference's training transform.
func NewSVHNTrain() SVHN {
	return SVHN{Size: 40, Jitter: true, Brightness: 30, ContrastLo: 0.5, ContrastHi: 1.5}
}

// NewSVHNEval resizes only.
func NewSVHNEval() SVHN { return SVHN{Size: 40} }

// OutputSize implements Transform.
func (t SVHN) OutputSize() int { return t.Size }

// Apply implements Transform.
func (t SVHN) Apply(rng *rand.Rand, src []uint8, h, w int, dst []float32) {
	ResizeBilinear(src, h, w, dst, t.Size)
	if !t.Jitter {
		return
	}
	b := math.Max(0, 1-t.Brightness) + rng.Float64()*(1+t.Brightness-math.Max(0, 1-t.Brightness))
	c := t.ContrastLo + rng.Float64()*(t.ContrastHi-t.ContrastLo)
	if rng.IntN(2) == 0 {
		brightness(dst, b)
		contrast(dst, c)
	} else {
		contrast(dst, c)
		brightness(dst, b)
	}
}

func clamp01(v float32) float32 { return min(max(v, 0), 1) }

// brightness multiplies every value by f (torchvision adjust_brightness).
func brightness(img []float32, f float64) {
	for i := range img {
		img[i] = clamp01(img[i] * float32(f))
	}
}

// contrast blends with the mean of the grayscale image (torchvision
// adjust_contrast: gray = 0.299 R + 0.587 G + 0.114 B).
func contrast(img []float32, f float64) {
	mean := 0.0
	for i := 0; i < len(img); i += 3 {
		mean += 0.299*float64(img[i]) + 0.587*float64(img[i+1]) + 0.114*float64(img[i+2])
	}
	mean /= float64(len(img) / 3)
	for i := range img {
		img[i] = clamp01(float32(f)*img[i] + float32((1-f)*mean))
	}
}

// ResizeBilinear resizes RGB bytes h x w to size x size floats in [0,1] with
// half-pixel-center bilinear interpolation (PIL's and torchvision's
// align_corners=False), clamping at the borders.
func ResizeBilinear(src []uint8, h, w int, dst []float32, size int) {
	sy, sx := float64(h)/float64(size), float64(w)/float64(size)
	for y := range size {
		fy := math.Max((float64(y)+0.5)*sy-0.5, 0)
		y0 := min(int(fy), h-1)
		y1 := min(y0+1, h-1)
		wy := fy - float64(y0)
		for x := range size {
			fx := math.Max((float64(x)+0.5)*sx-0.5, 0)
			x0 := min(int(fx), w-1)
			x1 := min(x0+1, w-1)
			wx := fx - float64(x0)
			for c := range 3 {
				p := func(yy, xx int) float64 { return float64(src[(yy*w+xx)*3+c]) }
				v := (1-wy)*((1-wx)*p(y0, x0)+wx*p(y0, x1)) + wy*((1-wx)*p(y1, x0)+wx*p(y1, x1))
				dst[(y*size+x)*3+c] = float32(v / 255)
			}
		}
	}
}
