package train

import (
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/pkg/prune"
)

// Pruning returns a Config.BeforeStep that prunes the store on schedule s
// (prune.Update, per layer or with one global threshold, before every step
// where the schedule is due) and zeroes the pruned weights' SGD velocity, so
// that they stay exactly zero through training; report, when set, gets each
// update's stats. The model must have been built with prune.Mask on the
// layers to prune, and its masks must exist before the first update
// (prune.Materialize).
func Pruning(store *model.Store, s prune.Schedule, global bool, report func(step int, st prune.Stats)) (func(step int) error, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return func(step int) error {
		if !s.Due(step) {
			return nil
		}
		st, err := prune.Update(store, s.Sparsity(step), global)
		if err != nil {
			return err
		}
		for _, l := range st {
			if err := MaskVelocity(store, l.Variable, l.Mask); err != nil {
				return err
			}
		}
		if report != nil {
			report(step, st)
		}
		return nil
	}, nil
}
