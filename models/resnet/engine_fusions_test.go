package resnet

import (
	"math"
	"testing"

	"github.com/mlsysrep/mlsysrep/models/internal/modeltest"
)

// TestEngineFusionsKeepBits trains a 1/8-width ResNet for a few steps in
// full precision and with PACT W4A4 quantizers, with engine v2's fusions
// around ReLU switched off and on (a ReLU and its gradient inside fused
// programs: after a batch norm, which then never writes its output, and
// after a residual add): the losses must be the same bits. The engine's own
// tests check the rewrites take place; on engine v1
// (MLSYSREP_TEST_ENGINE=purego:v1) both runs are v1's.
func TestEngineFusionsKeepBits(t *testing.T) {
	for _, q := range []string{"fp", "pact:w4a4"} {
		t.Run(q, func(t *testing.T) {
			run := func(off string) []float64 {
				t.Setenv("MLSYSREP_ENGINE_OFF", off)
				c := withQuant(0.125, q)
				c.BlocksPerStage = 1
				return modeltest.TrainLosses(t, c.Build, 16, 10, 16, 4, 0.1)
			}
			want, got := run("ReluFusion,BatchNormEpilogue,BatchNormGradInput"), run("")
			for i := range want {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
					t.Fatalf("loss[%d] = %v with the fusions, %v without (all %v vs %v)", i, got[i], want[i], got, want)
				}
			}
		})
	}
}
