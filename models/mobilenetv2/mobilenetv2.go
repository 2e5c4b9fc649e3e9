// Package mobilenetv2 builds the CIFAR MobileNetV2 variant of PROTOCOL
// section 3b: a 3x3/32 stem, 17 inverted-residual blocks (1x1 expansion,
// 3x3 depthwise, 1x1 projection, each with BN; ReLU6 after the first two),
// a shortcut at stride 1 (identity, or 1x1 conv + BN when the channel count
// changes, unlike the standard MobileNetV2), none at stride 2, a 1x1 conv to
// 1280 + BN + ReLU6, 4x4 average pooling and a 10-way FC. Convs have no bias;
// batch norm is PyTorch's (epsilon 1e-5, momentum 0.1).
//
// Config.Quant places the quantizers as the reference did (section 3d): every
// block conv (expansion, depthwise, projection, shortcut) gets quantized
// weights, and for DoReFa a gradient quantizer after it; the two ReLU6 of
// each block become the method's activation quantizer; stem, last conv and
// FC stay full precision. PTQ folds every BN and quantizes everything.
package mobilenetv2

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/models/placement"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
)

// Block is one inverted-residual block: in and out channels, expansion t,
// stride s (reference sizes; Config.Width scales the channels).
type Block struct{ In, Out, T, Stride int }

// Blocks are the 17 blocks of the CIFAR variant, as PROTOCOL section 3b lists them.
var Blocks = []Block{
	{32, 16, 1, 1},
	{16, 24, 6, 1}, {24, 24, 6, 1},
	{24, 32, 6, 2}, {32, 32, 6, 1}, {32, 32, 6, 1},
	{32, 64, 6, 2}, {64, 64, 6, 1}, {64, 64, 6, 1}, {64, 64, 6, 1},
	{64, 96, 6, 1}, {96, 96, 6, 1}, {96, 96, 6, 1},
	{96, 160, 6, 2}, {160, 160, 6, 1}, {160, 160, 6, 1},
	{160, 320, 6, 1},
}

// Config sizes the network and says how it is quantized. Start from Default.
type Config struct {
	// Width multiplies every channel count (rounded): 1 is the reference
	// network, 0.5 the quick preset's.
	Width float64
	// NumClasses is the size of the output layer.
	NumClasses int
	// Quant places the quantizers; the zero value is full precision.
	Quant quant.Config
	// Prune masks the weights of every block conv (expansion, depthwise,
	// projection, shortcut), of the last conv and of the FC for pkg/prune
	// (the stem stays unpruned); false: no masks.
	Prune bool
	// Hidden, when set, is the expansion channel count of each of the 17
	// blocks: a filter-pruned network (PruneFilters). Nil: the block's
	// input channels times its expansion t.
	Hidden []int
}

// hidden is block i's expansion channel count.
func (c Config) hidden(i int) int {
	if c.Hidden != nil {
		return c.Hidden[i]
	}
	return c.Channels(Blocks[i].In) * Blocks[i].T
}

// Default is the reference network in full precision.
var Default = Config{Width: 1, NumClasses: 10, Quant: quant.Config{Method: quant.FP, WBits: 32, ABits: 32, GBits: 32}}

const bnEpsilon = 1e-5

// Channels scales a reference channel count by the width, rounded, at least 1.
func (c Config) Channels(reference int) int { return max(1, int(float64(reference)*c.Width+0.5)) }

// Validate reports a configuration that cannot build a network.
func (c Config) Validate() error {
	if c.Width <= 0 || c.NumClasses < 1 {
		return fmt.Errorf("mobilenetv2: invalid config: width %g must be > 0, classes %d >= 1", c.Width, c.NumClasses)
	}
	if c.Hidden != nil && (len(c.Hidden) != len(Blocks) || slices.Min(c.Hidden) < 1) {
		return fmt.Errorf("mobilenetv2: invalid config: Hidden has %d channel counts %v, want %d, each >= 1", len(c.Hidden), c.Hidden, len(Blocks))
	}
	_, err := placement.New(c.Quant)
	return err
}

// ModelFn returns a function mapping images [batch, 32, 32, 3] to logits.
func (c Config) ModelFn() func(scope *model.Scope, images *graph.Node) *graph.Node { return c.Build }

// relu6 is min(max(x, 0), 6).
func relu6(x *graph.Node) *graph.Node {
	return graph.Min(graph.Max(x, graph.ScalarZero(x.Graph(), x.DType())), graph.Scalar(x.Graph(), x.DType(), 6))
}

// Build adds the network to the graph and returns the logits. It panics on
// an invalid config (call Validate first where a user supplies it).
func (c Config) Build(scope *model.Scope, images *graph.Node) *graph.Node {
	q, err := placement.New(c.Quant)
	if err != nil {
		panic(err)
	}
	q.Prune = c.Prune
	n := net{q: q}
	x := q.Observe(scope.In("input"), images)
	stem := scope.In("stem")
	stem.SetParam(placement.ParamUnpruned, true)
	x = q.Observe(stem, relu6(n.conv(stem, x, c.Channels(32), 3, 1, false)))
	for i, b := range Blocks {
		x = n.block(scope.In("block%d", i), x, c.hidden(i), c.Channels(b.Out), b.Stride)
	}
	last := scope.In("last")
	x = q.Observe(last, relu6(n.conv(last, x, c.Channels(1280), 1, 1, false)))
	x = graph.ReduceMean(x, 1, 2) // 4x4 average pool on the 4x4 map
	return placement.Classifier(q, scope, x, c.NumClasses)
}

type net struct{ q placement.Quantizers }

// conv is a 1x1 or kxk conv + BN, quantized as placement.ConvBN says.
func (n net) conv(scope *model.Scope, x *graph.Node, channels, kernel, stride int, quantized bool) *graph.Node {
	return placement.ConvBN(n.q, scope, func(cs *model.Scope) *nn.ConvBuilder {
		return nn.Conv(cs, x).Channels(channels).KernelSize(kernel).Stride(stride)
	}, quantized, bnEpsilon)
}

// depthwise is the 3x3 depthwise conv + BN (quantized whenever the block's
// convs are).
func (n net) depthwise(scope *model.Scope, x *graph.Node, stride int) *graph.Node {
	return placement.ConvBN(n.q, scope, func(cs *model.Scope) *nn.DepthwiseBuilder {
		return nn.DepthwiseConv(cs, x).KernelSize(3).Stride(stride)
	}, n.q.Method != quant.FP, bnEpsilon)
}

// block is one inverted-residual block; hidden = in * t channels.
func (n net) block(scope *model.Scope, x *graph.Node, hidden, out, stride int) *graph.Node {
	q := n.q
	quantized := q.Method != quant.FP
	expand, dw, project := scope.In("expand"), scope.In("depthwise"), scope.In("project")
	y := q.Observe(expand, q.Activation(scope.In("act1"), n.conv(expand, x, hidden, 1, 1, quantized), relu6))
	y = q.Observe(dw, q.Activation(scope.In("act2"), n.depthwise(dw, y, stride), relu6))
	y = q.Observe(project, n.conv(project, y, out, 1, 1, quantized))
	if stride != 1 {
		return y
	}
	shortcut := x
	if x.Shape().Dim(-1) != out {
		sc := scope.In("shortcut")
		shortcut = q.Observe(sc, n.conv(sc, x, out, 1, 1, quantized))
	}
	return q.Observe(scope.In("add"), graph.Add(y, shortcut))
}
