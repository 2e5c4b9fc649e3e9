package purego

import "github.com/gomlx/compute"

// Slice implements compute.Function. The Go backend's Slice copies element by
// element; a slice with unit strides is a crop, which its Pad (with negative
// edge paddings) does with whole-row copies. Strided slices keep the Go
// backend's implementation.
func (f *function) Slice(x compute.Value, starts, limits, strides []int) (out compute.Value, err error) {
	defer catchEmit("Slice", &err)
	e := emitter{f: f.Function, w: f}
	s := e.shape(x)
	if !s.DType.IsFloat() || s.DType.Size() < 4 {
		return f.Function.Slice(x, starts, limits, strides)
	}
	for _, st := range strides {
		if st != 1 {
			return f.Function.Slice(x, starts, limits, strides)
		}
	}
	axes := make([]compute.PadAxis, len(starts))
	for i := range starts {
		axes[i] = compute.PadAxis{Start: -starts[i], End: -(s.Dimensions[i] - limits[i])}
	}
	return e.must(e.f.Pad(x, e.scalar(s.DType, 0), axes...)), nil
}
