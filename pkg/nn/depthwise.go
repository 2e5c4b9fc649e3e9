package nn

import (
	"fmt"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// DepthwiseBuilder configures a depthwise convolution (one kxk filter per
// channel, no bias, as MobileNetV2's). Create it with DepthwiseConv.
type DepthwiseBuilder struct {
	scope     *model.Scope
	x         *graph.Node
	kernel    int
	stride    int
	quantizer WeightQuantizer
	fold      *foldSpec
}

// DepthwiseConv returns a builder for a depthwise convolution of x
// [batch, h, w, c] with weights [k, k, c] (variable "weights", PyTorch's
// default initialization with fan-in k*k) and padding k/2.
//
// It is written as a sum over the k*k taps of (shifted view of x) times
// (per-channel weight) rather than as a grouped ConvGeneral: GoMLX
// differentiates a grouped convolution by splitting it into one convolution
// per channel (hundreds of ops per layer), while here the gradient is one
// Pad and a few multiplies per tap, on every backend.
func DepthwiseConv(scope *model.Scope, x *graph.Node) *DepthwiseBuilder {
	return &DepthwiseBuilder{scope: scope, x: x, kernel: 3, stride: 1}
}

// KernelSize sets the (square) kernel size.
func (b *DepthwiseBuilder) KernelSize(k int) *DepthwiseBuilder { b.kernel = k; return b }

// Stride sets the stride.
func (b *DepthwiseBuilder) Stride(s int) *DepthwiseBuilder { b.stride = s; return b }

// Quantize sets the weight quantizer (nil for full precision).
func (b *DepthwiseBuilder) Quantize(q WeightQuantizer) *DepthwiseBuilder { b.quantizer = q; return b }

// FoldBatchNorm folds a batch norm into the depthwise convolution, as
// ConvBuilder.FoldBatchNorm does (the folded layer gains a bias).
func (b *DepthwiseBuilder) FoldBatchNorm(bnScope *model.Scope, epsilon float64) *DepthwiseBuilder {
	b.fold = &foldSpec{bnScope: bnScope, epsilon: epsilon}
	return b
}

// Done returns the convolution's output.
func (b *DepthwiseBuilder) Done() *graph.Node {
	x := b.x
	k, s := b.kernel, b.stride
	c := x.Shape().Dim(-1)
	w := uniformVariable(b.scope, "weights", k*k, k, k, c).NodeValue(x.Graph())
	detail := fmt.Sprintf("%dx%d/%d s%d", k, k, c, s)
	var bias *graph.Node
	if b.fold != nil {
		w, bias = b.fold.apply(x.Graph(), w, nil)
		detail += " +BN folded"
	}
	if b.quantizer != nil {
		w = b.quantizer(b.scope, w)
	}
	y := depthwise(x, graph.ConvertDType(w, x.DType()), k, s)
	if bias != nil {
		y = graph.Add(y, lastAxis(graph.ConvertDType(bias, y.DType()), y.Rank()))
	}
	Record(b.scope, "dwconv", detail, y, k*k*c)
	return y
}

// depthwise computes sum over taps of strided views of padded x times w.
//
// At stride 1 the gradient with respect to x is given directly as the
// transposed convolution (the same tap sum over the padded output gradient
// with the kernel flipped): differentiating the views instead would pad each
// tap's gradient back to the padded input size, k*k zero-filled buffers per
// layer (with the crops, Pad was 15% of MobileNetV2's training step on the
// Go backend; BENCHMARKS.md).
func depthwise(x, w *graph.Node, k, stride int) *graph.Node {
	weight := func(dy, dx int) *graph.Node { return tap(w, dy, dx) }
	if stride != 1 {
		return tapSum(x, k, stride, weight)
	}
	// y = tapSum(StopGradient(x)) + (t - StopGradient(t)), t = x with a custom
	// gradient: the added term is an exact zero forward, and its gradient
	// with respect to x is the transposed convolution of y's gradient.
	y := tapSum(graph.StopGradient(x), k, 1, weight)
	t := graph.IdentityWithCustomGradient(x, func(_, g *graph.Node) *graph.Node {
		flipped := graph.StopGradient(w) // second-order terms are not needed
		return tapSum(g, k, 1, func(dy, dx int) *graph.Node { return tap(flipped, k-1-dy, k-1-dx) })
	})
	return graph.Add(y, graph.Sub(t, graph.StopGradient(t)))
}

// tap is the per-channel weight of tap (dy, dx), shaped [1, 1, 1, c].
func tap(w *graph.Node, dy, dx int) *graph.Node {
	return graph.Reshape(graph.Slice(w, graph.AxisElem(dy), graph.AxisElem(dx), graph.AxisRange()), 1, 1, 1, -1)
}

// tapSum is sum over the k*k taps of the strided view of x (padded by k/2)
// at (dy, dx) times weight(dy, dx).
func tapSum(x *graph.Node, k, stride int, weight func(dy, dx int) *graph.Node) *graph.Node {
	pad := k / 2
	h, wd := x.Shape().Dim(1), x.Shape().Dim(2)
	xp := graph.Pad(x, graph.ScalarZero(x.Graph(), x.DType()),
		graph.PadAxis{}, graph.PadAxis{Start: pad, End: pad}, graph.PadAxis{Start: pad, End: pad}, graph.PadAxis{})
	outH := (h+2*pad-k)/stride + 1
	outW := (wd+2*pad-k)/stride + 1
	var sum *graph.Node
	for dy := range k {
		for dx := range k {
			view := graph.Slice(xp, graph.AxisRange(),
				graph.AxisRange(dy, dy+(outH-1)*stride+1).Stride(stride),
				graph.AxisRange(dx, dx+(outW-1)*stride+1).Stride(stride),
				graph.AxisRange())
			term := graph.Mul(view, weight(dy, dx))
			if sum == nil {
				sum = term
			} else {
				sum = graph.Add(sum, term)
			}
		}
	}
	return sum
}

// ChannelDropout zeroes whole channels of x [batch, h, w, c] with
// probability p in training graphs, scaling the kept ones by 1/(1-p)
// (PyTorch's Dropout2d); elsewhere it is the identity.
func ChannelDropout(scope *model.Scope, x *graph.Node, p float64) *graph.Node {
	g := x.Graph()
	if p <= 0 || !scope.IsTraining(g) {
		return x
	}
	u := scope.Store().RandomUniform(g, shapes.Make(x.DType(), x.Shape().Dim(0), 1, 1, x.Shape().Dim(-1)))
	keep := graph.ConvertDType(graph.GreaterOrEqual(u, graph.Scalar(g, u.DType(), p)), x.DType())
	return graph.Mul(x, graph.MulScalar(keep, 1/(1-p)))
}
