package placement

import (
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
)

// Policy is what differs between methods in where the quantizers go,
// beyond the sites every model names (PROTOCOL section 3d): one entry per
// method in policies, which the models query instead of naming methods, so
// that adding a method adds an entry here and touches no model.
type Policy struct {
	// QAT says the method trains with quantizers in the forward pass: a
	// ResNet's block convolutions are quantized layers. (PTQ places its
	// weight quantizers when it folds the batch norms, see ConvBN.)
	QAT bool
	// ShortcutWeights says a ResNet's projection shortcut convolution is
	// quantized too (PACT kept it full precision).
	ShortcutWeights bool
	// ResidualOutput is what follows a ResNet block's residual add.
	ResidualOutput Output
}

// Output is what follows a residual add.
type Output int

const (
	// OutputActivation is the network's own activation (ReLU), observed in
	// the PTQ form: FP and PTQ.
	OutputActivation Output = iota
	// OutputNone passes the sum on as it is (DoReFa, LSQ).
	OutputNone
	// OutputQuantizer is the method's activation quantizer in place of the
	// activation (PACT).
	OutputQuantizer
)

// policies are the methods' placements, PROTOCOL section 3d.
var policies = map[quant.Method]Policy{
	quant.FP:     {ResidualOutput: OutputActivation},
	quant.PTQ:    {ResidualOutput: OutputActivation},
	quant.DoReFa: {QAT: true, ShortcutWeights: true, ResidualOutput: OutputNone},
	quant.PACTM:  {QAT: true, ResidualOutput: OutputQuantizer},
	quant.LSQM:   {QAT: true, ShortcutWeights: true, ResidualOutput: OutputNone},
}

// Policy is the config's method's placement policy.
func (q Quantizers) Policy() Policy { return policies[q.Method] }

// ResidualOutput applies the policy's rule to a residual sum out: nothing,
// the method's activation quantizer in scope/act_out, or fp (the network's
// activation) observed in scope/add in the PTQ form.
func (q Quantizers) ResidualOutput(scope *model.Scope, out *graph.Node, fp func(*graph.Node) *graph.Node) *graph.Node {
	switch q.Policy().ResidualOutput {
	case OutputNone:
		return out
	case OutputQuantizer:
		return q.Activation(scope.In("act_out"), out, fp)
	}
	return q.Observe(scope.In("add"), fp(out))
}
