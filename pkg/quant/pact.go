package quant

import "github.com/gomlx/gomlx/core/graph"

// PACT is the parameterized clipping activation of Choi et al.:
//
//	y   = clip(x, 0, alpha)
//	y_q = round(y * (2^k - 1) / alpha) * alpha / (2^k - 1)
//
// Gradients (straight through the rounding): dy/dx = 1 where 0 <= x <= alpha,
// else 0; dy/dalpha = 1 where x >= alpha, else 0, summed over the tensor.
// alpha is a scalar (or broadcastable) node of x's dtype. bits: 1..8, or 32 to
// clip without quantizing (PACT is an activation function).
func PACT(x, alpha *graph.Node, bits int) *graph.Node {
	unitBits.mustCheck("PACT", bits)
	alphaFull := graph.BroadcastToShape(alpha, x.Shape())
	zero := scalarLike(x, 0)
	y := clip(x, zero, alphaFull)
	if bits != FullPrecision {
		n := scalarLike(x, levels(bits))
		y = graph.Div(graph.Mul(graph.Round(graph.Div(graph.Mul(y, n), alphaFull)), alphaFull), n)
	}
	out := withGradient(y, x, inRange(x, zero, alphaFull))
	// Add mask*(alpha - StopGradient(alpha)): zero forward, gradient mask to alpha.
	alphaMask := graph.ConvertDType(graph.GreaterOrEqual(x, alphaFull), x.DType())
	return graph.Add(out, graph.Mul(alphaMask, graph.Sub(alphaFull, graph.StopGradient(alphaFull))))
}
