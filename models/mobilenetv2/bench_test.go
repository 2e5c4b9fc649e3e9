package mobilenetv2

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

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
			batch := benchBatch(96)
			b.Run(fmt.Sprintf("%s/width=0.5/batch=%d/%s", names[bi], batch, method), func(b *testing.B) {
				cfg := Default
				cfg.Width, cfg.Quant = 0.5, q
				modeltest.BenchTrainStep(b, be, cfg.ModelFn(), batch, 32, 10)
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

// BenchmarkEvalStep times the inference forward pass the training loop runs
// on the test split after every epoch (batch 100, the runner's test batch
// for every MobileNetV2 recipe), for the same configurations and engines as
// BenchmarkTrainStep.
func BenchmarkEvalStep(b *testing.B) {
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
			batch := benchBatch(100)
			b.Run(fmt.Sprintf("%s/width=0.5/batch=%d/%s", names[bi], batch, method), func(b *testing.B) {
				cfg := Default
				cfg.Width, cfg.Quant = 0.5, q
				modeltest.BenchEvalStep(b, be, cfg.ModelFn(), batch, 32, 10)
			})
		}
	}
}

// benchBatch is MLSYSREP_BENCH_BATCH when set (e.g. 64, LSQ's batch), else def.
func benchBatch(def int) int {
	if n, err := strconv.Atoi(os.Getenv("MLSYSREP_BENCH_BATCH")); err == nil && n > 0 {
		return n
	}
	return def
}
