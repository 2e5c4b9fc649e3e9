package placement

import (
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
)

// ConvLayer is a convolution builder (nn.ConvBuilder, nn.DepthwiseBuilder).
type ConvLayer[T any] interface {
	FoldBatchNorm(bnScope *model.Scope, epsilon float64) T
	Quantize(q nn.WeightQuantizer) T
	Done() *graph.Node
}

// ConvBN is the conv + BN unit every model repeats, per method: the conv
// made by newConv in scope/conv, with quantized weights and then DoReFa's
// gradient quantizer when quantized, followed by the BN in scope/bn
// (PyTorch semantics, epsilon eps); in the PTQ form the BN is folded into the
// conv and the folded weights are quantized. In a pruned model the weights
// are masked first (Quantizers.Prune).
func ConvBN[T ConvLayer[T]](q Quantizers, scope *model.Scope, newConv func(convScope *model.Scope) T, quantized bool, eps float64) *graph.Node {
	cs := scope.In("conv")
	b := newConv(cs)
	if q.IsPTQ() {
		return b.FoldBatchNorm(scope.In("bn"), eps).Quantize(q.pruned(cs, q.Weights())).Done()
	}
	var w nn.WeightQuantizer
	if quantized {
		w = q.Weights()
	}
	if w = q.pruned(cs, w); w != nil {
		b = b.Quantize(w)
	}
	y := b.Done()
	if quantized {
		y = q.Gradient(cs, y)
	}
	return nn.BatchNorm(scope.In("bn"), y).Epsilon(eps).Done()
}

// Classifier is the final fully connected layer (scope/fc): full precision
// for QAT (the reference kept it so), weights and output fake-quantized in
// the PTQ form; its weights masked in a pruned model.
func Classifier(q Quantizers, scope *model.Scope, x *graph.Node, classes int) *graph.Node {
	var w nn.WeightQuantizer
	if q.IsPTQ() {
		w = q.Weights()
	}
	fc := scope.In("fc")
	return q.Observe(fc, nn.Dense(fc, x, classes, q.pruned(fc, w)))
}
