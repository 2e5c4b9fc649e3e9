// Package placement applies a quant.Config's quantizers at the sites a model
// names (weights, activations, gradients, PTQ observation points), so that
// each model states only where the reference placed them (PROTOCOL section
// 3d), and records every site in the model summary (pkg/nn).
package placement

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
	"github.com/mlsysrep/mlsysrep/pkg/prune"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
)

// Quantizers places the quantizers of one config. Build it with New, which
// validates the config: the methods below then cannot fail, and panic (GoMLX
// style) only on programming errors.
type Quantizers struct {
	quant.Config
	// Prune masks the weights of every conv and FC the model places
	// (pkg/prune.Mask, before any weight quantizer) except in scopes where
	// ParamUnpruned is true, which the models set on their stems.
	Prune bool
}

// New validates c.
func New(c quant.Config) (Quantizers, error) {
	if c.Method == "" {
		c = quant.Config{Method: quant.FP, WBits: 32, ABits: 32, GBits: 32}
	}
	if _, ok := policies[c.Method]; !ok {
		return Quantizers{Config: c}, fmt.Errorf("placement: method %q has no placement policy (policy.go)", c.Method)
	}
	return Quantizers{Config: c}, c.Validate()
}

// IsPTQ tells whether the model is built in its PTQ form (BN folded,
// observers at every PTQ site).
func (q Quantizers) IsPTQ() bool { return q.Method == quant.PTQ }

// Weights returns the weight quantizer of a quantized layer (nil for FP).
func (q Quantizers) Weights() nn.WeightQuantizer {
	var f func(scope *model.Scope, w *graph.Node, bits int) *graph.Node
	switch q.Method {
	case quant.DoReFa, quant.PACTM:
		f = func(scope *model.Scope, w *graph.Node, bits int) *graph.Node {
			return quant.DoReFaWeightLayer(scope, w).Bits(bits).Done()
		}
	case quant.LSQM:
		f = func(scope *model.Scope, w *graph.Node, bits int) *graph.Node {
			return quant.LSQLayer(scope.In("lsq_weights"), w).Signed(true).Bits(bits).Done()
		}
	case quant.PTQ:
		f = func(scope *model.Scope, w *graph.Node, bits int) *graph.Node {
			b := quant.PTQWeightLayer(scope, w).Bits(bits)
			if q.PerChannel {
				b = b.PerChannel(-1)
			}
			return b.Done()
		}
	default:
		return nil
	}
	return func(scope *model.Scope, w *graph.Node) *graph.Node {
		bits := model.GetParamOr(scope, ParamWeightBits, q.WBits)
		nn.Record(scope, nn.QuantizerWeight, fmt.Sprintf("%s:w%d", q.Method, bits), w, 0)
		return f(scope, w, bits)
	}
}

// Activation applies the method's activation quantizer where the reference
// replaced an activation function fp (ReLU, ReLU6) by one; FP and PTQ keep fp.
func (q Quantizers) Activation(scope *model.Scope, x *graph.Node, fp func(*graph.Node) *graph.Node) *graph.Node {
	var y *graph.Node
	bits := q.activationBits(scope)
	switch q.Method {
	case quant.DoReFa:
		y = quant.DoReFaActivationLayer(scope, x).Bits(bits).Done()
	case quant.PACTM:
		y = quant.PACTLayer(scope.In("pact"), x).Bits(bits).Done()
	case quant.LSQM:
		y = quant.LSQLayer(scope.In("lsq_activations"), x).Bits(bits).Done()
	default:
		return fp(x)
	}
	nn.Record(scope, nn.QuantizerActivation, fmt.Sprintf("%s:a%d", q.Method, bits), y, 0)
	return y
}

// Gradient places DoReFa's gradient quantizer (other methods: identity).
func (q Quantizers) Gradient(scope *model.Scope, x *graph.Node) *graph.Node {
	if q.Method != quant.DoReFa {
		return x
	}
	nn.Record(scope, nn.QuantizerGradient, fmt.Sprintf("dorefa:g%d", q.GBits), x, 0)
	return quant.DoReFaGradientLayer(scope.In("gradient"), x).Bits(q.GBits).Done()
}

// Observe places a PTQ activation fake-quantizer (with its observer) in the
// PTQ form; other methods: identity.
func (q Quantizers) Observe(scope *model.Scope, x *graph.Node) *graph.Node {
	if q.Method != quant.PTQ {
		return x
	}
	bits := q.activationBits(scope)
	nn.Record(scope, nn.QuantizerActivation, fmt.Sprintf("ptq:a%d", bits), x, 0)
	// New validated the config, so its observer parses.
	o, err := q.PTQObserver()
	if err != nil {
		panic(err)
	}
	return quant.PTQActivationLayer(scope.In("ptq"), x).Bits(bits).Observer(o).Done()
}

// ParamUnpruned (bool), set true on a scope, keeps the layers placed in it
// or below it unpruned when the model is pruned (Quantizers.Prune): the
// models set it on their stem, whose 3-channel 3x3 conv is a tiny, exposed
// part of the network.
const ParamUnpruned = "placement_unpruned"

// pruned is w with pkg/prune's mask in front of it when the model is pruned
// and scope is not ParamUnpruned (w may be nil: the mask alone).
func (q Quantizers) pruned(scope *model.Scope, w nn.WeightQuantizer) nn.WeightQuantizer {
	if !q.Prune || model.GetParamOr(scope, ParamUnpruned, false) {
		return w
	}
	return prune.Then(w)
}

// ParamWeightBits and ParamActivationBits (int), set on a scope, replace the
// config's weight or activation bit width for every site placed in that
// scope or below it (GoMLX scope parameters are inherited): mixed precision,
// such as one layer kept at 8 bits, and how the model tests quantize one kind
// of site alone to prove that its quantizer reaches the logits. A site's
// scope is the one its summary row names. Out-of-range widths panic when the
// model is built, with the quantizer's error.
const (
	ParamWeightBits     = "placement_weight_bits"
	ParamActivationBits = "placement_activation_bits"
)

// activationBits is the activation bit width of the site in scope.
func (q Quantizers) activationBits(scope *model.Scope) int {
	return model.GetParamOr(scope, ParamActivationBits, q.ABits)
}
