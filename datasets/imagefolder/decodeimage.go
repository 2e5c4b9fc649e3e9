package imagefolder

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
)

// Limits that keep a corrupt or hostile file from making the loader allocate
// far more than it holds. Image decoders allocate the whole image from the
// size in its header, so that size is read and checked first.
var (
	// MaxFileBytes bounds one image file (a CIFAR JPEG is about 1 kB).
	MaxFileBytes int64 = 64 << 20
	// MaxImagePixels bounds width x height of one image.
	MaxImagePixels = 1 << 24
)

// preallocLimit bounds the pixel buffer reserved before the images decode.
const preallocLimit = 1 << 28

var pngMagic = []byte("\x89PNG")

// decodeImage decodes a PNG (by its magic bytes) or else a JPEG after
// checking the size its header declares: at most MaxImagePixels, and equal
// to want unless want is zero (the first image of a set).
func decodeImage(data []byte, want image.Point) (image.Image, error) {
	isPNG := bytes.HasPrefix(data, pngMagic)
	var cfg image.Config
	var err error
	if isPNG {
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
	} else {
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
	}
	if err != nil {
		return nil, err
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > int64(MaxImagePixels) {
		return nil, fmt.Errorf("declares %dx%d pixels (want 1 to %d pixels)", cfg.Width, cfg.Height, MaxImagePixels)
	}
	if want != (image.Point{}) && (cfg.Width != want.X || cfg.Height != want.Y) {
		return nil, fmt.Errorf("is %dx%d, the others %dx%d", cfg.Width, cfg.Height, want.X, want.Y)
	}
	var img image.Image
	if isPNG {
		img, err = png.Decode(bytes.NewReader(data))
	} else {
		img, err = jpeg.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return nil, err
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, fmt.Errorf("decodes to %dx%d but declares %dx%d", b.Dx(), b.Dy(), cfg.Width, cfg.Height)
	}
	return img, nil
}
