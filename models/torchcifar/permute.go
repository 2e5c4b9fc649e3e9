package torchcifar

import "slices"

// toModel reorders a PyTorch tensor's data into the model's layout.
func toModel(e entry, src []float32) []float32 {
	return permute(e, src, true)
}

// toTorch reorders a model variable's data into PyTorch's layout.
func toTorch(e entry, src []float32) []float32 {
	return permute(e, src, false)
}

// permute moves data between the layouts. Depthwise and dense kernels are
// transposes of a [rows, cols] matrix (PyTorch's [C, kh*kw] and [out, in]);
// convolutions reorder four axes (permuteConv).
func permute(e entry, src []float32, toModelLayout bool) []float32 {
	var rows, cols int // the PyTorch layout as a [rows, cols] matrix
	s := e.shape
	switch e.kind {
	case vector:
		return slices.Clone(src)
	case conv:
		return permuteConv(s, src, toModelLayout)
	case depthwise:
		rows, cols = s[2], s[0]*s[1]
	case dense:
		rows, cols = s[1], s[0]
	}
	out := make([]float32, len(src))
	for r := range rows {
		for c := range cols {
			if toModelLayout {
				out[c*rows+r] = src[r*cols+c]
			} else {
				out[r*cols+c] = src[c*rows+r]
			}
		}
	}
	return out
}

// permuteConv moves a conv kernel between PyTorch's [O, I, kh, kw] and the
// model's [kh, kw, I, O]; s is the model's shape.
func permuteConv(s []int, src []float32, toModelLayout bool) []float32 {
	kh, kw, in, out := s[0], s[1], s[2], s[3]
	dst := make([]float32, len(src))
	for o := range out {
		for i := range in {
			for y := range kh {
				for x := range kw {
					t := ((o*in+i)*kh+y)*kw + x
					m := ((y*kw+x)*in+i)*out + o
					if toModelLayout {
						dst[m] = src[t]
					} else {
						dst[t] = src[m]
					}
				}
			}
		}
	}
	return dst
}
