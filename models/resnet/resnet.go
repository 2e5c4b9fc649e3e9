// Package resnet builds the CIFAR ResNet-18 of PROTOCOL section 3a as a GoMLX
// model function: 3x3/64 stem, four stages of basic blocks (64-128-256-512
// channels, stride 2 at the start of stages 2-4), 1x1 projection shortcuts,
// global average pooling and a 10-way fully connected layer with bias. Convs
// have no bias; batch norm is PyTorch's (epsilon 1e-5, momentum 0.1).
//
// Config.Quant places the quantizers as the reference experiments did
// (PROTOCOL section 3d): DoReFa, PACT and LSQ keep the stem and the FC in full
// precision; PTQ folds every BN into its conv and fake-quantizes everything.
package resnet

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/models/placement"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
)

// Config sizes the network and says how it is quantized. Start from Default.
type Config struct {
	// Width multiplies every channel count (1 = the reference's 64-128-256-512).
	Width float64
	// BlocksPerStage is the number of basic blocks in each of the four stages
	// (2 for ResNet-18).
	BlocksPerStage int
	// NumClasses is the size of the output layer.
	NumClasses int
	// Quant places the quantizers; the zero value is full precision.
	Quant quant.Config
	// Prune masks the weights of every block conv (shortcuts included) and
	// of the FC for pkg/prune (the stem stays unpruned); false: no masks.
	Prune bool
	// Inner, when set, is the output channel count of each block's first
	// conv, block by block (4 * BlocksPerStage of them): a filter-pruned
	// network (PruneFilters). Nil: the stage's channel count.
	Inner []int
}

// inner is the first conv's output channels of block i (0-based over the
// network) in stage.
func (c Config) inner(i, stage int) int {
	if c.Inner != nil {
		return c.Inner[i]
	}
	return c.Channels(stage)
}

// Default is the reference CIFAR ResNet-18 in full precision.
var Default = Config{Width: 1, BlocksPerStage: 2, NumClasses: 10, Quant: quant.Config{Method: quant.FP, WBits: 32, ABits: 32, GBits: 32}}

// bnEpsilon is PyTorch's default, used by the reference.
const bnEpsilon = 1e-5

// stageChannels are the reference channel counts of the four stages.
var stageChannels = [4]int{64, 128, 256, 512}

// Channels returns the channel count of stage i (0..3) at the configured width,
// rounded and at least 1.
func (c Config) Channels(stage int) int {
	return max(1, int(float64(stageChannels[stage])*c.Width+0.5))
}

// Validate reports a configuration that cannot build a network.
func (c Config) Validate() error {
	if c.Width <= 0 || c.BlocksPerStage < 1 || c.NumClasses < 1 {
		return fmt.Errorf("resnet: invalid config: width %g must be > 0, blocks per stage %d >= 1, classes %d >= 1",
			c.Width, c.BlocksPerStage, c.NumClasses)
	}
	if c.Inner != nil && (len(c.Inner) != 4*c.BlocksPerStage || slices.Min(c.Inner) < 1) {
		return fmt.Errorf("resnet: invalid config: Inner has %d channel counts %v, want %d, each >= 1", len(c.Inner), c.Inner, 4*c.BlocksPerStage)
	}
	_, err := placement.New(c.Quant)
	return err
}

// ModelFn returns a function that maps images [batch, 32, 32, 3] (channels
// last) to logits [batch, NumClasses]. It panics if the config is invalid:
// call Validate first where the config comes from a user.
func (c Config) ModelFn() func(scope *model.Scope, images *graph.Node) *graph.Node {
	return c.Build
}

// Build adds the network to the graph of images and returns the logits.
func (c Config) Build(scope *model.Scope, images *graph.Node) *graph.Node {
	q, err := placement.New(c.Quant)
	if err != nil {
		panic(err)
	}
	q.Prune = c.Prune
	n := net{q: q}
	x := n.stem(scope, images, c.Channels(0))
	for stage := range 4 {
		for block := range c.BlocksPerStage {
			stride := 1
			if stage > 0 && block == 0 {
				stride = 2
			}
			inner := c.inner(stage*c.BlocksPerStage+block, stage)
			x = n.basicBlock(scope.In("stage%d_block%d", stage+1, block), x, inner, c.Channels(stage), stride)
		}
	}
	x = graph.ReduceMean(x, 1, 2) // global average pool
	return placement.Classifier(q, scope, x, c.NumClasses)
}

// Stem adds the input observer and the stem (conv3x3-BN-ReLU, full
// precision) and returns the stem's output activation: the first real
// activation of the network, which the quantizer tour inspects. Build
// starts with it.
func (c Config) Stem(scope *model.Scope, images *graph.Node) *graph.Node {
	q, err := placement.New(c.Quant)
	if err != nil {
		panic(err)
	}
	return net{q: q}.stem(scope, images, c.Channels(0))
}

func (n net) stem(scope *model.Scope, images *graph.Node, channels int) *graph.Node {
	x := n.q.Observe(scope.In("input"), images)
	stem := scope.In("stem")
	stem.SetParam(placement.ParamUnpruned, true)
	x = n.convBN(stem, x, channels, 3, 1, false)
	return n.q.Observe(stem, activation.Relu(x))
}

// net carries the placement through the builders.
type net struct {
	q placement.Quantizers
}

// convBN is a bias-free conv + BN, quantized as placement.ConvBN says.
func (n net) convBN(scope *model.Scope, x *graph.Node, channels, kernel, stride int, quantized bool) *graph.Node {
	return placement.ConvBN(n.q, scope, func(cs *model.Scope) *nn.ConvBuilder {
		return nn.Conv(cs, x).Channels(channels).KernelSize(kernel).Stride(stride)
	}, quantized, bnEpsilon)
}

// basicBlock is conv3x3-BN-act-conv3x3-BN plus the shortcut (the first conv
// with inner output channels, the second back to channels), then the
// block's output, as the method's placement policy says (PROTOCOL section
// 3d; models/placement/policy.go):
//
//	FP, PTQ  ReLU inside, ReLU on the output
//	DoReFa   DoReFa activation inside, no output activation, shortcut conv quantized
//	PACT     PACT inside and on the output, shortcut conv full precision
//	LSQ      LSQ activation inside, no output activation, shortcut conv quantized
func (n net) basicBlock(scope *model.Scope, x *graph.Node, inner, channels, stride int) *graph.Node {
	q := n.q
	policy := q.Policy()
	qat := policy.QAT
	shortcut := x
	if stride != 1 || x.Shape().Dim(-1) != channels {
		sc := scope.In("shortcut")
		shortcut = q.Observe(sc, n.convBN(sc, x, channels, 1, stride, qat && policy.ShortcutWeights))
	}
	conv1, conv2 := scope.In("conv1"), scope.In("conv2")
	y := n.convBN(conv1, x, inner, 3, stride, qat)
	y = q.Observe(conv1, q.Activation(scope.In("act1"), y, activation.Relu))
	y = n.convBN(conv2, y, channels, 3, 1, qat)
	y = q.Observe(conv2, y)
	return q.ResidualOutput(scope, graph.Add(y, shortcut), activation.Relu)
}
