package quant

import (
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
)

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

// PACTLayerBuilder configures a PACT activation. Create it with PACTLayer.
type PACTLayerBuilder struct {
	scope     *model.Scope
	x         *graph.Node
	bits      int
	alphaInit float64
	lambda    float64
	lambdaSet bool
}

// PACTLayer returns a builder applying PACT to x with a trainable scalar
// alpha, the variable "alpha" of scope (one per scope: give each site its
// own), initialized to ParamPACTAlphaInit (default 10). In training graphs it
// adds lambda*alpha^2 to the loss as a regularization term (ParamPACTLambda,
// default 2e-4), so the total is lambda*sum(alpha^2) over the sites.
func PACTLayer(scope *model.Scope, x *graph.Node) *PACTLayerBuilder {
	return &PACTLayerBuilder{scope: scope, x: x,
		alphaInit: model.GetParamOr(scope, ParamPACTAlphaInit, DefaultPACTAlphaInit)}
}

// Bits sets the bit width (1..8, or 32 to clip without quantizing).
func (b *PACTLayerBuilder) Bits(bits int) *PACTLayerBuilder { b.bits = bits; return b }

// InitialAlpha sets alpha's initial value.
func (b *PACTLayerBuilder) InitialAlpha(alpha float64) *PACTLayerBuilder {
	b.alphaInit = alpha
	return b
}

// Lambda sets the weight of the alpha^2 regularizer (0 turns it off).
func (b *PACTLayerBuilder) Lambda(lambda float64) *PACTLayerBuilder {
	b.lambda, b.lambdaSet = lambda, true
	return b
}

// Done returns the PACT activation.
func (b *PACTLayerBuilder) Done() *graph.Node {
	bits := bitsOr(b.scope, b.bits, ParamActivationBits)
	if err := unitBits.check("PACTLayer", bits); err != nil {
		panic(err)
	}
	g := b.x.Graph()
	alphaVar := b.scope.VariableWithValue("alpha", float32(b.alphaInit))
	alpha := graph.ConvertDType(alphaVar.NodeValue(g), b.x.DType())
	lambda := b.lambda
	if !b.lambdaSet {
		lambda = model.GetParamOr(b.scope, ParamPACTLambda, DefaultPACTLambda)
	}
	if lambda > 0 && b.scope.IsTraining(g) {
		train.AddRegularizationLoss(graph.MulScalar(graph.Square(alphaVar.NodeValue(g)), lambda))
	}
	return PACT(b.x, alpha, bits)
}
