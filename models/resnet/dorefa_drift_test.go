package resnet

import (
	"math"
	"testing"

	"github.com/mlsysrep/mlsysrep/models/mobilenetv2"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
)

// BenchmarkDoReFaEngineDrift asks whether DoReFa MobileNetV2 trains lower on
// engine v2 than on engine v1, as the quick DoReFa cell did (train loss
// 1.905 against 2.034 after 8 epochs, one seed each). It is an experiment,
// not a speed measurement, written as a benchmark so that `go test` does not
// run it (150 s): MobileNetV2 at width 0.5 with DoReFa W6A6G6 trains for 10
// SGD steps on one synthetic batch of 32 from the same initial variables on
// both engines, under 8 paired perturbations of the pixels and the initial
// variables (TestEnginesAgree's relative noise of 1e-5; a DoReFa step's loss
// moves by about 1% under it, a float32 rounding flipping quantizer
// decisions), and it reports the mean over the seeds of v2's minus v1's mean
// loss over steps 6-10 and the paired t statistic of those differences.
//
//	go test -run '^$' -bench DoReFaEngineDrift -benchtime 1x ./models/resnet/
func BenchmarkDoReFaEngineDrift(b *testing.B) {
	const steps, seeds = 10, 8
	cfg := mobilenetv2.Default
	cfg.Width = 0.5
	cfg.Quant = quant.MustParseConfig("dorefa:w6a6g6")
	setup := agreeSetup{build: cfg.ModelFn(), size: 32, classes: 10, batch: 32, lr: 0.05}
	v1, v2 := selectEngine(b, "purego:v1"), selectEngine(b, "purego:v2")
	for b.Loop() {
		var diffs []float64
		for seed := range uint64(seeds) {
			l1 := setup.train(b, v1, steps, v1Noise, seed+1).losses
			l2 := setup.train(b, v2, steps, v1Noise, seed+1).losses
			m1, m2 := meanFrom(l1, steps/2), meanFrom(l2, steps/2)
			b.Logf("seed %d: mean loss of steps %d-%d: v1 %.4f, v2 %.4f", seed+1, steps/2+1, steps, m1, m2)
			diffs = append(diffs, m2-m1)
		}
		mean := meanFrom(diffs, 0)
		variance := 0.0
		for _, d := range diffs {
			variance += (d - mean) * (d - mean) / float64(len(diffs)-1)
		}
		b.ReportMetric(mean, "v2-v1-loss")
		b.ReportMetric(mean/math.Sqrt(variance/float64(len(diffs))), "paired-t")
	}
}

// meanFrom is the mean of values[from:].
func meanFrom(values []float64, from int) float64 {
	s := 0.0
	for _, v := range values[from:] {
		s += v
	}
	return s / float64(len(values)-from)
}
