package quant

import (
	"math"

	"github.com/gomlx/gomlx/core/graph"
)

// LSQ is learned step size quantization (Esser et al.):
//
//	v_hat = round(clip(v / s, -Qn, Qp)) * s
//
// signed (weights): Qn = 2^(k-1), Qp = 2^(k-1) - 1; unsigned (activations):
// Qn = 0, Qp = 2^k - 1. The gradient passes straight through the rounding, so
// dv_hat/dv = 1 inside [-Qn*s, Qp*s] and 0 outside, and dv_hat/ds =
// round(v/s) - v/s inside, -Qn or Qp outside; the step's gradient is then
// multiplied by g = 1/sqrt(Qp * N), N the number of elements of v (batch
// included, as the reference did). step is a scalar node of v's dtype.
// bits: 2..8 signed, 1..8 unsigned, or 32 for the identity.
func LSQ(v, step *graph.Node, bits int, signed bool) *graph.Node {
	r := unitBits
	if signed {
		r = signedBits
	}
	r.mustCheck("LSQ", bits)
	if bits == FullPrecision {
		return v
	}
	qn, qp := lsqRange(bits, signed)
	g := 1 / math.Sqrt(qp*float64(v.Shape().Size()))
	s := scaleGradient(step, g)
	scaled := graph.Div(v, s)
	lo, hi := scalarLike(v, -qn), scalarLike(v, qp)
	clipped := withGradient(clip(scaled, lo, hi), scaled, inRange(scaled, lo, hi))
	rounded := withGradient(graph.Round(clipped), clipped, nil)
	return graph.Mul(rounded, s)
}

// lsqRange returns (Qn, Qp) for a bit width.
func lsqRange(bits int, signed bool) (qn, qp float64) {
	if signed {
		half := float64(int64(1) << (bits - 1))
		return half, half - 1
	}
	return 0, levels(bits)
}

// scaleGradient returns x unchanged with its gradient multiplied by g:
// x*g + StopGradient(x - x*g) would round; the exact-zero form is used.
func scaleGradient(x *graph.Node, g float64) *graph.Node {
	gn := scalarLike(x, g)
	return graph.Add(graph.StopGradient(x), graph.Mul(graph.Sub(x, graph.StopGradient(x)), gn))
}
