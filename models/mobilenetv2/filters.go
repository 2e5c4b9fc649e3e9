package mobilenetv2

import (
	"fmt"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/mlsysrep/mlsysrep/pkg/prune"
)

// PruneFilters removes the fraction ratio of every block's expansion
// channels, the expansion conv's filters with the smallest L1 norms (Li et
// al., 2017), from a trained network's variable values (by scope path):
// the expansion conv's filters and BN entries, the depthwise conv's channels
// and BN entries, and the projection conv's matching input channels. It
// returns the smaller network's config (Hidden set) and values. Only the
// inside of a block shrinks: block inputs and outputs, shortcuts, the stem
// and the last conv keep their channels. Optimizer state is dropped
// (prune.NewSurgery). A ratio outside [0, 1) or a missing variable is an
// error.
func (c Config) PruneFilters(values map[string]*tensors.Tensor, ratio float64) (Config, map[string]*tensors.Tensor, error) {
	if err := c.Validate(); err != nil {
		return c, nil, err
	}
	if err := prune.CheckRatio(ratio); err != nil {
		return c, nil, fmt.Errorf("mobilenetv2: %w", err)
	}
	s := prune.NewSurgery(values)
	pruned := c
	pruned.Hidden = make([]int, len(Blocks))
	for i := range Blocks {
		b := fmt.Sprintf("/block%d", i)
		pruned.Hidden[i] = s.PruneFilters(b+"/expand/conv/weights", ratio,
			prune.Cut{Path: b + "/expand/bn", BN: true}, prune.Cut{Path: b + "/depthwise/conv/weights", Axis: 2},
			prune.Cut{Path: b + "/depthwise/bn", BN: true}, prune.Cut{Path: b + "/project/conv/weights", Axis: 2})
	}
	if err := s.Err(); err != nil {
		return c, nil, err
	}
	return pruned, s.Values, nil
}
