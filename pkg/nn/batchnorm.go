package nn

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

// BatchNormBuilder configures a batch normalization over the last axis.
// Create it with BatchNorm.
type BatchNormBuilder struct {
	scope    *model.Scope
	x        *graph.Node
	epsilon  float64
	momentum float64
}

// BatchNorm normalizes x over every axis but the last (channels last), as
// PyTorch's BatchNorm2d/BatchNorm1d: in training graphs with the batch's
// statistics (biased variance), updating the running statistics as
//
//	running = (1 - momentum) * running + momentum * batch   (variance: unbiased, n/(n-1))
//
// and in other graphs with the running statistics. Defaults are PyTorch's:
// epsilon 1e-5, momentum 0.1. Variables in scope: "scale" and "offset"
// (trainable, 1 and 0), "running_mean" and "running_var" (0 and 1).
//
// It uses the backend's batch-norm ops when the backend has them (XLA, our
// pure-Go engine) and the same math in plain ops otherwise, with the gradient
// flowing through the batch statistics either way.
func BatchNorm(scope *model.Scope, x *graph.Node) *BatchNormBuilder {
	return &BatchNormBuilder{scope: scope, x: x, epsilon: 1e-5, momentum: 0.1}
}

// Epsilon sets the value added to the variance.
func (b *BatchNormBuilder) Epsilon(eps float64) *BatchNormBuilder { b.epsilon = eps; return b }

// Momentum sets PyTorch's momentum: how far the running statistics move
// toward each batch's (0.1 by default; Model A uses 0.9).
func (b *BatchNormBuilder) Momentum(m float64) *BatchNormBuilder { b.momentum = m; return b }

// bnVariables are the four variables of a batch norm.
type bnVariables struct {
	scale, offset, mean, variance *model.Variable
}

func newBNVariables(scope *model.Scope, channels int) bnVariables {
	return bnVariables{
		scale:    scope.WithInitializer(initializer.One).VariableWithShape("scale", shapeF32(channels)),
		offset:   scope.WithInitializer(initializer.Zero).VariableWithShape("offset", shapeF32(channels)),
		mean:     scope.WithInitializer(initializer.Zero).VariableWithShape("running_mean", shapeF32(channels)).SetTrainable(false),
		variance: scope.WithInitializer(initializer.One).VariableWithShape("running_var", shapeF32(channels)).SetTrainable(false),
	}
}

// Done returns the normalized x.
func (b *BatchNormBuilder) Done() *graph.Node {
	x := b.x
	g := x.Graph()
	axis := x.Rank() - 1
	channels := x.Shape().Dim(axis)
	v := newBNVariables(b.scope, channels)
	dt := x.DType()
	cast := func(n *graph.Node) *graph.Node { return graph.ConvertDType(n, dt) }
	scale, offset := cast(v.scale.NodeValue(g)), cast(v.offset.NodeValue(g))
	hasOps := backendHas(g, compute.OpTypeBatchNormForTraining)
	defer Record(b.scope, "bn", "", b.x, 2*channels)

	if !b.scope.IsTraining(g) {
		mean, variance := cast(v.mean.NodeValue(g)), cast(v.variance.NodeValue(g))
		if backendHas(g, compute.OpTypeBatchNormForInference) {
			return graph.InternalBatchNormForInference(x, scale, offset, mean, variance, float32(b.epsilon), axis)
		}
		return normalize(x, scale, offset, mean, variance, b.epsilon)
	}

	var y, mean, variance *graph.Node
	if hasOps {
		y, mean, variance = graph.InternalBatchNormForTraining(x, scale, offset, float32(b.epsilon), axis)
	} else {
		reduce := make([]int, 0, axis)
		for a := range axis {
			reduce = append(reduce, a)
		}
		mean = graph.ReduceMean(x, reduce...)
		variance = graph.ReduceMean(graph.Square(graph.Sub(x, lastAxis(mean, x.Rank()))), reduce...)
		y = normalize(x, scale, offset, mean, variance, b.epsilon)
	}
	n := float64(x.Shape().Size() / channels)
	unbiased := variance
	if n > 1 {
		unbiased = graph.MulScalar(variance, n/(n-1))
	}
	m := b.momentum
	update := func(running *model.Variable, batch *graph.Node) {
		r := running.NodeValue(g)
		batch = graph.ConvertDType(graph.StopGradient(batch), r.DType())
		running.SetNodeValue(graph.Add(graph.MulScalar(r, 1-m), graph.MulScalar(batch, m)))
	}
	update(v.mean, mean)
	update(v.variance, unbiased)
	return y
}

// normalize is (x - mean) / sqrt(variance + eps) * scale + offset with
// per-channel vectors broadcast over the last axis.
func normalize(x, scale, offset, mean, variance *graph.Node, eps float64) *graph.Node {
	r := x.Rank()
	a := graph.Mul(scale, graph.Rsqrt(graph.AddScalar(variance, eps)))
	return graph.Add(graph.Mul(graph.Sub(x, lastAxis(mean, r)), lastAxis(a, r)), lastAxis(offset, r))
}

// backendHas tells whether the graph's backend implements an op.
func backendHas(g *graph.Graph, op compute.OpType) bool {
	b := g.Backend()
	return b != nil && b.Capabilities().Operations[op]
}

func shapeF32(dims ...int) shapes.Shape { return shapes.Make(dtypes.Float32, dims...) }

// lastAxis reshapes a per-channel vector to broadcast over x's last axis.
func lastAxis(v *graph.Node, rank int) *graph.Node {
	dims := make([]int, rank)
	for i := range dims {
		dims[i] = 1
	}
	dims[rank-1] = v.Shape().Size()
	return graph.Reshape(v, dims...)
}
