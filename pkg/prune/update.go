package prune

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Layer is a masked layer of a store: its weights and its mask.
type Layer struct {
	Scope         string
	Weights, Mask *model.Variable
}

// Layers lists the store's masked layers in the store's order: every
// MaskName variable with a WeightsName variable of the same shape in its
// scope. A mask without its weights is an error.
func Layers(store *model.Store) ([]Layer, error) {
	var layers []Layer
	for v := range store.IterVariables() {
		if v.Name() != MaskName {
			continue
		}
		w := store.GetVariable(v.Scope() + "/" + WeightsName)
		if w == nil || !w.Shape().Equal(v.Shape()) {
			return nil, fmt.Errorf("prune: mask %s has no %s variable of its shape %s next to it", v.Path(), WeightsName, v.Shape())
		}
		layers = append(layers, Layer{Scope: v.Scope(), Weights: w, Mask: v})
	}
	return layers, nil
}

// LayerStats is one layer's count of weights and of pruned ones, with its
// weights variable and new mask (for the optimizer's state: see
// train.Pruning).
type LayerStats struct {
	Scope         string
	Weights, Zero int
	Variable      *model.Variable
	Mask          []float32
}

// Stats are the masked layers' counts after an Update.
type Stats []LayerStats

// Sparsity is the fraction of all masked weights that are pruned.
func (s Stats) Sparsity() float64 {
	n, z := 0, 0
	for _, l := range s {
		n += l.Weights
		z += l.Zero
	}
	if n == 0 {
		return 0
	}
	return float64(z) / float64(n)
}

// String is one line per layer and a total.
func (s Stats) String() string {
	var b strings.Builder
	n, z := 0, 0
	for _, l := range s {
		fmt.Fprintf(&b, "%-40s %9d weights, %6.2f%% pruned\n", l.Scope, l.Weights, 100*float64(l.Zero)/float64(max(l.Weights, 1)))
		n, z = n+l.Weights, z+l.Zero
	}
	fmt.Fprintf(&b, "%-40s %9d weights, %6.2f%% pruned\n", "total", n, 100*float64(z)/float64(max(n, 1)))
	return b.String()
}

// Update prunes the store's masked layers to the given sparsity by
// magnitude (MagnitudeMasks over the weights as the network uses them,
// w * mask), per layer or globally: it sets every mask and sets the pruned
// weights to zero. The optimizer's state is the trainer's: train.Pruning
// runs Update on a schedule and zeroes the pruned weights' momentum too. A
// store without masked layers is an error (the model passed no Mask:
// nothing would be pruned).
func Update(store *model.Store, sparsity float64, global bool) (Stats, error) {
	if !(sparsity >= 0 && sparsity < 1) {
		return nil, fmt.Errorf("prune: sparsity %g is not in [0, 1)", sparsity)
	}
	layers, err := Layers(store)
	if err != nil {
		return nil, err
	}
	if len(layers) == 0 {
		return nil, fmt.Errorf("prune: the store has no masked layer (%s variables): build the model with prune.Mask on the layers to prune", MaskName)
	}
	effective := make([][]float32, len(layers))
	for i, l := range layers {
		w, err := floats(l.Weights)
		if err != nil {
			return nil, err
		}
		m, err := floats(l.Mask)
		if err != nil {
			return nil, err
		}
		for j := range w {
			w[j] *= m[j]
		}
		effective[i] = w
	}
	masks := MagnitudeMasks(effective, sparsity, global)
	stats := make(Stats, len(layers))
	for i, l := range layers {
		dims := l.Weights.Shape().Dimensions
		zero := 0
		for j, k := range masks[i] {
			effective[i][j] *= k
			if k == 0 {
				zero++
			}
		}
		if err := l.Mask.SetValue(tensors.FromFlatDataAndDimensions(masks[i], dims...)); err != nil {
			return nil, err
		}
		if err := l.Weights.SetValue(tensors.FromFlatDataAndDimensions(effective[i], dims...)); err != nil {
			return nil, err
		}
		stats[i] = LayerStats{Scope: l.Scope, Weights: len(masks[i]), Zero: zero, Variable: l.Weights, Mask: masks[i]}
	}
	return stats, nil
}

// floats copies a float32 variable's value.
func floats(v *model.Variable) ([]float32, error) {
	t, err := v.Value()
	if err != nil {
		return nil, err
	}
	data, err := tensors.CopyFlatData[float32](t)
	if err != nil {
		return nil, fmt.Errorf("prune: %s: %w", v.Path(), err)
	}
	return data, nil
}
