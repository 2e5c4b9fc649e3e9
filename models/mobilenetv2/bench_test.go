package mobilenetv2

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/mlsysrep/mlsysrep/models/internal/modeltest"
	"github.com/mlsysrep/mlsysrep/pkg/backend"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
)

// BenchmarkTrainStep times one SGD training step of the CIFAR MobileNetV2 at
// the quick preset's width 0.5 and batch 96, in full precision and with
// DoReFa W6A6G6 quantizers placed (the quick MobileNetV2 runs), on each
// engine named by MLSYSREP_BENCH_ENGINES (default "purego:v1,purego:v2").
func BenchmarkTrainStep(b *testing.B) {
	names, backends, err := backend.BenchEngines("purego:v1,purego:v2")
	if err != nil {
		b.Fatal(err)
	}
	for bi, be := range backends {
		for _, method := range benchMethods() {
			q, err := quant.ParseConfig(method)
			if err != nil {
				b.Fatal(err)
			}
			const batch = 96
			b.Run(fmt.Sprintf("%s/width=0.5/batch=%d/%s", names[bi], batch, method), func(b *testing.B) {
				cfg := Default
				cfg.Width, cfg.Quant = 0.5, q
				store := model.NewStore()
				trainer := train.NewTrainer(be, store, cfg.ModelFn(), loss.SparseCategoricalCrossEntropyLogits,
					optimizer.StochasticGradientDescent(), nil, nil)
				seed := uint64(1)
				newBatch := func() train.Batch {
					seed++
					images, labels := modeltest.Images(batch, 32, 10, seed)
					return train.Batch{Inputs: []*tensors.Tensor{images}, Labels: []*tensors.Tensor{labels}}
				}
				// Untimed warm-up, as the PyTorch script does: the first
				// step compiles, and the first few fault in the heap the
				// later ones reuse (they run up to twice as long).
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
			})
		}
	}
}

// benchMethods are the quantizer configurations BenchmarkTrainStep times:
// MLSYSREP_BENCH_METHODS (comma-separated), else full precision and DoReFa
// W6A6G6.
func benchMethods() []string {
	if m := os.Getenv("MLSYSREP_BENCH_METHODS"); m != "" {
		return strings.Split(m, ",")
	}
	return []string{"fp", "dorefa:w6a6g6"}
}
