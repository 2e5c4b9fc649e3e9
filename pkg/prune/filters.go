package prune

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
)

// Structured filter pruning (Li et al., "Pruning Filters for Efficient
// ConvNets", 2017): a conv's output filters are ranked by the L1 norm of
// their weights and the smallest are removed, with the matching BN entries
// and the next layer's input channels, leaving a smaller dense network. The
// models do the surgery (they know which layer feeds which:
// resnet.Config.PruneFilters, mobilenetv2.Config.PruneFilters); these are
// the pieces they share.

// FilterNorms returns the L1 norm of each output filter of a kernel whose
// last axis is the filters ([kh, kw, in, out] convs, [kh, kw, C] depthwise,
// [in, out] dense).
func FilterNorms(kernel *tensors.Tensor) ([]float64, error) {
	data, err := tensors.CopyFlatData[float32](kernel)
	if err != nil {
		return nil, err
	}
	dims := kernel.Shape().Dimensions
	if len(dims) == 0 {
		return nil, fmt.Errorf("prune: a scalar has no filters")
	}
	out := dims[len(dims)-1]
	norms := make([]float64, out)
	for i, v := range data {
		norms[i%out] += float64(max(v, -v))
	}
	return norms, nil
}

// KeepFilters returns the indices, in increasing order, of the keep filters
// with the largest norms; among equal norms the lower index stays.
func KeepFilters(norms []float64, keep int) []int {
	order := make([]int, len(norms))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(norms[b], norms[a]) })
	kept := slices.Clone(order[:min(max(keep, 0), len(order))])
	slices.Sort(kept)
	return kept
}

// FiltersToKeep is how many of n filters a pruning ratio keeps: n minus
// floor(ratio * n), at least 1.
func FiltersToKeep(n int, ratio float64) int {
	return max(1, n-floor(ratio*float64(n)))
}

// SelectAxis returns the slices of t along axis at the given indices, in
// their order (a smaller tensor of the same rank).
func SelectAxis(t *tensors.Tensor, axis int, indices []int) (*tensors.Tensor, error) {
	data, err := tensors.CopyFlatData[float32](t)
	if err != nil {
		return nil, err
	}
	dims := slices.Clone(t.Shape().Dimensions)
	if axis < 0 || axis >= len(dims) {
		return nil, fmt.Errorf("prune: axis %d of a rank-%d tensor", axis, len(dims))
	}
	for _, i := range indices {
		if i < 0 || i >= dims[axis] {
			return nil, fmt.Errorf("prune: index %d out of axis %d's %d", i, axis, dims[axis])
		}
	}
	inner := 1
	for _, d := range dims[axis+1:] {
		inner *= d
	}
	outer := len(data) / max(dims[axis]*inner, 1)
	out := make([]float32, 0, outer*len(indices)*inner)
	for o := range outer {
		for _, i := range indices {
			at := (o*dims[axis] + i) * inner
			out = append(out, data[at:at+inner]...)
		}
	}
	dims[axis] = len(indices)
	return tensors.FromFlatDataAndDimensions(out, dims...), nil
}

// Surgery edits a model's variable values (by scope path) for a filter
// pruning: Keep slices variables along an axis; Values is the result.
type Surgery struct {
	Values map[string]*tensors.Tensor
	err    error
}

// CheckRatio reports a filter pruning ratio outside [0, 1): the fraction
// of a layer's filters to remove (1 would remove them all).
func CheckRatio(ratio float64) error {
	if !(ratio >= 0 && ratio < 1) {
		return fmt.Errorf("filter pruning ratio %g is not in [0, 1)", ratio)
	}
	return nil
}

// NewSurgery starts from a copy of the map of values (the tensors are
// shared until sliced). Optimizer state (paths under /optimizers/) is left
// out: its shapes are the dense network's, and fine-tuning starts its
// momentum afresh.
func NewSurgery(values map[string]*tensors.Tensor) *Surgery {
	s := &Surgery{Values: map[string]*tensors.Tensor{}}
	for p, v := range values {
		if strings.HasPrefix(p, "/optimizers/") {
			continue
		}
		s.Values[p] = v
	}
	return s
}

// Keep slices the variable at path along axis to the indices; a missing
// variable is an error (reported by Err).
func (s *Surgery) Keep(path string, axis int, indices []int) {
	if s.err != nil {
		return
	}
	t, ok := s.Values[path]
	if !ok {
		s.err = fmt.Errorf("prune: filter surgery: no variable %s", path)
		return
	}
	sliced, err := SelectAxis(t, axis, indices)
	if err != nil {
		s.err = fmt.Errorf("prune: filter surgery on %s: %w", path, err)
		return
	}
	s.Values[path] = sliced
	if mask, ok := strings.CutSuffix(path, "/"+WeightsName); ok {
		if _, ok := s.Values[mask+"/"+MaskName]; ok { // a pruning mask follows its weights
			s.Keep(mask+"/"+MaskName, axis, indices)
		}
	}
}

// KeepBN slices the four variables of the batch norm in scope (scale,
// offset, running_mean, running_var) to the indices.
func (s *Surgery) KeepBN(scope string, indices []int) {
	for _, name := range []string{"scale", "offset", "running_mean", "running_var"} {
		s.Keep(scope+"/"+name, 0, indices)
	}
}

// Cut is a variable a filter pruning slices along with the filters: the
// variable at Path along Axis, or, with BN set, the four variables of the
// batch norm in scope Path (axis 0).
type Cut struct {
	Path string
	Axis int
	BN   bool
}

// PruneFilters ranks the output filters of the kernel at path (filters on
// its last axis) by L1 norm, keeps the FiltersToKeep(n, ratio) largest,
// slices the kernel and every cut to them, and returns how many it kept (0
// after an error: see Err).
func (s *Surgery) PruneFilters(kernel string, ratio float64, cuts ...Cut) int {
	if s.err != nil {
		return 0
	}
	w, ok := s.Values[kernel]
	if !ok {
		s.err = fmt.Errorf("prune: filter surgery: no variable %s", kernel)
		return 0
	}
	norms, err := FilterNorms(w)
	if err != nil {
		s.err = fmt.Errorf("prune: filter surgery on %s: %w", kernel, err)
		return 0
	}
	keep := KeepFilters(norms, FiltersToKeep(len(norms), ratio))
	s.Keep(kernel, w.Rank()-1, keep)
	for _, c := range cuts {
		if c.BN {
			s.KeepBN(c.Path, keep)
		} else {
			s.Keep(c.Path, c.Axis, keep)
		}
	}
	if s.err != nil {
		return 0
	}
	return len(keep)
}

// Err is the first error of the surgery.
func (s *Surgery) Err() error { return s.err }
