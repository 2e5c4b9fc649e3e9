package mobilenetv2

import (
	"fmt"
	"os"
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
			const batch = 96
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
