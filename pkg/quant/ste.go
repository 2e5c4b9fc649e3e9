package quant

import "github.com/gomlx/gomlx/core/graph"

// withGradient returns a node whose forward value is exactly value and whose
// gradient with respect to x is the incoming gradient times mask (mask nil
// means 1): value + mask*(x - StopGradient(x)). The added term is an exact
// zero in the forward pass, so the value is bit-for-bit the formula's, unlike
// the common x + StopGradient(q - x).
func withGradient(value, x, mask *graph.Node) *graph.Node {
	zero := graph.Sub(x, graph.StopGradient(x))
	if mask != nil {
		zero = graph.Mul(zero, mask)
	}
	return graph.Add(graph.StopGradient(value), zero)
}

// inRange is 1 where lo <= x <= hi (both inclusive, as torch.clamp's
// gradient), else 0, in x's dtype. lo and hi broadcast against x.
func inRange(x, lo, hi *graph.Node) *graph.Node {
	return graph.ConvertDType(graph.LogicalAnd(graph.GreaterOrEqual(x, lo), graph.LessOrEqual(x, hi)), x.DType())
}

// clip is min(max(x, lo), hi) with no gradient; callers attach their own.
func clip(x, lo, hi *graph.Node) *graph.Node {
	return graph.Min(graph.Max(x, lo), hi)
}

// scalarLike is a scalar constant of x's dtype.
func scalarLike(x *graph.Node, v float64) *graph.Node {
	return graph.Scalar(x.Graph(), x.DType(), v)
}
