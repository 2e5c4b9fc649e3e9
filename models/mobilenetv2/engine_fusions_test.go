package mobilenetv2

import (
	"math"
	"testing"

	"github.com/mlsysrep/mlsysrep/models/internal/modeltest"
)

// TestEngineFusionsKeepBits trains a 1/4-width MobileNetV2 for a few steps
// in full precision and with DoReFa W6A6G6, LSQ W2A2 and PACT W4A4
// quantizers, with engine v2's batch-norm and random-bit fusions and its
// recomputation switched off and on (the programs reading a batch norm's
// output normalize as they read; a batch-norm gradient runs the program
// that makes its input; DoReFa's gradient quantizer draws its noise itself;
// the LSQ and PACT clipping masks are recomputed in each program that
// reads them): the losses must be the same bits. The
// engine's own tests check the rewrites take place; on engine v1
// (MLSYSREP_TEST_ENGINE=purego:v1) both runs are v1's.
func TestEngineFusionsKeepBits(t *testing.T) {
	for _, q := range []string{"fp", "dorefa:w6a6g6", "lsq:w2a2", "pact:w4a4"} {
		t.Run(q, func(t *testing.T) {
			run := func(off string) []float64 {
				t.Setenv("MLSYSREP_ENGINE_OFF", off)
				return modeltest.TrainLosses(t, withQuant(0.25, q).Build, 16, 10, 16, 4, 0.2)
			}
			want, got := run("BatchNormEpilogue,BatchNormGradInput,RandomFusion,Recompute"), run("")
			for i := range want {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
					t.Fatalf("loss[%d] = %v with the fusions, %v without (all %v vs %v)", i, got[i], want[i], got, want)
				}
			}
		})
	}
}
