package modeltest

import (
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

// BenchTrainStep times SGD training steps of build on be, on batches of
// random images (size x size, classes labels; a new batch per step, made
// outside the timer), and reports images/s. Three untimed steps come first,
// as in the PyTorch scripts: the first compiles, the next ones fault in the
// memory the later ones reuse (they run up to twice as long).
func BenchTrainStep(b *testing.B, be compute.Backend, build Build, batch, size, classes int) {
	store := model.NewStore()
	trainer := train.NewTrainer(be, store, build, loss.SparseCategoricalCrossEntropyLogits,
		optimizer.StochasticGradientDescent(), nil, nil)
	seed := uint64(1)
	newBatch := func() train.Batch {
		seed++
		images, labels := Images(batch, size, classes, seed)
		return train.Batch{Inputs: []*tensors.Tensor{images}, Labels: []*tensors.Tensor{labels}}
	}
	for range 3 {
		if _, err := trainer.TrainStep(newBatch()); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		b.StopTimer()
		next := newBatch()
		b.StartTimer()
		if _, err := trainer.TrainStep(next); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "images/s")
}
