package purego

import "github.com/gomlx/compute"

// isDepthwiseFilter says whether the convolution is the filter gradient of a
// depthwise convolution in the form pkg/nn writes it: one batch group per
// channel of the forward input (which is this convolution's batch), the
// forward's batch contracted as its channels, the output gradient as its
// kernel, the forward stride as its kernel dilation.
func (p *convParams) isDepthwiseFilter() bool {
	return p.groups == 1 && p.batchGroups > 1 && p.batchGroups == p.batch && p.outChannels == p.batchGroups &&
		p.kernelInChannels == p.inChannels && allOnes(p.strides) && allOnes(p.inputDil)
}

// lowerDepthwiseFilter computes that gradient as one product and one sum per
// output position (the k*k filter taps of the forward convolution): for
// each, the strided view of the padded input times the output gradient,
// summed over everything but the channels. The generic grouped lowering
// would build one small im2col product per channel instead.
func lowerDepthwiseFilter(e emitter, input, kernel compute.Value, p *convParams) compute.Value {
	d := len(p.inSpatial)
	ax := p.axes
	// Both as [channels, spatial..., forward batch].
	x := e.transpose(input, append(append([]int{ax.InputBatch}, ax.InputSpatial...), ax.InputChannels)...)
	x = padAndDilate(e, x, p)
	dy := e.transpose(kernel, append(append([]int{ax.KernelOutputChannels}, ax.KernelSpatial...), ax.KernelInputChannels)...)
	sumAxes := seq(1, d+2)
	var rows []compute.Value
	forEachIndex(p.outSpatial, func(o []int) {
		starts := make([]int, d+2)
		limits := make([]int, d+2)
		strides := make([]int, d+2)
		limits[0], strides[0] = p.batch, 1
		limits[d+1], strides[d+1] = p.inChannels, 1
		for j := range d {
			starts[1+j] = o[j]
			limits[1+j] = o[j] + (p.kernelSpatial[j]-1)*p.kernelDil[j] + 1
			strides[1+j] = p.kernelDil[j]
		}
		view := e.slice(x, starts, limits, strides)
		sum := e.must(e.f.ReduceSum(e.mul(view, dy), sumAxes...))
		rows = append(rows, e.reshape(sum, 1, p.batch))
	})
	y := e.concat(0, rows...) // [outSpatial positions, channels]
	return toOutputLayout(e, e.reshape(y, append(append([]int{1}, p.outSpatial...), p.outChannels)...), ax)
}
