package nn

import (
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// foldSpec names the batch norm folded into a convolution.
type foldSpec struct {
	bnScope *model.Scope
	epsilon float64
}

// FoldBatchNorm folds the batch norm whose variables live in bnScope (as
// BatchNorm created them, with this epsilon) into the convolution, for
// post-training quantization (PyTorch's fuse_modules): with
// a = scale / sqrt(running_var + eps),
//
//	weights' = weights * a          (per output channel)
//	bias'    = (bias - running_mean) * a + offset
//
// so conv'(x) equals BN(conv(x)) in inference. The folded weights are what
// the weight quantizer then sees. The BN variables must exist (a trained
// store); the layer records the BN's parameters as its own in summaries.
func (b *ConvBuilder) FoldBatchNorm(bnScope *model.Scope, epsilon float64) *ConvBuilder {
	b.fold = &foldSpec{bnScope: bnScope, epsilon: epsilon}
	return b
}

// apply returns the folded weights and bias.
func (f *foldSpec) apply(g *graph.Graph, w, bias *graph.Node) (*graph.Node, *graph.Node) {
	channels := w.Shape().Dim(-1)
	v := newBNVariables(f.bnScope, channels)
	a := graph.Mul(v.scale.NodeValue(g), graph.Rsqrt(graph.AddScalar(v.variance.NodeValue(g), f.epsilon)))
	w = graph.Mul(w, lastAxis(a, w.Rank()))
	if bias == nil {
		bias = graph.ZerosLike(a)
	}
	bias = graph.Add(graph.Mul(graph.Sub(bias, v.mean.NodeValue(g)), a), v.offset.NodeValue(g))
	Record(f.bnScope, "bn", "folded", nil, 2*channels)
	return w, bias
}
