// Package modeltest holds the checks every model's tests run: summaries,
// parameter counts, a short training run, and BN folding.
package modeltest

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/mlsysrep/mlsysrep/pkg/backend"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
)

// Build is a model function.
type Build = func(scope *model.Scope, x *graph.Node) *graph.Node

// engine is one engine for all tests (purego, or the one MLSYSREP_TEST_ENGINE
// names): tensors stay bound to the backend instance they were first used on.
var engine = sync.OnceValues(backend.TestEngine)

// Backend is the engine shared by the tests.
func Backend(t *testing.T) compute.Backend {
	t.Helper()
	b, err := engine()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Summarize returns the model's summary for a batch of 2 images of the given size.
func Summarize(t *testing.T, build Build, size int) *nn.Summary {
	t.Helper()
	s, err := nn.Summarize(Backend(t), shapes.Make(dtypes.Float32, 2, size, size, 3), build)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Images is a batch of random images with labels.
func Images(n, size, classes int, seed uint64) (*tensors.Tensor, *tensors.Tensor) {
	rng := rand.New(rand.NewPCG(seed, 1))
	px := make([]float32, n*size*size*3)
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(i % classes)
		for j := range size * size * 3 {
			v := float32(rng.NormFloat64())
			// A class-dependent offset on one channel makes the batch learnable.
			if j%3 == int(labels[i])%3 {
				v += float32(labels[i]) / float32(classes)
			}
			px[i*size*size*3+j] = v
		}
	}
	return tensors.FromFlatDataAndDimensions(px, n, size, size, 3), tensors.FromFlatDataAndDimensions(labels, n, 1)
}

// TrainLosses runs steps of plain SGD on one fixed synthetic batch and
// returns the losses.
func TrainLosses(t *testing.T, build Build, size, classes, batch, steps int, lr float64) []float64 {
	t.Helper()
	store := model.NewStore()
	store.SetRNGStateFromSeed(1)
	store.RootScope().SetParam(optimizer.ParamLearningRate, lr)
	trainer := train.NewTrainer(Backend(t), store, build, loss.SparseCategoricalCrossEntropyLogits,
		optimizer.StochasticGradientDescent().WithDecay(false).Done(), nil, nil)
	var losses []float64
	for range steps {
		x, y := Images(batch, size, classes, 7)
		m, err := trainer.TrainStep(train.Batch{Inputs: []*tensors.Tensor{x}, Labels: []*tensors.Tensor{y}})
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, float64(tensors.ToScalar[float32](m[0])))
	}
	return losses
}

// AssertLossFalls checks the last loss is well below the first.
func AssertLossFalls(t *testing.T, losses []float64) {
	t.Helper()
	first, last := losses[0], losses[len(losses)-1]
	if math.IsNaN(last) || !(last < 0.7*first) {
		t.Errorf("loss did not fall: %v", losses)
	} else {
		t.Logf("loss %.3f -> %.3f", first, last)
	}
}

// FoldedMatches trains fp for a few steps (moving the BN statistics), then
// compares fp's inference logits with ptq's (the same weights, BN folded, PTQ
// mode off) on random inputs: they must agree to 1e-4 relative.
func FoldedMatches(t *testing.T, fp, ptq Build, size, classes int) {
	t.Helper()
	store := model.NewStore()
	store.SetRNGStateFromSeed(2)
	store.RootScope().SetParam(optimizer.ParamLearningRate, 0.05)
	trainer := train.NewTrainer(Backend(t), store, fp, loss.SparseCategoricalCrossEntropyLogits,
		optimizer.StochasticGradientDescent().WithDecay(false).Done(), nil, nil)
	for i := range 3 {
		x, y := Images(8, size, classes, uint64(10+i))
		if _, err := trainer.TrainStep(train.Batch{Inputs: []*tensors.Tensor{x}, Labels: []*tensors.Tensor{y}}); err != nil {
			t.Fatal(err)
		}
	}
	store.RootScope().SetParam(quant.ParamPTQMode, string(quant.PTQOff))
	logits := func(build Build) []float32 {
		exec, err := model.NewExec(Backend(t), store, build)
		if err != nil {
			t.Fatal(err)
		}
		x, _ := Images(4, size, classes, 99)
		out, err := exec.Call(x)
		if err != nil {
			t.Fatal(err)
		}
		return tensors.MustCopyFlatData[float32](out[0])
	}
	want, got := logits(fp), logits(ptq)
	scale := 0.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*scale {
			t.Fatalf("folded logit %d = %g, unfolded %g (scale %g)", i, got[i], want[i], scale)
		}
	}
}

// CountVariables counts the variables of store named name.
func CountVariables(store *model.Store, name string) int {
	n := 0
	for v := range store.RootScope().IterVariables() {
		if v.Name() == name {
			n++
		}
	}
	return n
}
