package nn

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// WeightQuantizer maps a layer's weights (or folded weights) to what the
// layer multiplies by; nil means full precision. It receives the layer's
// scope, for quantizers with parameters.
type WeightQuantizer func(scope *model.Scope, w *graph.Node) *graph.Node

// ConvBuilder configures a 2-D convolution on channels-last images. Create
// it with Conv.
type ConvBuilder struct {
	scope            *model.Scope
	x                *graph.Node
	channels, kernel int
	stride           int
	padding          int
	bias             bool
	quantizer        WeightQuantizer
	fold             *foldSpec
}

// Conv returns a builder for a convolution of x [batch, h, w, cin] with
// kernel [k, k, cin, channels] (variable "weights") and optionally a bias
// ("biases"), both initialized as PyTorch does by default. The padding
// defaults to k/2 on every side ("same" for odd kernels at stride 1, as the
// reference's padding=1 for 3x3).
func Conv(scope *model.Scope, x *graph.Node) *ConvBuilder {
	return &ConvBuilder{scope: scope, x: x, kernel: 3, stride: 1, padding: -1}
}

// Channels sets the number of output channels.
func (b *ConvBuilder) Channels(c int) *ConvBuilder { b.channels = c; return b }

// KernelSize sets the (square) kernel size.
func (b *ConvBuilder) KernelSize(k int) *ConvBuilder { b.kernel = k; return b }

// Stride sets the stride.
func (b *ConvBuilder) Stride(s int) *ConvBuilder { b.stride = s; return b }

// Padding sets the zero padding on every side (0 = "valid").
func (b *ConvBuilder) Padding(p int) *ConvBuilder { b.padding = p; return b }

// Bias adds a bias (off by default: the reference's convs have none, except
// Model A's).
func (b *ConvBuilder) Bias(on bool) *ConvBuilder { b.bias = on; return b }

// Quantize sets the weight quantizer (nil for full precision).
func (b *ConvBuilder) Quantize(q WeightQuantizer) *ConvBuilder { b.quantizer = q; return b }

// Done returns the convolution's output.
func (b *ConvBuilder) Done() *graph.Node {
	if b.channels <= 0 {
		panic(fmt.Sprintf("nn.Conv in %q: Channels not set", b.scope.Scope()))
	}
	cin := b.x.Shape().Dim(-1)
	pad := b.padding
	if pad < 0 {
		pad = b.kernel / 2
	}
	fanIn := cin * b.kernel * b.kernel
	w := uniformVariable(b.scope, "weights", fanIn, b.kernel, b.kernel, cin, b.channels).NodeValue(b.x.Graph())
	params := w.Shape().Size()
	var bias *graph.Node
	if b.bias {
		bias = uniformVariable(b.scope, "biases", fanIn, b.channels).NodeValue(b.x.Graph())
		params += b.channels
	}
	detail := fmt.Sprintf("%dx%d/%d s%d p%d", b.kernel, b.kernel, b.channels, b.stride, pad)
	if b.fold != nil {
		w, bias = b.fold.apply(b.x.Graph(), w, bias)
		detail += " +BN folded"
	}
	if b.quantizer != nil {
		w = b.quantizer(b.scope, w)
	}
	y := graph.Convolve(b.x, graph.ConvertDType(w, b.x.DType())).StridePerAxis(b.stride, b.stride).
		PaddingPerDim([][2]int{{pad, pad}, {pad, pad}}).Done()
	if bias != nil {
		y = graph.Add(y, lastAxis(graph.ConvertDType(bias, y.DType()), y.Rank()))
	}
	d := y.Shape().Dimensions // [batch, h, w, channels]
	RecordLayer(b.scope, "conv", detail, y, params, d[1]*d[2]*d[3]*b.kernel*b.kernel*cin)
	return y
}
