package quant

import (
	"math"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
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

// lsqMinStep is the smallest step LSQLayer initializes.
const lsqMinStep = 1e-8

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

// LSQLayerBuilder configures an LSQ quantizer. Create it with LSQLayer.
type LSQLayerBuilder struct {
	scope  *model.Scope
	v      *graph.Node
	bits   int
	signed bool
}

// LSQLayer returns a builder applying LSQ to v with a trainable scalar step,
// the variable "step" of scope (give each quantizer its own scope). The step
// is initialized from the first training batch it sees, as 2*mean(|v|)/sqrt(Qp);
// the variable "step_initialized" records that it was. Use Signed(true) for
// weights (bits default ParamWeightBits) and the default unsigned form for
// activations (bits default ParamActivationBits).
func LSQLayer(scope *model.Scope, v *graph.Node) *LSQLayerBuilder {
	return &LSQLayerBuilder{scope: scope, v: v}
}

// Bits sets the bit width (2..8 signed, 1..8 unsigned, or 32 for none).
func (b *LSQLayerBuilder) Bits(bits int) *LSQLayerBuilder { b.bits = bits; return b }

// Signed selects the signed grid (weights) instead of the unsigned one.
func (b *LSQLayerBuilder) Signed(signed bool) *LSQLayerBuilder { b.signed = signed; return b }

// Done returns the quantized values.
func (b *LSQLayerBuilder) Done() *graph.Node {
	param, r := ParamActivationBits, unitBits
	if b.signed {
		param, r = ParamWeightBits, signedBits
	}
	bits := bitsOr(b.scope, b.bits, param)
	if err := r.check("LSQLayer", bits); err != nil {
		panic(err)
	}
	if bits == FullPrecision {
		return b.v
	}
	g := b.v.Graph()
	_, qp := lsqRange(bits, b.signed)
	stepVar := b.scope.VariableWithValue("step", float32(1))
	doneVar := b.scope.VariableWithValue("step_initialized", false).SetTrainable(false)
	initial := graph.StopGradient(graph.MulScalar(graph.ReduceAllMean(graph.Abs(b.v)), 2/math.Sqrt(qp)))
	// An all-zero first batch (an activation no input reaches, a pruned
	// layer) would give a zero step and 0/0 = NaN in LSQ: such a step starts
	// at lsqMinStep instead, which leaves every other step as it was.
	initial = graph.Max(graph.ConvertDType(initial, stepVar.Shape().DType), graph.Scalar(g, stepVar.Shape().DType, lsqMinStep))
	step := graph.Where(doneVar.NodeValue(g), stepVar.NodeValue(g), initial)
	if b.scope.IsTraining(g) {
		stepVar.SetNodeValue(step)
		doneVar.SetNodeValue(graph.Const(g, true))
	}
	return LSQ(b.v, graph.ConvertDType(step, b.v.DType()), bits, b.signed)
}
