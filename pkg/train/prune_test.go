package train

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
	"github.com/mlsysrep/mlsysrep/pkg/prune"
)

// prunedToyModel is toyModel with its conv and FC masked (pkg/prune).
func prunedToyModel(scope *model.Scope, x *graph.Node) *graph.Node {
	x = nn.Conv(scope.In("conv"), x).Channels(4).KernelSize(3).Stride(2).Quantize(prune.Mask).Done()
	x = nn.BatchNorm(scope.In("bn"), x).Done()
	x = graph.Max(x, graph.ZerosLike(x))
	return nn.Dense(scope.In("fc"), graph.ReduceMean(x, 1, 2), 4, prune.Mask)
}

func values(t *testing.T, v *model.Variable) []float32 {
	t.Helper()
	t0, err := v.Value()
	if err != nil {
		t.Fatal(err)
	}
	d, err := tensors.CopyFlatData[float32](t0)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestPrunedWeightsStayZero trains the toy model with SGD (momentum 0.9,
// weight decay 5e-4) while a gradual schedule prunes it, then checks that
// every pruned weight and its velocity are exactly zero, that the masks
// only grew, and that the final sparsity is the schedule's.
func TestPrunedWeightsStayZero(t *testing.T) {
	for _, global := range []bool{false, true} {
		store := model.NewStore()
		store.SetRNGStateFromSeed(3)
		be := backend(t)
		if err := prune.Materialize(be, store, prunedToyModel, shapes.Make(dtypes.Float32, 1, 8, 8, 3)); err != nil {
			t.Fatal(err)
		}
		s := prune.Schedule{Initial: 0.2, Final: 0.75, Begin: 2, End: 10, Every: 4} // updates before steps 2, 6 and 10
		var updates []int
		var last prune.Stats
		prev := map[string][]float32{}
		hook, err := Pruning(store, s, global, func(step int, st prune.Stats) {
			updates = append(updates, step)
			last = st
			layers, _ := prune.Layers(store)
			for _, l := range layers {
				m := values(t, l.Mask)
				for i, k := range prev[l.Scope] {
					if k == 0 && m[i] != 0 {
						t.Errorf("step %d: %s weight %d came back after being pruned", step, l.Scope, i)
					}
				}
				prev[l.Scope] = m
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Run(context.Background(), Config{Backend: be, Store: store, Model: prunedToyModel,
			Train: &toyData{n: 32, batch: 8}, Eval: &toyData{n: 16, batch: 8, fixed: true}, Epochs: 4,
			Optimizer: SGD{Momentum: 0.9, WeightDecay: 5e-4}, Schedule: MultiStep{Base: 0.1},
			BeforeStep: hook})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(updates, []int{2, 6, 10}) {
			t.Errorf("global=%v: masks updated before steps %v, want [2 6 10]", global, updates)
		}
		if got := last.Sparsity(); math.Abs(got-0.75) > 0.01 {
			t.Errorf("global=%v: final sparsity %.4f, want 0.75\n%s", global, got, last)
		}
		layers, err := prune.Layers(store)
		if err != nil || len(layers) != 2 {
			t.Fatalf("global=%v: %d masked layers (%v), want conv and fc", global, len(layers), err)
		}
		for _, l := range layers {
			w, m := values(t, l.Weights), values(t, l.Mask)
			vel := velocity(t, store, l.Weights)
			pruned, moved := 0, 0
			for i, k := range m {
				if k != 0 {
					continue
				}
				pruned++
				if w[i] != 0 || vel[i] != 0 {
					t.Fatalf("global=%v: %s weight %d is pruned but is %g (velocity %g) after training", global, l.Scope, i, w[i], vel[i])
				}
			}
			for i, k := range m {
				if k != 0 && w[i] != 0 {
					moved++
				}
			}
			if pruned == 0 || moved == 0 {
				t.Errorf("global=%v: %s has %d pruned and %d live weights", global, l.Scope, pruned, moved)
			}
		}
	}
}

// velocity is the SGD velocity of v.
func velocity(t *testing.T, store *model.Store, v *model.Variable) []float32 {
	t.Helper()
	vel := Velocity(store, v)
	if vel == nil {
		t.Fatalf("no velocity for %s", v.Path())
	}
	return values(t, vel)
}

// TestPruningRejectsABadSchedule: the hook is not made.
func TestPruningRejectsABadSchedule(t *testing.T) {
	if _, err := Pruning(model.NewStore(), prune.Schedule{Final: 0.5}, false, nil); err == nil {
		t.Error("a schedule with Every 0 accepted")
	}
}

// TestPruningResumeMatchesUninterrupted: a pruned run stopped after an
// epoch and resumed from its checkpoint in a fresh store ends with the
// uninterrupted run's weights and masks, bit for bit (masks and velocities
// are store variables, so the checkpoint carries them; the schedule is a
// function of the step).
func TestPruningResumeMatchesUninterrupted(t *testing.T) {
	s := prune.Schedule{Initial: 0.2, Final: 0.7, Begin: 1, End: 9, Every: 2}
	run := func(dir string, epochs int) map[string][]float32 {
		store := model.NewStore()
		store.SetRNGStateFromSeed(11)
		if err := prune.Materialize(backend(t), store, prunedToyModel, shapes.Make(dtypes.Float32, 1, 8, 8, 3)); err != nil {
			t.Fatal(err)
		}
		hook, err := Pruning(store, s, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Run(context.Background(), Config{Backend: backend(t), Store: store, Model: prunedToyModel,
			Train: &toyData{n: 32, batch: 8}, Eval: &toyData{n: 16, batch: 8, fixed: true}, Epochs: epochs,
			Optimizer: SGD{Momentum: 0.9, WeightDecay: 5e-4}, Schedule: MultiStep{Base: 0.1},
			CheckpointDir: dir, CheckpointKey: toyKey, BeforeStep: hook})
		if err != nil {
			t.Fatal(err)
		}
		return weights(t, store)
	}
	straight := run(t.TempDir(), 3)
	dir := t.TempDir()
	run(dir, 1)
	resumed := run(dir, 3)
	masks := 0
	for p, w := range straight {
		if strings.HasPrefix(p, "/metrics/") { // the trainer's running loss average, not the model
			continue
		}
		if !slices.Equal(resumed[p], w) {
			t.Errorf("%s differs after resuming", p)
		}
		if strings.HasSuffix(p, "/"+prune.MaskName) {
			masks++
		}
	}
	if masks != 2 {
		t.Errorf("%d masks in the store, want 2", masks)
	}
}
