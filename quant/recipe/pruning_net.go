package recipe

import (
	"fmt"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/mlsysrep/mlsysrep/models/mobilenetv2"
	"github.com/mlsysrep/mlsysrep/models/resnet"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
	"github.com/mlsysrep/mlsysrep/pkg/train"
)

// cifarNet is a pruning cell's network: one of the two CIFAR configs.
type cifarNet struct {
	resnet *resnet.Config
	mnv2   *mobilenetv2.Config
}

// newCifarNet is the network of model m at the spec's size, quantized by
// q, its prunable layers masked when masked is set.
func newCifarNet(m Model, q quant.Config, spec Spec, masked bool) (cifarNet, error) {
	switch m {
	case ResNet18:
		return cifarNet{resnet: &resnet.Config{Width: spec.Width, BlocksPerStage: spec.Blocks, NumClasses: 10, Quant: q, Prune: masked}}, nil
	case MobileNetV2:
		return cifarNet{mnv2: &mobilenetv2.Config{Width: spec.Width, NumClasses: 10, Quant: q, Prune: masked}}, nil
	}
	return cifarNet{}, fmt.Errorf("model %q cannot be pruned here (resnet18, mobilenetv2)", m)
}

func (n cifarNet) fn() train.ModelFn {
	if n.resnet != nil {
		return n.resnet.Build
	}
	return n.mnv2.Build
}

func (n cifarNet) summary() (*nn.Summary, error) {
	if n.resnet != nil {
		return n.resnet.Summary()
	}
	return n.mnv2.Summary()
}

// withQuant is the same network (masks, pruned filters) quantized by q.
func (n cifarNet) withQuant(q quant.Config) cifarNet {
	if n.resnet != nil {
		c := *n.resnet
		c.Quant = q
		return cifarNet{resnet: &c}
	}
	c := *n.mnv2
	c.Quant = q
	return cifarNet{mnv2: &c}
}

// pruneFilters is the network with ratio of every block's inner filters
// removed, and its weights cut from values (the model's PruneFilters).
func (n cifarNet) pruneFilters(values map[string]*tensors.Tensor, ratio float64) (cifarNet, map[string]*tensors.Tensor, error) {
	if n.resnet != nil {
		c, v, err := n.resnet.PruneFilters(values, ratio)
		return cifarNet{resnet: &c}, v, err
	}
	c, v, err := n.mnv2.PruneFilters(values, ratio)
	return cifarNet{mnv2: &c}, v, err
}

// size describes the network for the record (part of its key).
func (n cifarNet) size(spec Spec, p Pruning) (string, error) {
	s, err := n.summary()
	if err != nil {
		return "", err
	}
	size := fmt.Sprintf("width %g, %d parameters", spec.Width, s.Params())
	if p.Method == Filters {
		size = fmt.Sprintf("width %g, %.0f%% of the inner filters removed, %d parameters", spec.Width, 100*p.Target, s.Params())
	}
	return size, nil
}
