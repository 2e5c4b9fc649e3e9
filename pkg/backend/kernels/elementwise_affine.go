package kernels

// affineFunc writes out[i] = (x[i] - mean[i]) * a[i] + offset[i] for i <
// len(out), each operation rounded to float32 in that order (a batch norm's
// output, BatchNorm.Normalize's arithmetic, over operands already laid out
// element by element).
type affineFunc func(out, x, mean, a, offset []float32)

// currentAffine is the path's affineFunc.
func currentAffine() affineFunc {
	if f := simdAffine(Path()); f != nil {
		return f
	}
	return affineGeneric
}

// affineGeneric rounds the product to float32 before the sum, so that no
// compiler may fuse them into an FMA.
func affineGeneric(out, x, mean, a, offset []float32) {
	n := len(out)
	x, mean, a, offset = x[:n], mean[:n], a[:n], offset[:n]
	for i := range out {
		p := float32((x[i] - mean[i]) * a[i])
		out[i] = p + offset[i]
	}
}
