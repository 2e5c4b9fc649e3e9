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
	"github.com/mlsysrep/mlsysrep/pkg/quant"
)

// Quantizers places the quantizers of one config. Build it with New, which
// validates the config: the methods below then cannot fail, and panic (GoMLX
// style) only on programming errors.
type Quantizers struct {
	quant.Config
}

// New validates c.
func New(c quant.Config) (Quantizers, error) {
	if c.Method == "" {
		c = quant.Config{Method: quant.FP, WBits: 32, ABits: 32, GBits: 32}
	}
	return Quantizers{c}, c.Validate()
}

func must(n *graph.Node, err error) *graph.Node {
	if err != nil {
		panic(err)
	}
	return n
}

// IsPTQ tells whether the model is built in its PTQ form (BN folded,
// observers at every PTQ site).
func (q Quantizers) IsPTQ() bool { return q.Method == quant.PTQ }

// Weights returns the weight quantizer of a quantized layer (nil for FP).
func (q Quantizers) Weights() nn.WeightQuantizer {
	var f func(scope *model.Scope, w *graph.Node) *graph.Node
	switch q.Method {
	case quant.DoReFa, quant.PACTM:
		f = func(scope *model.Scope, w *graph.Node) *graph.Node {
			return must(quant.DoReFaWeightLayer(scope, w).Bits(q.WBits).Done())
		}
	case quant.LSQM:
		f = func(scope *model.Scope, w *graph.Node) *graph.Node {
			return must(quant.LSQLayer(scope.In("lsq_weights"), w).Signed(true).Bits(q.WBits).Done())
		}
	case quant.PTQ:
		f = func(scope *model.Scope, w *graph.Node) *graph.Node {
			b := quant.PTQWeightLayer(scope, w).Bits(q.WBits)
			if model.GetParamOr(scope, ParamPerChannelWeights, false) {
				b = b.PerChannel(-1)
			}
			return must(b.Done())
		}
	default:
		return nil
	}
	return func(scope *model.Scope, w *graph.Node) *graph.Node {
		nn.Record(scope, nn.QuantizerWeight, fmt.Sprintf("%s:w%d", q.Method, q.WBits), w, 0)
		return f(scope, w)
	}
}

// Activation applies the method's activation quantizer where the reference
// replaced an activation function fp (ReLU, ReLU6) by one; FP and PTQ keep fp.
func (q Quantizers) Activation(scope *model.Scope, x *graph.Node, fp func(*graph.Node) *graph.Node) *graph.Node {
	var y *graph.Node
	switch q.Method {
	case quant.DoReFa:
		y = must(quant.DoReFaActivationLayer(scope, x).Bits(q.ABits).Done())
	case quant.PACTM:
		y = must(quant.PACTLayer(scope.In("pact"), x).Bits(q.ABits).Done())
	case quant.LSQM:
		y = must(quant.LSQLayer(scope.In("lsq_activations"), x).Bits(q.ABits).Done())
	default:
		return fp(x)
	}
	nn.Record(scope, nn.QuantizerActivation, fmt.Sprintf("%s:a%d", q.Method, q.ABits), y, 0)
	return y
}

// Gradient places DoReFa's gradient quantizer (other methods: identity).
func (q Quantizers) Gradient(scope *model.Scope, x *graph.Node) *graph.Node {
	if q.Method != quant.DoReFa {
		return x
	}
	nn.Record(scope, nn.QuantizerGradient, fmt.Sprintf("dorefa:g%d", q.GBits), x, 0)
	return must(quant.DoReFaGradientLayer(scope.In("gradient"), x).Bits(q.GBits).Done())
}

// Observe places a PTQ activation fake-quantizer (with its observer) in the
// PTQ form; other methods: identity.
func (q Quantizers) Observe(scope *model.Scope, x *graph.Node) *graph.Node {
	if q.Method != quant.PTQ {
		return x
	}
	nn.Record(scope, nn.QuantizerActivation, fmt.Sprintf("ptq:a%d", q.ABits), x, 0)
	return must(quant.PTQActivationLayer(scope.In("ptq"), x).Bits(q.ABits).Observer(observer(scope)).Done())
}

// ParamPerChannelWeights (bool) makes PTQ weight scales per output channel
// instead of the reference's per tensor.
const ParamPerChannelWeights = "ptq_weight_per_channel"

// ParamObserver names the scope hyperparameter choosing the PTQ activation
// observer: "minmax" (default, the reference's), "ema", "percentile", "mse".
const ParamObserver = "ptq_observer"

func observer(scope *model.Scope) quant.Observer {
	switch model.GetParamOr(scope, ParamObserver, "minmax") {
	case "ema":
		return quant.EMAMinMaxObserver{}
	case "percentile":
		return quant.PercentileObserver{Percentile: 99.99}
	case "mse":
		return quant.MSEObserver{}
	}
	return quant.MinMaxObserver{}
}
