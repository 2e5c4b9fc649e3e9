package svhnnet

import (
	"fmt"
	"testing"

	"github.com/mlsysrep/mlsysrep/models/internal/modeltest"
	"github.com/mlsysrep/mlsysrep/pkg/backend"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
)

// BenchmarkTrainStep times one SGD training step of Model A at full size and
// the quick SVHN preset's batch of 256 (PROTOCOL section 6), in full
// precision and with the DoReFa W2A2G6 quantizers of the quick cell, on each
// engine named by MLSYSREP_BENCH_ENGINES (default "purego:v1,purego:v2").
func BenchmarkTrainStep(b *testing.B) {
	names, backends, err := backend.BenchEngines("purego:v1,purego:v2")
	if err != nil {
		b.Fatal(err)
	}
	for bi, be := range backends {
		for _, method := range []string{"fp", "dorefa:w2a2g6"} {
			q, err := quant.ParseConfig(method)
			if err != nil {
				b.Fatal(err)
			}
			const batch = 256
			b.Run(fmt.Sprintf("%s/batch=%d/%s", names[bi], batch, method), func(b *testing.B) {
				cfg := Default
				cfg.Quant = q
				modeltest.BenchTrainStep(b, be, cfg.ModelFn(), batch, InputSize, 10)
			})
		}
	}
}
