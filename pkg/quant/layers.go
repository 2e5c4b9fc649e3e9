package quant

import (
	"math"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
)

// The layers wrap the graph functions for use inside models: they read their
// bit widths from the builder or the scope's hyperparameters, own their
// trainable parameters (PACT's alpha, LSQ's step) as variables of the scope
// they are given (so give each site its own scope), and report a bad bit
// width as an error from Done instead of a panic.
//
//	y, err := quant.PACTLayer(scope.In("act1"), x).Bits(4).Done()

// bitsOr returns the builder's bits if set, else the scope's param, else 32.
func bitsOr(scope *model.Scope, bits int, param string) int {
	if bits != 0 {
		return bits
	}
	return model.GetParamOr(scope, param, FullPrecision)
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
func (b *WeightLayerBuilder) Done() (*graph.Node, error) {
	bits := bitsOr(b.scope, b.bits, ParamWeightBits)
	if err := unitBits.check("DoReFaWeightLayer", bits); err != nil {
		return nil, err
	}
	return DoReFaWeight(b.w, bits), nil
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
func (b *ActivationLayerBuilder) Done() (*graph.Node, error) {
	bits := bitsOr(b.scope, b.bits, ParamActivationBits)
	if err := unitBits.check("DoReFaActivationLayer", bits); err != nil {
		return nil, err
	}
	return DoReFaActivation(b.x, bits), nil
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
func (b *GradientLayerBuilder) Done() (*graph.Node, error) {
	bits := bitsOr(b.scope, b.bits, ParamGradientBits)
	if err := gradientBits.check("DoReFaGradientLayer", bits); err != nil {
		return nil, err
	}
	if bits == FullPrecision || !b.scope.IsTraining(b.x.Graph()) {
		return b.x, nil
	}
	u := b.scope.Store().RandomUniform(b.x.Graph(), b.x.Shape())
	return DoReFaGradient(b.x, bits, graph.Sub(u, scalarLike(u, 0.5))), nil
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
func (b *PACTLayerBuilder) Done() (*graph.Node, error) {
	bits := bitsOr(b.scope, b.bits, ParamActivationBits)
	if err := unitBits.check("PACTLayer", bits); err != nil {
		return nil, err
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
	return PACT(b.x, alpha, bits), nil
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
func (b *LSQLayerBuilder) Done() (*graph.Node, error) {
	param, r := ParamActivationBits, unitBits
	if b.signed {
		param, r = ParamWeightBits, signedBits
	}
	bits := bitsOr(b.scope, b.bits, param)
	if err := r.check("LSQLayer", bits); err != nil {
		return nil, err
	}
	if bits == FullPrecision {
		return b.v, nil
	}
	g := b.v.Graph()
	_, qp := lsqRange(bits, b.signed)
	stepVar := b.scope.VariableWithValue("step", float32(1))
	doneVar := b.scope.VariableWithValue("step_initialized", false).SetTrainable(false)
	initial := graph.StopGradient(graph.MulScalar(graph.ReduceAllMean(graph.Abs(b.v)), 2/math.Sqrt(qp)))
	initial = graph.ConvertDType(initial, stepVar.Shape().DType)
	step := graph.Where(doneVar.NodeValue(g), stepVar.NodeValue(g), initial)
	if b.scope.IsTraining(g) {
		stepVar.SetNodeValue(step)
		doneVar.SetNodeValue(graph.Const(g, true))
	}
	return LSQ(b.v, graph.ConvertDType(step, b.v.DType()), bits, b.signed), nil
}
