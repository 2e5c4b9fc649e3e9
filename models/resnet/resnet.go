// Package resnet builds the CIFAR ResNet-18 of PROTOCOL section 3a as a GoMLX
// model function: 3x3/64 stem, four stages of basic blocks (64-128-256-512
// channels, stride 2 at the start of stages 2-4), 1x1 projection shortcuts,
// global average pooling and a 10-way fully connected layer with bias. Convs
// have no bias.
//
// This is the full-precision network; the quantized variants of the
// reference experiments are built on top of it.
package resnet

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/layers/norm"
	"github.com/gomlx/gomlx/ml/model"
)

// Config sizes the network. The zero value is not valid; start from Default.
type Config struct {
	// Width multiplies every channel count (1 = the reference's 64-128-256-512).
	Width float64
	// BlocksPerStage is the number of basic blocks in each of the four stages
	// (2 for ResNet-18).
	BlocksPerStage int
	// NumClasses is the size of the output layer.
	NumClasses int
}

// Default is the reference CIFAR ResNet-18.
var Default = Config{Width: 1, BlocksPerStage: 2, NumClasses: 10}

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
		return fmt.Errorf("resnet: invalid config %+v: width must be > 0, blocks per stage >= 1, classes >= 1", c)
	}
	return nil
}

// ModelFn returns a function that maps images [batch, 32, 32, 3] (channels
// last) to logits [batch, NumClasses].
func (c Config) ModelFn() func(scope *model.Scope, images *graph.Node) *graph.Node {
	return func(scope *model.Scope, images *graph.Node) *graph.Node {
		return c.Build(scope, images)
	}
}

// Build adds the network to the graph of images and returns the logits.
func (c Config) Build(scope *model.Scope, images *graph.Node) *graph.Node {
	x := convBN(scope.In("stem"), images, c.Channels(0), 3, 1)
	x = activation.Relu(x)
	for stage := range 4 {
		for block := range c.BlocksPerStage {
			stride := 1
			if stage > 0 && block == 0 {
				stride = 2
			}
			x = basicBlock(scope.In("stage%d_block%d", stage+1, block), x, c.Channels(stage), stride)
		}
	}
	x = graph.ReduceMean(x, 1, 2) // global average pool
	return layers.DenseWithBias(scope.In("fc"), x, c.NumClasses)
}

// convBN is a bias-free convolution followed by batch norm.
func convBN(scope *model.Scope, x *graph.Node, channels, kernel, stride int) *graph.Node {
	x = layers.Convolution(scope.In("conv"), x).Channels(channels).KernelSize(kernel).
		Strides(stride).PadSame().UseBias(false).Done()
	return norm.BatchNorm(scope.In("bn"), x, -1).Done()
}

// basicBlock is conv3x3-BN-ReLU-conv3x3-BN plus the shortcut, then ReLU.
func basicBlock(scope *model.Scope, x *graph.Node, channels, stride int) *graph.Node {
	shortcut := x
	if stride != 1 || x.Shape().Dim(-1) != channels {
		shortcut = convBN(scope.In("shortcut"), x, channels, 1, stride)
	}
	y := activation.Relu(convBN(scope.In("conv1"), x, channels, 3, stride))
	y = convBN(scope.In("conv2"), y, channels, 3, 1)
	return activation.Relu(graph.Add(y, shortcut))
}
