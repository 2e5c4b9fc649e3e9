package nn

import (
	"sync"
	"weak"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

// The depthwise convolution is one grouped ConvGeneral (one group per
// channel), so that a backend sees it as a single op and can run it with a
// kernel of its own (engine v2 does; XLA has its own). Its gradient, though,
// is not GoMLX's: GoMLX differentiates a grouped convolution by splitting it
// into one convolution per channel (hundreds of ops per layer). The two
// gradients written here are single convolutions again, in the forms XLA
// itself uses for depthwise training:
//
//   - input gradient: the depthwise convolution of the output gradient with
//     the spatially reversed filter (at stride s, of the output gradient
//     dilated by s: a transposed convolution);
//   - filter gradient: a convolution with one batch group per channel, in
//     which the channels play the batch and the batch plays the contracted
//     channels; the forward stride becomes the filter's dilation.
//
// GoMLX looks gradients up by op type in graph.VJPRegistration. This package
// replaces the ConvGeneral entry with one that takes the depthwise nodes it
// built itself (recorded in depthwiseNodes) and passes every other
// convolution to GoMLX's own gradient unchanged.

// depthwiseSpec is what the gradient needs to know of a depthwise node.
type depthwiseSpec struct {
	kernel, stride, pad int
}

// depthwiseNodes maps the depthwise convolution nodes built by Depthwise
// to their spec. Keys are weak, so that a graph's nodes are not kept alive
// by this table; dead entries are swept when new ones are added.
var depthwiseNodes sync.Map // weak.Pointer[graph.Node] -> depthwiseSpec

// stockConvVJP is GoMLX's ConvGeneral gradient, used for every convolution
// that is not a depthwise node of this package.
var stockConvVJP = graph.VJPRegistration[graph.NodeTypeConvGeneral]

func init() {
	graph.VJPRegistration[graph.NodeTypeConvGeneral] = convGeneralVJP
}

// nhwc is the axis layout of the models' convolutions: input and output
// [batch, h, w, channels], kernel [kh, kw, in, out].
var nhwc = compute.ConvolveAxesConfig{
	InputBatch: 0, InputChannels: 3, InputSpatial: []int{1, 2},
	KernelInputChannels: 2, KernelOutputChannels: 3, KernelSpatial: []int{0, 1},
	OutputBatch: 0, OutputChannels: 3, OutputSpatial: []int{1, 2},
}

// Depthwise convolves x [batch, h, w, c] with one k x k filter per channel,
// w [k, k, c] (k odd), at the given stride with padding k/2 on every side,
// as MobileNetV2 does. Its gradients are single convolutions (see above).
func Depthwise(x, w *graph.Node, stride int) *graph.Node {
	c, k := x.Shape().Dim(-1), w.Shape().Dim(0)
	p := k / 2
	y := graph.ConvGeneral(x, graph.Reshape(w, k, k, 1, c), nhwc, []int{stride, stride},
		[][2]int{{p, p}, {p, p}}, nil, nil, c, 1)
	depthwiseNodes.Range(func(key, _ any) bool {
		if key.(weak.Pointer[graph.Node]).Value() == nil {
			depthwiseNodes.Delete(key)
		}
		return true
	})
	depthwiseNodes.Store(weak.Make(y), depthwiseSpec{kernel: k, stride: stride, pad: p})
	return y
}

// convGeneralVJP is the gradient of a ConvGeneral node: the depthwise one for
// nodes built by Depthwise, GoMLX's for the others.
func convGeneralVJP(node *graph.Node, v []*graph.Node, outputShape shapes.Shape) []*graph.Node {
	spec, ok := depthwiseNodes.Load(weak.Make(node))
	if !ok {
		return stockConvVJP(node, v, outputShape)
	}
	x, k4 := node.Inputs()[0], node.Inputs()[1]
	s := spec.(depthwiseSpec)
	return []*graph.Node{depthwiseInputGrad(v[0], k4, x.Shape(), s), depthwiseFilterGrad(x, v[0], s)}
}

// depthwiseInputGrad is the gradient with respect to the input [n, h, w, c]
// of a depthwise convolution with filter k4 [k, k, 1, c], given the output
// gradient dy [n, oh, ow, c]: dy, dilated by the stride and padded so that
// the result is h x w, convolved with the reversed filter.
func depthwiseInputGrad(dy, k4 *graph.Node, xShape shapes.Shape, s depthwiseSpec) *graph.Node {
	c := xShape.Dim(3)
	paddings := make([][2]int, 2)
	for i := range 2 {
		size, out := xShape.Dim(1+i), dy.Shape().Dim(1+i)
		lo := s.kernel - 1 - s.pad
		paddings[i] = [2]int{lo, size - (out-1)*s.stride - 1 + s.pad}
	}
	var dilation []int
	if s.stride != 1 {
		dilation = []int{s.stride, s.stride}
	}
	return graph.ConvGeneral(dy, graph.Reverse(k4, 0, 1), nhwc, nil, paddings, dilation, nil, c, 1)
}

// depthwiseFilterGrad is the gradient with respect to the filter [k, k, 1, c]
// of a depthwise convolution of x [n, h, w, c], given the output gradient dy
// [n, oh, ow, c]: dw[i, j, 0, c] = sum over n, y, x of
// xPadded[n, y*stride+i, x*stride+j, c] * dy[n, y, x, c], a convolution of x
// with dy as its filter in which the channels are the batch (one batch group
// each), the batch is the contracted axis and the stride is the dilation.
func depthwiseFilterGrad(x, dy *graph.Node, s depthwiseSpec) *graph.Node {
	c := x.Shape().Dim(3)
	paddings := make([][2]int, 2)
	for i := range 2 {
		size, out := x.Shape().Dim(1+i), dy.Shape().Dim(1+i)
		hi := (out-1)*s.stride + s.kernel - size - s.pad
		if hi < 0 { // the last rows or columns are never read: crop them.
			x = graph.SliceAxis(x, 1+i, graph.AxisRange(0, size+hi))
			hi = 0
		}
		paddings[i] = [2]int{s.pad, hi}
	}
	axes := compute.ConvolveAxesConfig{
		InputBatch: 3, InputChannels: 0, InputSpatial: []int{1, 2},
		KernelInputChannels: 0, KernelOutputChannels: 3, KernelSpatial: []int{1, 2},
		// [k, k, c, 1]: the Go backend reads the output's batch size at the
		// input's batch axis, so the two are kept on the same axis.
		OutputBatch: 3, OutputChannels: 2, OutputSpatial: []int{0, 1},
	}
	var dilation []int
	if s.stride != 1 {
		dilation = []int{s.stride, s.stride}
	}
	dw := graph.ConvGeneral(x, dy, axes, nil, paddings, nil, dilation, 1, c)
	return graph.Reshape(dw, s.kernel, s.kernel, 1, c)
}
