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
//
// It is two Wheres rather than ConvertDType(LogicalAnd(...)): the Go backend
// runs Where with scalar branches in assembly but LogicalAnd and the
// bool-to-float conversion element by element, and every quantized
// activation of a training step pays for this mask.
func inRange(x, lo, hi *graph.Node) *graph.Node {
	one, zero := scalarLike(x, 1), scalarLike(x, 0)
	return graph.Where(graph.GreaterOrEqual(x, lo), graph.Where(graph.LessOrEqual(x, hi), one, zero), zero)
}

// clip is min(max(x, lo), hi) with no gradient; callers attach their own.
func clip(x, lo, hi *graph.Node) *graph.Node {
	return graph.Min(graph.Max(x, lo), hi)
}

// scalarLike is a scalar constant of x's dtype.
func scalarLike(x *graph.Node, v float64) *graph.Node {
	return graph.Scalar(x.Graph(), x.DType(), v)
}
