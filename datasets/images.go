package datasets

import "fmt"

// Images is a decoded labeled image set kept in memory as bytes: Pixels holds
// N images of Height x Width x 3 (RGB, row-major, channels last), Labels the
// class of each. Source says which copy of which data it came from, for
// records ("CIFAR-10 (official binary) train").
type Images struct {
	Pixels           []uint8
	Labels           []int32
	N, Height, Width int
	Classes          []string
	Source           string
}

// ImageSize is the number of bytes of one image.
func (im *Images) ImageSize() int { return im.Height * im.Width * 3 }

// Image returns the pixels of image i.
func (im *Images) Image(i int) []uint8 {
	n := im.ImageSize()
	return im.Pixels[i*n : (i+1)*n]
}

// Check verifies that the sizes agree and every label is a valid class.
func (im *Images) Check() error {
	if len(im.Pixels) != im.N*im.ImageSize() || len(im.Labels) != im.N {
		return fmt.Errorf("%s: %d images of %dx%d need %d bytes and %d labels, have %d and %d",
			im.Source, im.N, im.Width, im.Height, im.N*im.ImageSize(), im.N, len(im.Pixels), len(im.Labels))
	}
	for i, l := range im.Labels {
		if l < 0 || int(l) >= len(im.Classes) {
			return fmt.Errorf("%s: image %d has label %d, outside 0..%d", im.Source, i, l, len(im.Classes)-1)
		}
	}
	return nil
}

// Subset returns the images at the given indices, in that order (sharing
// nothing with im).
func (im *Images) Subset(idx []int, what string) *Images {
	out := &Images{N: len(idx), Height: im.Height, Width: im.Width, Classes: im.Classes, Source: im.Source}
	if what != "" {
		out.Source += ", " + what
	}
	out.Pixels = make([]uint8, 0, len(idx)*im.ImageSize())
	out.Labels = make([]int32, 0, len(idx))
	for _, i := range idx {
		out.Pixels = append(out.Pixels, im.Image(i)...)
		out.Labels = append(out.Labels, im.Labels[i])
	}
	return out
}

// FirstN returns the first n images in canonical order (class balanced: see
// CanonicalOrder); n larger than the set takes all of it.
func (im *Images) FirstN(n int) *Images {
	order := CanonicalOrder(im.Labels)
	n = min(n, len(order))
	return im.Subset(order[:n], fmt.Sprintf("first %d in canonical order", n))
}

// PerClass returns the first n images of each class, in canonical order.
func (im *Images) PerClass(n int) *Images {
	seen := make(map[int32]int)
	var idx []int
	for _, i := range CanonicalOrder(im.Labels) {
		if seen[im.Labels[i]] < n {
			seen[im.Labels[i]]++
			idx = append(idx, i)
		}
	}
	return im.Subset(idx, fmt.Sprintf("first %d per class", n))
}
