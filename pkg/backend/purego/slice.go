package purego

import "github.com/gomlx/compute"

// Slice implements compute.Function. The Go backend's Slice copies element by
// element. A slice with unit strides is a crop, done here as a Gather that
// copies one contiguous run per index (the trailing uncut axes plus the
// last cut one: a whole row of channel vectors for the tap views of a
// depthwise convolution), or, when those runs would be short, as a Pad with
// negative edge paddings (whole-row copies too, but into a buffer it first
// zero-fills, which for a crop is wasted work). Strided slices keep the Go
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
	// last is the innermost cut axis: the copied runs span it and every axis after.
	last, empty := -1, false
	for i := range starts {
		if starts[i] != 0 || limits[i] != s.Dimensions[i] {
			last = i
		}
		empty = empty || limits[i] == starts[i]
	}
	run := 0
	if last >= 0 {
		run = limits[last] - starts[last]
		for _, d := range s.Dimensions[last+1:] {
			run *= d
		}
	}
	if run < minGatherRun || empty {
		axes := make([]compute.PadAxis, len(starts))
		for i := range starts {
			axes[i] = compute.PadAxis{Start: -starts[i], End: -(s.Dimensions[i] - limits[i])}
		}
		return e.must(e.f.Pad(x, e.scalar(s.DType, 0), axes...)), nil
	}
	return cropByGather(e, x, s.Dimensions, starts, limits, last), nil
}

// minGatherRun is the shortest run (in elements) for which a crop is a Gather
// rather than a Pad: below it the per-index cost of the Gather dominates.
const minGatherRun = 16

// cropByGather crops x (dims) to [starts, limits) with a Gather whose indices
// enumerate the kept positions of the axes before last; each index copies
// the run spanning axis last (from starts[last]) and the axes after it.
func cropByGather(e emitter, x compute.Value, dims, starts, limits []int, last int) compute.Value {
	rank := len(dims)
	sizes := make([]int, last)
	for i := range sizes {
		sizes[i] = limits[i] - starts[i]
	}
	var indices []int32
	forEachIndex(sizes, func(idx []int) {
		for i, v := range idx {
			indices = append(indices, int32(starts[i]+v))
		}
		indices = append(indices, int32(starts[last]))
	})
	sliceSizes := make([]int, rank)
	for i := range sliceSizes {
		switch {
		case i < last:
			sliceSizes[i] = 1
		case i == last:
			sliceSizes[i] = limits[i] - starts[i]
		default:
			sliceSizes[i] = dims[i]
		}
	}
	idx := e.must(e.f.Constant(indices, append(append([]int{}, sizes...), last+1)...))
	return e.must(e.f.Gather(x, idx, last, seq(last, rank), seq(0, last), seq(0, last+1), sliceSizes, false))
}
