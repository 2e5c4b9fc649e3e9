package quant

import (
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/support/exceptions"
)

// FakeQuantAffine is PyTorch's fake quantization with an affine grid:
//
//	q(x) = (clamp(round(x / scale) + zeroPoint, qmin, qmax) - zeroPoint) * scale
//
// Its gradient is PyTorch's fake-quant mask: 1 where round(x/scale) +
// zeroPoint lies in [qmin, qmax], 0 elsewhere; scale and zeroPoint get no
// gradient. scale and zeroPoint are scalars, or per-channel tensors that
// broadcast against x, of x's dtype (zeroPoint holds integer values).
func FakeQuantAffine(x, scale, zeroPoint *graph.Node, qmin, qmax int) *graph.Node {
	if qmin > qmax {
		exceptions.Panicf("quant.FakeQuantAffine: qmin (%d) > qmax (%d)", qmin, qmax)
	}
	scale = graph.StopGradient(graph.BroadcastToShape(scale, x.Shape()))
	zeroPoint = graph.StopGradient(graph.BroadcastToShape(zeroPoint, x.Shape()))
	lo, hi := scalarLike(x, float64(qmin)), scalarLike(x, float64(qmax))
	q := graph.Add(graph.Round(graph.Div(x, scale)), zeroPoint)
	value := graph.Mul(graph.Sub(clip(q, lo, hi), zeroPoint), scale)
	return withGradient(value, x, inRange(q, lo, hi))
}
