// Package svhnnet builds DoReFa-Net's SVHN "Model A" as the reference
// implemented it (PROTOCOL section 3c), on 40x40 inputs:
//
//	L0  5x5 conv 3->48 valid (bias, never quantized), 2x2 max pool, quantized activation  40 -> 36 -> 18
//	L1  quantized 3x3 conv 48->64 pad 1, gradient quantizer, BN (no activation)           18
//	L2  quantized 3x3 conv 64->64 pad 1, gradq, BN, 2x2 max pool, quantized activation     18 -> 9
//	L3  quantized 3x3 conv 64->128 valid, gradq, BN, quantized activation                  9 -> 7
//	L4  quantized 3x3 conv 128->128 pad 1, gradq, BN, quantized activation                 7
//	L5  quantized 3x3 conv 128->128 valid, gradq, BN, quantized activation                 7 -> 5
//	L6  channel dropout 0.5, quantized 5x5 conv 128->512 valid, gradq, BN                  5 -> 1
//	head ReLU, FC 512->10 (never quantized)
//
// Quantized convs have biases; BN uses epsilon 1e-4 and PyTorch momentum 0.9.
// In full precision the quantized activations are ReLUs.
package svhnnet

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/models/placement"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
)

// Config says how Model A is quantized (full precision or DoReFa) and
// optionally narrows it for tests.
type Config struct {
	// Width multiplies every channel count (1 = the reference model).
	Width float64
	// NumClasses is the size of the output layer (10 digits).
	NumClasses int
	// Quant is fp or dorefa:wXaYgZ.
	Quant quant.Config
	// Dropout is L6's channel dropout probability (0.5 in the reference).
	Dropout float64
}

// Default is the reference Model A in full precision.
var Default = Config{Width: 1, NumClasses: 10, Dropout: 0.5, Quant: quant.Config{Method: quant.FP, WBits: 32, ABits: 32, GBits: 32}}

// InputSize is the side of the images Model A takes.
const InputSize = 40

const (
	bnEpsilon  = 1e-4
	bnMomentum = 0.9
)

// Validate reports a config Model A cannot be built with.
func (c Config) Validate() error {
	if c.Width <= 0 || c.NumClasses < 1 || c.Dropout < 0 || c.Dropout >= 1 {
		return fmt.Errorf("svhnnet: invalid config: width %g > 0, classes %d >= 1, dropout %g in [0, 1)", c.Width, c.NumClasses, c.Dropout)
	}
	if m := c.Quant.Method; m != quant.FP && m != quant.DoReFa && m != "" {
		return fmt.Errorf("svhnnet: Model A is the DoReFa-Net model: method %q is not supported (use fp or dorefa)", m)
	}
	_, err := placement.New(c.Quant)
	return err
}

// ModelFn returns a function mapping images [batch, 40, 40, 3] to logits.
func (c Config) ModelFn() func(scope *model.Scope, images *graph.Node) *graph.Node { return c.Build }

func (c Config) channels(reference int) int { return max(1, int(float64(reference)*c.Width+0.5)) }

// Build adds Model A to the graph and returns the logits. It panics on an
// invalid config (call Validate first).
func (c Config) Build(scope *model.Scope, images *graph.Node) *graph.Node {
	if err := c.Validate(); err != nil {
		panic(err)
	}
	q, _ := placement.New(c.Quant)
	act := func(name string, x *graph.Node) *graph.Node {
		return q.Activation(scope.In("%s", name), x, activation.Relu)
	}
	// L0: never quantized.
	x := nn.Conv(scope.In("l0"), images).Channels(c.channels(48)).KernelSize(5).Padding(0).Bias(true).Done()
	x = act("l0_act", graph.MaxPool(x).Window(2).Done())
	layer := func(name string, x *graph.Node, out, kernel, pad int) *graph.Node {
		s := scope.In("%s", name)
		y := nn.Conv(s, x).Channels(c.channels(out)).KernelSize(kernel).Padding(pad).Bias(true).Quantize(q.Weights()).Done()
		y = q.Gradient(s, y)
		return nn.BatchNorm(s.In("bn"), y).Epsilon(bnEpsilon).Momentum(bnMomentum).Done()
	}
	x = layer("l1", x, 64, 3, 1)
	x = act("l2_act", graph.MaxPool(layer("l2", x, 64, 3, 1)).Window(2).Done())
	x = act("l3_act", layer("l3", x, 128, 3, 0))
	x = act("l4_act", layer("l4", x, 128, 3, 1))
	x = act("l5_act", layer("l5", x, 128, 3, 0))
	x = nn.ChannelDropout(scope.In("l6_dropout"), x, c.Dropout)
	x = layer("l6", x, 512, 5, 0)
	x = graph.Reshape(activation.Relu(x), x.Shape().Dim(0), -1)
	return nn.Dense(scope.In("fc"), x, c.NumClasses, nil)
}
