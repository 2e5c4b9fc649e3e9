package prune

import (
	"cmp"
	"math"
	"slices"
)

// MagnitudeMasks returns the masks (1 keeps, 0 prunes) that remove the
// fraction sparsity of the weights with the smallest magnitudes: in each
// layer separately (per layer: every layer loses the same fraction,
// rounded down), or over all layers together (global: one threshold, so
// layers with many small weights lose more). Exactly floor(sparsity * n)
// weights are pruned; among equal magnitudes the earlier layer and the
// earlier index go first, so the result is deterministic.
func MagnitudeMasks(layers [][]float32, sparsity float64, global bool) [][]float32 {
	masks := make([][]float32, len(layers))
	for i, w := range layers {
		masks[i] = make([]float32, len(w))
		for j := range masks[i] {
			masks[i][j] = 1
		}
	}
	type ref struct{ layer, index int }
	prune := func(refs []ref, n int) {
		slices.SortFunc(refs, func(a, b ref) int {
			ma, mb := math.Abs(float64(layers[a.layer][a.index])), math.Abs(float64(layers[b.layer][b.index]))
			if c := cmp.Compare(ma, mb); c != 0 {
				return c
			}
			if c := cmp.Compare(a.layer, b.layer); c != 0 {
				return c
			}
			return cmp.Compare(a.index, b.index)
		})
		for _, r := range refs[:floor(sparsity*float64(n))] {
			masks[r.layer][r.index] = 0
		}
	}
	if global {
		var refs []ref
		for i, w := range layers {
			for j := range w {
				refs = append(refs, ref{i, j})
			}
		}
		prune(refs, len(refs))
		return masks
	}
	for i, w := range layers {
		refs := make([]ref, len(w))
		for j := range w {
			refs[j] = ref{i, j}
		}
		prune(refs, len(refs))
	}
	return masks
}

// floor is the integer part of a product such as 0.29 * 100, whose float64
// value is 28.999...: a count one ulp short of an integer is that integer.
func floor(x float64) int { return int(x + 1e-9) }
