package prune

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
)

// MaskName is the variable a masked layer keeps its mask in, in the
// layer's scope next to WeightsName.
const MaskName = "prune_mask"

// WeightsName is the variable of the weights a mask applies to (pkg/nn's
// layers name their kernels so).
const WeightsName = "weights"

// Mask is an nn.WeightQuantizer that returns w * mask, the mask being the
// layer's non-trainable MaskName variable of w's shape (ones until Update
// prunes): the layer computes with its pruned weights, and a pruned weight
// gets no gradient from the loss.
func Mask(scope *model.Scope, w *graph.Node) *graph.Node {
	m := scope.WithInitializer(initializer.One).VariableWithShape(MaskName, w.Shape()).SetTrainable(false)
	return graph.Mul(w, m.NodeValue(w.Graph()))
}

// Then is Mask followed by q (nil: Mask alone): Deep Compression's order,
// prune, then quantize what is left.
func Then(q nn.WeightQuantizer) nn.WeightQuantizer {
	if q == nil {
		return Mask
	}
	return func(scope *model.Scope, w *graph.Node) *graph.Node { return q(scope, Mask(scope, w)) }
}

// Materialize builds the model once on the store (one inference pass on
// zeros of the input shape) so that its variables, the masks among them,
// exist before training starts: Update can then prune before the first
// step, as a one-shot pruning of a trained model does. Variables the store
// already has keep their values.
func Materialize(backend compute.Backend, store *model.Store, fn func(scope *model.Scope, x *graph.Node) *graph.Node, input shapes.Shape) error {
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, x *graph.Node) *graph.Node {
		scope.SetTraining(x.Graph(), false)
		return fn(scope, x)
	})
	if err != nil {
		return err
	}
	outs, err := exec.Call(tensors.FromShape(input))
	if err != nil {
		return fmt.Errorf("prune: building the model: %w", err)
	}
	for _, o := range outs {
		o.MustFinalizeAll()
	}
	return nil
}
