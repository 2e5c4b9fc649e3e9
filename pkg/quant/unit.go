package quant

import "github.com/gomlx/gomlx/core/graph"

// QuantizeUnit is DoReFa-Net's quantize_k for x in [0, 1]:
//
//	q = round(x * (2^k - 1)) / (2^k - 1)
//
// with a straight-through gradient (dq/dx = 1 everywhere). bits: 1..8, or 32
// for the identity.
func QuantizeUnit(x *graph.Node, bits int) *graph.Node {
	unitBits.mustCheck("QuantizeUnit", bits)
	if bits == FullPrecision {
		return x
	}
	return withGradient(quantizeUnitValue(x, bits), x, nil)
}

// quantizeUnitValue is quantize_k without any gradient.
func quantizeUnitValue(x *graph.Node, bits int) *graph.Node {
	n := scalarLike(x, levels(bits))
	return graph.Div(graph.Round(graph.Mul(x, n)), n)
}
