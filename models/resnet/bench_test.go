package resnet

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/mlsysrep/mlsysrep/models/internal/modeltest"
	"github.com/mlsysrep/mlsysrep/pkg/backend"
)

func randomBatch(rng *rand.Rand, batch int) train.Batch {
	images := make([]float32, batch*32*32*3)
	for i := range images {
		images[i] = float32(rng.NormFloat64())
	}
	labels := make([]int32, batch)
	for i := range labels {
		labels[i] = int32(rng.IntN(10))
	}
	return train.Batch{
		Inputs: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(images, batch, 32, 32, 3)},
		Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(labels, batch, 1)},
	}
}

// BenchmarkTrainStep times one SGD training step of the CIFAR ResNet-18 at
// full and 1/4 width, batch 32 and 128, on each engine named by
// MLSYSREP_BENCH_ENGINES (default "purego:v1,purego:v2"). The
// engine "purego:directconv" (the Go backend's direct convolution: the stock
// Go backend itself cannot train this network, it lacks the batch-norm ops)
// runs at 1/4 width only: a full-width step takes minutes there.
func BenchmarkTrainStep(b *testing.B) {
	names, backends, err := backend.BenchEngines("purego:v1,purego:v2")
	if err != nil {
		b.Fatal(err)
	}
	for bi, be := range backends {
		for _, width := range []float64{1, 0.25} {
			if names[bi] == "purego:directconv" && width != 0.25 {
				continue
			}
			for _, batch := range []int{32, 128} {
				name := fmt.Sprintf("%s/width=%g/batch=%d", names[bi], width, batch)
				b.Run(name, func(b *testing.B) {
					cfg := Default
					cfg.Width = width
					store := model.NewStore()
					trainer := train.NewTrainer(be, store, cfg.ModelFn(), loss.SparseCategoricalCrossEntropyLogits,
						optimizer.StochasticGradientDescent(), nil, nil)
					rng := rand.New(rand.NewPCG(1, 1))
					// Untimed warm-up, as the PyTorch script does: the first
					// step compiles, the first few fault in the heap.
					for range 3 {
						if _, err := trainer.TrainStep(randomBatch(rng, batch)); err != nil {
							b.Fatal(err)
						}
					}
					batches := make([]train.Batch, 0)
					var best time.Duration
					for b.Loop() {
						b.StopTimer()
						batches = append(batches[:0], randomBatch(rng, batch))
						b.StartTimer()
						start := time.Now()
						if _, err := trainer.TrainStep(batches[0]); err != nil {
							b.Fatal(err)
						}
						best = modeltest.FastestStep(best, time.Since(start))
					}
					imagesPerSec := float64(batch*b.N) / b.Elapsed().Seconds()
					b.ReportMetric(imagesPerSec, "images/s")
					b.ReportMetric(float64(batch)/best.Seconds(), "best-images/s")
					b.ReportMetric(3*cfg.ForwardFLOPs()*imagesPerSec/1e9, "GFLOP/s")
				})
			}
		}
	}
}
