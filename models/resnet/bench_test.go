package resnet

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/mlsysrep/mlsysrep/pkg/backend/purego"
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
// full and 1/4 width, batch 32 and 128, on our engine; with
// MLSYSREP_BENCH_DIRECT=1 also on our engine configured to keep the Go
// backend's direct convolution ("purego:directconv": the stock Go backend
// itself cannot train it, it lacks the batch-norm ops), at 1/4 width only (a
// full-width step takes minutes there).
func BenchmarkTrainStep(b *testing.B) {
	ours, err := purego.New("")
	if err != nil {
		b.Fatal(err)
	}
	names := []string{"purego"}
	backends := []compute.Backend{ours}
	if os.Getenv("MLSYSREP_BENCH_DIRECT") == "1" {
		direct, err := purego.New("directconv")
		if err != nil {
			b.Fatal(err)
		}
		names, backends = append(names, "purego:directconv"), append(backends, direct)
	}
	for bi, backend := range backends {
		for _, width := range []float64{1, 0.25} {
			if backend != ours && width != 0.25 {
				continue
			}
			for _, batch := range []int{32, 128} {
				name := fmt.Sprintf("%s/width=%g/batch=%d", names[bi], width, batch)
				b.Run(name, func(b *testing.B) {
					cfg := Default
					cfg.Width = width
					store := model.NewStore()
					trainer := train.NewTrainer(backend, store, cfg.ModelFn(), loss.SparseCategoricalCrossEntropyLogits,
						optimizer.StochasticGradientDescent(), nil, nil)
					rng := rand.New(rand.NewPCG(1, 1))
					if _, err := trainer.TrainStep(randomBatch(rng, batch)); err != nil { // compile
						b.Fatal(err)
					}
					batches := make([]train.Batch, 0)
					for b.Loop() {
						b.StopTimer()
						batches = append(batches[:0], randomBatch(rng, batch))
						b.StartTimer()
						if _, err := trainer.TrainStep(batches[0]); err != nil {
							b.Fatal(err)
						}
					}
					imagesPerSec := float64(batch*b.N) / b.Elapsed().Seconds()
					b.ReportMetric(imagesPerSec, "images/s")
					b.ReportMetric(3*cfg.ForwardFLOPs()*imagesPerSec/1e9, "GFLOP/s")
				})
			}
		}
	}
}
