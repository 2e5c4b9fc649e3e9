package resnet

import (
	"math"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/mlsysrep/mlsysrep/models/internal/modeltest"
	"github.com/mlsysrep/mlsysrep/pkg/backend"
)

// TestEnginesAgree trains the FP ResNet-18 (1/4 width) for a few SGD steps on
// engine v1 and on engine v2 with its default kernels: v2 sums in other
// orders, so the losses may differ by float noise, which training amplifies
// step by step (here 1e-7, 2e-7, 6e-6 relative), not more: a native
// batch-norm forward that drifted by 2.5e-4 after one step failed this.
func TestEnginesAgree(t *testing.T) {
	losses := func(name string) []float64 {
		be, _, err := backend.Select(name)
		if err != nil {
			t.Fatal(err)
		}
		return trainSteps(t, be, 3)
	}
	v1, v2 := losses("purego:v1"), losses("purego:v2")
	for i := range v1 {
		if d := math.Abs(v2[i]-v1[i]) / math.Abs(v1[i]); d > 1e-4 {
			t.Errorf("step %d: loss %.7f on v2, %.7f on v1 (relative difference %.2g)", i+1, v2[i], v1[i], d)
		}
	}
}

func trainSteps(t *testing.T, be compute.Backend, steps int) []float64 {
	cfg := Default
	cfg.Width = 0.25
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(1); err != nil {
		t.Fatal(err)
	}
	store.RootScope().SetParam(optimizer.ParamLearningRate, 0.05)
	trainer := train.NewTrainer(be, store, cfg.ModelFn(), loss.SparseCategoricalCrossEntropyLogits,
		optimizer.StochasticGradientDescent().WithDecay(false).Done(), nil, nil)
	var out []float64
	for range steps {
		x, y := modeltest.Images(32, 32, 10, 7)
		m, err := trainer.TrainStep(train.Batch{Inputs: []*tensors.Tensor{x}, Labels: []*tensors.Tensor{y}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, float64(tensors.ToScalar[float32](m[0])))
	}
	return out
}
