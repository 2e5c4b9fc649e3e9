package prune

import (
	"fmt"
	"math"
)

// Schedule is Zhu & Gupta's gradual pruning schedule ("To prune, or not to
// prune", 2017): from step Begin to step End the target sparsity rises from
// Initial to Final as
//
//	s(t) = Final + (Initial - Final) * (1 - (t - Begin) / (End - Begin))^3,
//
// fast at first, when redundant weights are plenty, and slowly at the end;
// the masks are updated every Every steps from Begin on, and at End. Before
// Begin nothing is pruned; after End the sparsity stays Final. OneShot is
// the schedule that prunes once.
type Schedule struct {
	Initial, Final float64 // sparsities: fractions of the weights that are zero, in [0, 1)
	Begin, End     int     // steps (0-based, over the whole run)
	Every          int     // steps between mask updates
}

// OneShot prunes to sparsity once, before step at (0: before training).
func OneShot(sparsity float64, at int) Schedule {
	return Schedule{Initial: sparsity, Final: sparsity, Begin: at, End: at, Every: 1}
}

// Validate reports a schedule that cannot be run.
func (s Schedule) Validate() error {
	if !(s.Initial >= 0 && s.Initial < 1 && s.Final >= s.Initial && s.Final < 1) {
		return fmt.Errorf("prune: sparsities must satisfy 0 <= initial (%g) <= final (%g) < 1", s.Initial, s.Final)
	}
	if s.Begin < 0 || s.End < s.Begin || s.Every < 1 {
		return fmt.Errorf("prune: steps must satisfy 0 <= begin (%d) <= end (%d) and every (%d) >= 1", s.Begin, s.End, s.Every)
	}
	return nil
}

// Sparsity is the target sparsity at step t (0 before Begin).
func (s Schedule) Sparsity(t int) float64 {
	switch {
	case t < s.Begin:
		return 0
	case t >= s.End:
		return s.Final
	}
	left := 1 - float64(t-s.Begin)/float64(s.End-s.Begin)
	return s.Final + (s.Initial-s.Final)*math.Pow(left, 3)
}

// Due tells whether the masks are updated before step t.
func (s Schedule) Due(t int) bool {
	return t >= s.Begin && t <= s.End && ((t-s.Begin)%s.Every == 0 || t == s.End)
}
