package resnet

import (
	"fmt"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/mlsysrep/mlsysrep/pkg/prune"
)

// PruneFilters removes the fraction ratio of the filters of every block's
// first conv, those with the smallest L1 norms (Li et al., 2017), from a
// trained network's variable values (by scope path), with their BN entries
// and the second conv's matching input channels, and returns the smaller
// network's config (Inner set) and values. The rule for residual shapes:
// only the inside of a block shrinks; each block's output (its second conv,
// the shortcut) and the stem keep their channels, so every residual add
// still adds equal shapes. Optimizer state is dropped (prune.NewSurgery).
// A ratio outside [0, 1) or a missing variable is an error.
func (c Config) PruneFilters(values map[string]*tensors.Tensor, ratio float64) (Config, map[string]*tensors.Tensor, error) {
	if err := c.Validate(); err != nil {
		return c, nil, err
	}
	if err := prune.CheckRatio(ratio); err != nil {
		return c, nil, fmt.Errorf("resnet: %w", err)
	}
	s := prune.NewSurgery(values)
	pruned := c
	pruned.Inner = make([]int, 4*c.BlocksPerStage)
	for stage := range 4 {
		for block := range c.BlocksPerStage {
			b := fmt.Sprintf("/stage%d_block%d", stage+1, block)
			pruned.Inner[stage*c.BlocksPerStage+block] = s.PruneFilters(b+"/conv1/conv/weights", ratio,
				prune.Cut{Path: b + "/conv1/bn", BN: true}, prune.Cut{Path: b + "/conv2/conv/weights", Axis: 2})
		}
	}
	if err := s.Err(); err != nil {
		return c, nil, err
	}
	return pruned, s.Values, nil
}
