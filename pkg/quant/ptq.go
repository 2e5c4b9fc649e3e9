package quant

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// PTQMode is what PTQ quantizers do in a graph, set with the scope
// hyperparameter ParamPTQMode.
type PTQMode string

// The PTQ modes.
const (
	// PTQOff: quantizers pass values through untouched (the FP model).
	PTQOff PTQMode = "off"
	// PTQCalibrate: activation observers update their statistics from every
	// batch and pass values through (PyTorch's "prepared" model).
	PTQCalibrate PTQMode = "calibrate"
	// PTQFrozen: quantizers fake-quantize with the stored parameters.
	PTQFrozen PTQMode = "frozen"
)

// ptqMode reads the scope's PTQ mode; unknown values are an error.
func ptqMode(scope *model.Scope) (PTQMode, error) {
	m := PTQMode(model.GetParamOr(scope, ParamPTQMode, string(PTQOff)))
	switch m {
	case PTQOff, PTQCalibrate, PTQFrozen:
		return m, nil
	}
	return "", fmt.Errorf("quant: %s=%q: valid modes are off, calibrate, frozen", ParamPTQMode, m)
}

// PTQActivationLayerBuilder configures a PTQ activation fake-quantizer with an
// observer. Create it with PTQActivationLayer.
type PTQActivationLayerBuilder struct {
	scope    *model.Scope
	x        *graph.Node
	bits     int
	observer Observer
}

// PTQActivationLayer returns a builder for the PTQ activation quantizer of
// PROTOCOL section 4: unsigned affine per tensor on [0, 2^a - 1],
//
//	scale = (max' - min') / (2^a - 1), min' = min(min, 0), max' = max(max, 0)
//	zero  = clamp(round(-min'/scale), 0, 2^a - 1)   (scale = float32 epsilon if 0)
//	q(x)  = FakeQuantAffine(x, scale, zero, 0, 2^a - 1)
//
// with true k-bit clamping. The range (min, max) comes from an observer over
// the calibration batches (MinMaxObserver by default, the reference's), kept
// in the scope's variables "observer_min", "observer_max" and
// "observer_batches", so it is checkpointed with the model. The mode comes
// from ParamPTQMode; bits from ParamActivationBits unless set.
func PTQActivationLayer(scope *model.Scope, x *graph.Node) *PTQActivationLayerBuilder {
	return &PTQActivationLayerBuilder{scope: scope, x: x, observer: MinMaxObserver{}}
}

// Bits sets the bit width (1..8, or 32 for none).
func (b *PTQActivationLayerBuilder) Bits(bits int) *PTQActivationLayerBuilder {
	b.bits = bits
	return b
}

// Observer sets how the range is estimated from the calibration batches.
func (b *PTQActivationLayerBuilder) Observer(o Observer) *PTQActivationLayerBuilder {
	b.observer = o
	return b
}

// Done returns x observed (calibrate), fake-quantized (frozen) or untouched (off).
func (b *PTQActivationLayerBuilder) Done() *graph.Node {
	bits := bitsOr(b.scope, b.bits, ParamActivationBits)
	if err := unitBits.check("PTQActivationLayer", bits); err != nil {
		panic(err)
	}
	mode, err := ptqMode(b.scope)
	if err != nil {
		panic(err)
	}
	if mode == PTQOff || bits == FullPrecision {
		return b.x
	}
	g := b.x.Graph()
	minVar := b.scope.VariableWithValue("observer_min", float32(0)).SetTrainable(false)
	maxVar := b.scope.VariableWithValue("observer_max", float32(0)).SetTrainable(false)
	countVar := b.scope.VariableWithValue("observer_batches", float32(0)).SetTrainable(false)
	if mode == PTQCalibrate {
		x := graph.StopGradient(graph.ConvertDType(b.x, minVar.Shape().DType))
		count := countVar.NodeValue(g)
		lo, hi := b.observer.Update(x, minVar.NodeValue(g), maxVar.NodeValue(g), count, bits)
		minVar.SetNodeValue(lo)
		maxVar.SetNodeValue(hi)
		countVar.SetNodeValue(graph.OnePlus(count))
		return b.x
	}
	if n, err := countVar.Value(); err == nil && n.Value().(float32) == 0 {
		panic(fmt.Errorf("quant: PTQ activation quantizer %q is frozen but was never calibrated: run calibration batches with %s=%q first",
			b.scope.Scope(), ParamPTQMode, PTQCalibrate))
	}
	scale, zero := AffineParams(minVar.NodeValue(g), maxVar.NodeValue(g), bits)
	dt := b.x.DType()
	return FakeQuantAffine(b.x, graph.ConvertDType(scale, dt), graph.ConvertDType(zero, dt), 0, int(levels(bits)))
}

// AffineParams is PyTorch's unsigned affine (scale, zero point) for a range
// [lo, hi] of an activation, first widened to contain 0: scale = (hi -
// lo)/(2^bits - 1) (at least float32 epsilon), zero point = round(-lo/scale)
// clamped to [0, 2^bits - 1]. FakeQuantAffine with (0, 2^bits - 1) then
// quantizes with them.
func AffineParams(lo, hi *graph.Node, bits int) (scale, zero *graph.Node) {
	n := levels(bits)
	lo = graph.Min(lo, graph.ZerosLike(lo))
	hi = graph.Max(hi, graph.ZerosLike(hi))
	scale = graph.DivScalar(graph.Sub(hi, lo), n)
	scale = graph.Max(scale, graph.Scalar(lo.Graph(), lo.DType(), epsilonFloat32))
	zero = graph.Round(graph.Neg(graph.Div(lo, scale)))
	zero = graph.Min(graph.Max(zero, graph.ZerosLike(zero)), graph.Scalar(lo.Graph(), lo.DType(), n))
	return scale, zero
}

// epsilonFloat32 is torch.finfo(torch.float32).eps, PyTorch's smallest scale.
const epsilonFloat32 = 1.1920928955078125e-07

// PTQWeightLayerBuilder configures a PTQ weight fake-quantizer. Create it with
// PTQWeightLayer.
type PTQWeightLayerBuilder struct {
	scope       *model.Scope
	w           *graph.Node
	bits        int
	perChannel  bool
	channelAxis int
}

// PTQWeightLayer returns a builder for the PTQ weight quantizer of PROTOCOL
// section 4: symmetric, zero point 0, range [-(2^(w-1)-1), 2^(w-1)-1],
// scale = max|w| / (2^(w-1)-1) per tensor (the reference's) or per output
// channel (PerChannel). The observer's statistics are those of the weights
// themselves, which do not change after training, so they are taken from w
// in the graph. Quantizes only in PTQFrozen mode; bits from ParamWeightBits.
func PTQWeightLayer(scope *model.Scope, w *graph.Node) *PTQWeightLayerBuilder {
	return &PTQWeightLayerBuilder{scope: scope, w: w, channelAxis: -1}
}

// Bits sets the bit width (2..8, or 32 for none).
func (b *PTQWeightLayerBuilder) Bits(bits int) *PTQWeightLayerBuilder { b.bits = bits; return b }

// PerChannel selects one scale per output channel, the channel being
// channelAxis of w (negative counts from the end; -1, the last axis, is the
// output channel of GoMLX's convolution and dense kernels).
func (b *PTQWeightLayerBuilder) PerChannel(channelAxis int) *PTQWeightLayerBuilder {
	b.perChannel, b.channelAxis = true, channelAxis
	return b
}

// Done returns the (fake-quantized in frozen mode) weights.
func (b *PTQWeightLayerBuilder) Done() *graph.Node {
	bits := bitsOr(b.scope, b.bits, ParamWeightBits)
	if err := signedBits.check("PTQWeightLayer", bits); err != nil {
		panic(err)
	}
	mode, err := ptqMode(b.scope)
	if err != nil {
		panic(err)
	}
	if mode != PTQFrozen || bits == FullPrecision {
		return b.w
	}
	return SymmetricFakeQuant(b.w, bits, b.perChannel, b.channelAxis)
}

// SymmetricFakeQuant fake-quantizes w on the symmetric grid
// [-(2^(k-1)-1), 2^(k-1)-1] with scale = max|w| / (2^(k-1)-1), per tensor or
// per channel along channelAxis.
func SymmetricFakeQuant(w *graph.Node, bits int, perChannel bool, channelAxis int) *graph.Node {
	signedBits.mustCheck("SymmetricFakeQuant", bits)
	if bits == FullPrecision {
		return w
	}
	qmax := float64(int64(1)<<(bits-1) - 1)
	absW := graph.StopGradient(graph.Abs(w))
	var maxAbs *graph.Node
	if perChannel {
		axis := graph.MustAdjustAxis(channelAxis, w)
		var others []int
		for a := range w.Rank() {
			if a != axis {
				others = append(others, a)
			}
		}
		maxAbs = graph.ReduceAndKeep(absW, graph.ReduceMax, others...)
	} else {
		maxAbs = graph.ReduceAllMax(absW)
	}
	scale := graph.Max(graph.DivScalar(maxAbs, qmax), scalarLike(w, epsilonFloat32))
	return FakeQuantAffine(w, scale, graph.ZerosLike(scale), -int(qmax), int(qmax))
}
