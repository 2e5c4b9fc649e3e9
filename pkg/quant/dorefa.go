package quant

import (
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
)

// DoReFaWeight quantizes weights as DoReFa-Net does (PROTOCOL section 4).
// For 2 <= k <= 8:
//
//	t   = tanh(w)
//	u   = t / (2 * max|t|) + 1/2        (max over the whole tensor)
//	w_q = 2 * quantize_k(u) - 1
//
// with the gradient flowing through tanh and max and straight through the
// rounding. For k = 1 (the sign rule):
//
//	w_q = sign(w) * E|w|                (E|w| treated as a constant)
//
// with a straight-through gradient. bits: 1..8, or 32 for the identity.
func DoReFaWeight(w *graph.Node, bits int) *graph.Node {
	unitBits.mustCheck("DoReFaWeight", bits)
	switch bits {
	case FullPrecision:
		return w
	case 1:
		scale := graph.StopGradient(graph.ReduceAllMean(graph.Abs(w)))
		return withGradient(graph.Mul(graph.Sign(w), scale), w, nil)
	}
	t := graph.Tanh(w)
	maxAbs := graph.ReduceAllMax(graph.Abs(t))
	u := graph.Add(graph.Div(t, graph.Mul(scalarLike(t, 2), maxAbs)), scalarLike(t, 0.5))
	return graph.Sub(graph.Mul(scalarLike(t, 2), QuantizeUnit(u, bits)), scalarLike(t, 1))
}

// DoReFaActivation quantizes activations as DoReFa-Net does:
//
//	a_q = quantize_k(clip(x, 0, 1))
//
// The gradient is 1 where 0 <= x <= 1 and 0 elsewhere (torch.clamp's rule,
// then straight through the rounding). bits: 1..8, or 32 for the identity
// (no clipping either, as PROTOCOL section 4 states for every k = 32).
func DoReFaActivation(x *graph.Node, bits int) *graph.Node {
	unitBits.mustCheck("DoReFaActivation", bits)
	if bits == FullPrecision {
		return x
	}
	zero, one := scalarLike(x, 0), scalarLike(x, 1)
	return withGradient(quantizeUnitValue(clip(x, zero, one), bits), x, inRange(x, zero, one))
}

// DoReFaGradient is the identity in the forward pass; in the backward pass it
// quantizes the incoming gradient g per sample (axis 0 is the batch):
//
//	m   = max|g| over all non-batch axes
//	g_q = 2m [ quantize_k( clip(g/(2m) + 1/2 + N, 0, 1) ) - 1/2 ],  N = u / (2^k - 1)
//
// where u = noise (same shape as x, uniform in [-1/2, 1/2)), so the result is
// deterministic given the noise; the layer draws fresh noise every step.
// Where m = 0 the gradient is 0. bits: 1..16, or 32 for the identity.
func DoReFaGradient(x *graph.Node, bits int, noise *graph.Node) *graph.Node {
	gradientBits.mustCheck("DoReFaGradient", bits)
	if bits == FullPrecision {
		return x
	}
	if !noise.Shape().Equal(x.Shape()) {
		exceptions.Panicf("quant.DoReFaGradient: noise shape %s must equal x's shape %s", noise.Shape(), x.Shape())
	}
	return graph.IdentityWithCustomGradient(x, func(_, g *graph.Node) *graph.Node {
		return quantizeGradient(g, bits, noise)
	})
}

// quantizeGradient is DoReFaGradient's backward pass.
func quantizeGradient(g *graph.Node, bits int, noise *graph.Node) *graph.Node {
	axes := make([]int, 0, g.Rank()-1)
	for a := 1; a < g.Rank(); a++ {
		axes = append(axes, a)
	}
	m := graph.Abs(g)
	if len(axes) > 0 {
		m = graph.ReduceAndKeep(m, graph.ReduceMax, axes...)
	}
	twoM := graph.Mul(scalarLike(g, 2), m)
	// Where m = 0 divide by 1 instead (the result is multiplied by 0 anyway).
	safe := graph.Where(graph.Equal(twoM, scalarLike(g, 0)), graph.OnesLike(twoM), twoM)
	n := graph.Div(noise, scalarLike(g, levels(bits)))
	arg := graph.Add(graph.Add(graph.Div(g, safe), scalarLike(g, 0.5)), n)
	q := quantizeUnitValue(clip(arg, scalarLike(g, 0), scalarLike(g, 1)), bits)
	return graph.Mul(twoM, graph.Sub(q, scalarLike(g, 0.5)))
}

// WeightLayerBuilder quantizes a weight tensor with DoReFa-Net's weight
// quantizer. Create it with DoReFaWeightLayer.
type WeightLayerBuilder struct {
	scope *model.Scope
	w     *graph.Node
	bits  int
}

// DoReFaWeightLayer returns a builder quantizing w with DoReFaWeight; the bit
// width defaults to the scope's ParamWeightBits (32 if unset).
func DoReFaWeightLayer(scope *model.Scope, w *graph.Node) *WeightLayerBuilder {
	return &WeightLayerBuilder{scope: scope, w: w}
}

// Bits sets the bit width (1..8, or 32 for none).
func (b *WeightLayerBuilder) Bits(bits int) *WeightLayerBuilder { b.bits = bits; return b }

// Done returns the quantized weights.
func (b *WeightLayerBuilder) Done() *graph.Node {
	bits := bitsOr(b.scope, b.bits, ParamWeightBits)
	if err := unitBits.check("DoReFaWeightLayer", bits); err != nil {
		panic(err)
	}
	return DoReFaWeight(b.w, bits)
}

// ActivationLayerBuilder quantizes activations with DoReFa-Net's activation
// quantizer. Create it with DoReFaActivationLayer.
type ActivationLayerBuilder struct {
	scope *model.Scope
	x     *graph.Node
	bits  int
}

// DoReFaActivationLayer returns a builder applying DoReFaActivation to x; the
// bit width defaults to the scope's ParamActivationBits.
func DoReFaActivationLayer(scope *model.Scope, x *graph.Node) *ActivationLayerBuilder {
	return &ActivationLayerBuilder{scope: scope, x: x}
}

// Bits sets the bit width (1..8, or 32 for none).
func (b *ActivationLayerBuilder) Bits(bits int) *ActivationLayerBuilder { b.bits = bits; return b }

// Done returns the quantized activations.
func (b *ActivationLayerBuilder) Done() *graph.Node {
	bits := bitsOr(b.scope, b.bits, ParamActivationBits)
	if err := unitBits.check("DoReFaActivationLayer", bits); err != nil {
		panic(err)
	}
	return DoReFaActivation(b.x, bits)
}

// GradientLayerBuilder quantizes the gradient flowing back through x. Create
// it with DoReFaGradientLayer.
type GradientLayerBuilder struct {
	scope *model.Scope
	x     *graph.Node
	bits  int
}

// DoReFaGradientLayer returns a builder applying DoReFaGradient to x with
// fresh noise u ~ U[-1/2, 1/2) drawn every step from the model's random
// generator (only in training graphs; elsewhere it is the identity). The bit
// width defaults to the scope's ParamGradientBits.
func DoReFaGradientLayer(scope *model.Scope, x *graph.Node) *GradientLayerBuilder {
	return &GradientLayerBuilder{scope: scope, x: x}
}

// Bits sets the bit width (1..16, or 32 for none).
func (b *GradientLayerBuilder) Bits(bits int) *GradientLayerBuilder { b.bits = bits; return b }

// Done returns x, with its gradient quantized in the backward pass.
func (b *GradientLayerBuilder) Done() *graph.Node {
	bits := bitsOr(b.scope, b.bits, ParamGradientBits)
	if err := gradientBits.check("DoReFaGradientLayer", bits); err != nil {
		panic(err)
	}
	if bits == FullPrecision || !b.scope.IsTraining(b.x.Graph()) {
		return b.x
	}
	u := b.scope.Store().RandomUniform(b.x.Graph(), b.x.Shape())
	return DoReFaGradient(b.x, bits, graph.Sub(u, scalarLike(u, 0.5)))
}
