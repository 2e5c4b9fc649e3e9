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
// It is one grouped ConvGeneral whose gradients are single convolutions
// too (depthwise_op.go), so that a backend can run all three with kernels of
// its own.
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
	y := Depthwise(x, graph.ConvertDType(w, x.DType()), s)
	if bias != nil {
		y = graph.Add(y, lastAxis(graph.ConvertDType(bias, y.DType()), y.Rank()))
	}
	d := y.Shape().Dimensions // [batch, h, w, c]
	RecordLayer(b.scope, "dwconv", detail, y, k*k*c, d[1]*d[2]*c*k*k)
	return y
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
