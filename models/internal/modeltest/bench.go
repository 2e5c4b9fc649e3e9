package modeltest

import (
	"testing"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

// BenchTrainStep times SGD training steps of build on be, on batches of
// random images (size x size, classes labels; a new batch per step, made
// outside the timer), and reports images/s, mean and of the fastest step
// (see FastestStep). Three untimed steps come first,
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
	var best time.Duration
	for b.Loop() {
		b.StopTimer()
		next := newBatch()
		b.StartTimer()
		start := time.Now()
		if _, err := trainer.TrainStep(next); err != nil {
			b.Fatal(err)
		}
		best = FastestStep(best, time.Since(start))
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "images/s")
	b.ReportMetric(float64(batch)/best.Seconds(), "best-images/s")
}

// FastestStep returns the shorter of the fastest step so far (0 before the
// first) and d. Benchmarks report images/s of their fastest step beside the
// mean ("best-images/s"): on this shared host a step is slowed at random by
// up to ~40%, never sped up, so the fastest of several steps tells two
// versions of the engine apart where their means cannot.
func FastestStep(best, d time.Duration) time.Duration {
	if best == 0 || d < best {
		return d
	}
	return best
}

// BenchEvalStep times inference-mode forward passes of build on be (the
// per-epoch evaluation of the training loop: logits reduced to one scalar,
// batch norm with its running statistics), after two training steps that
// create and move the variables. It reports images/s, mean and of the
// fastest pass.
func BenchEvalStep(b *testing.B, be compute.Backend, build Build, batch, size, classes int) {
	store := model.NewStore()
	trainer := train.NewTrainer(be, store, build, loss.SparseCategoricalCrossEntropyLogits,
		optimizer.StochasticGradientDescent(), nil, nil)
	for seed := range uint64(2) {
		images, labels := Images(batch, size, classes, seed+100)
		if _, err := trainer.TrainStep(train.Batch{Inputs: []*tensors.Tensor{images}, Labels: []*tensors.Tensor{labels}}); err != nil {
			b.Fatal(err)
		}
	}
	exec, err := model.NewExec(be, store, func(scope *model.Scope, x *graph.Node) *graph.Node {
		return graph.ReduceAllSum(build(scope, x))
	})
	if err != nil {
		b.Fatal(err)
	}
	images, _ := Images(batch, size, classes, 7)
	for range 3 {
		out, err := exec.Call(images)
		if err != nil {
			b.Fatal(err)
		}
		out[0].MustFinalizeAll()
	}
	var best time.Duration
	for b.Loop() {
		start := time.Now()
		out, err := exec.Call(images)
		if err != nil {
			b.Fatal(err)
		}
		out[0].MustFinalizeAll()
		best = FastestStep(best, time.Since(start))
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "images/s")
	b.ReportMetric(float64(batch)/best.Seconds(), "best-images/s")
}
