package engine

import (
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
)

// relu6BNCNN is a MobileNetV2-like block: a batch norm read by a ReLU6
// (forward clip and gradient mask), and one read by a residual add.
func relu6BNCNN(scope *model.Scope, x *graph.Node) *graph.Node {
	x = layers.Convolution(scope.In("conv1"), x).Channels(8).KernelSize(3).PadSame().Done()
	x = nn.BatchNorm(scope.In("bn1"), x).Done()
	x = graph.Min(graph.Max(x, graph.ScalarZero(x.Graph(), x.DType())), graph.Scalar(x.Graph(), x.DType(), 6))
	y := layers.Convolution(scope.In("conv2"), x).Channels(8).KernelSize(1).Done()
	y = nn.BatchNorm(scope.In("bn2"), y).Done()
	x = graph.Add(x, y)
	x = graph.ReduceMean(x, 1, 2)
	return layers.DenseWithBias(scope.In("fc"), x, 4)
}

// TestBatchNormFusionsExact trains relu6BNCNN with every native kernel:
// once with the batch norms' output passes and the programs their
// gradients read as nodes of their own, then with the gradients running
// those programs themselves (batchnorm_gradinput.go), then with the
// programs reading a batch norm's output normalizing as they read
// (batchnorm_epilogue.go) as well. The losses and every variable must be
// the same bits each time, and each rewrite must have run (both batch
// norms' outputs, the ReLU6 mask's gradient, every step). It does so with
// v1's statistics and with the accurate ones (ExperimentalEnvVar), whose
// epilogue normalizes as BatchNorm.Train does.
func TestBatchNormFusionsExact(t *testing.T) {
	for _, experimental := range []string{"", "BatchNormForTraining"} {
		t.Run("experimental="+experimental, func(t *testing.T) {
			testBatchNormFusionsExact(t, experimental)
		})
	}
}

func testBatchNormFusionsExact(t *testing.T, experimental string) {
	defer func(size int) { minFusedSize = size }(minFusedSize)
	minFusedSize = 2 // the test's small tensors fused as MobileNetV2's are
	clearKernelSwitches(t)
	t.Setenv(ExperimentalEnvVar, experimental)
	t.Setenv(OffEnvVar, epilogueOff+","+gradInputOff)
	stats, gradFrom := bnStatsRuns.Load(), bnGradFillRuns.Load()
	wantLoss, wantStore := trainModel(t, mustNew(t, ""), relu6BNCNN, exactSteps)
	if s, g := bnStatsRuns.Load()-stats, bnGradFillRuns.Load()-gradFrom; s != 0 || g != 0 {
		t.Fatalf("%d epilogues and %d gradients computing their input ran with both switched off", s, g)
	}
	for _, off := range []string{epilogueOff, ""} {
		t.Run("off="+off, func(t *testing.T) {
			t.Setenv(OffEnvVar, off)
			stats, gradFrom := bnStatsRuns.Load(), bnGradFillRuns.Load()
			gotLoss, gotStore := trainModel(t, mustNew(t, ""), relu6BNCNN, exactSteps)
			if g := bnGradFillRuns.Load() - gradFrom; g < exactSteps {
				t.Errorf("%d batch-norm gradients ran their input's program, want at least %d (one a step)", g, exactSteps)
			}
			want := int64(2 * exactSteps)
			if off != "" {
				want = 0
			}
			if s := bnStatsRuns.Load() - stats; s != want {
				t.Errorf("%d batch norms left their output to the programs, want %d", s, want)
			}
			compareRuns(t, wantLoss, gotLoss, wantStore, gotStore)
		})
	}
}

// TestBatchNormGradientProgramsRecomputeLittle: a batch-norm gradient that
// runs its input's program (batchnorm_gradinput.go) runs it twice per
// element, so a value that program reads is recomputed in it only when it
// is one op (recomputable). DoReFa's clipping mask (comparisons and Wheres),
// read by the forward quantizer and by the gradient the batch norm takes,
// stays a program of its own.
func TestBatchNormGradientProgramsRecomputeLittle(t *testing.T) {
	defer func(size int) { minFusedSize = size }(minFusedSize)
	minFusedSize = 2
	clearKernelSwitches(t)
	var gradPrograms []string
	masks := 0
	compiledHook = func(p *plan) {
		for _, st := range p.steps {
			switch k := st.native.(type) {
			case *bnGradFillKernel:
				gradPrograms = append(gradPrograms, k.describe())
			case *fusedKernel:
				if strings.HasPrefix(k.describe(), "[GreaterEqual LessEqual Where Where]") {
					masks++
				}
			}
		}
	}
	defer func() { compiledHook = nil }()
	trainModel(t, mustNew(t, ""), func(scope *model.Scope, x *graph.Node) *graph.Node {
		x = layers.Convolution(scope.In("conv1"), x).Channels(8).KernelSize(3).PadSame().Done()
		x = nn.BatchNorm(scope.In("bn1"), x).Done()
		x = quant.DoReFaActivation(x, 4)
		x = layers.Convolution(scope.In("conv2"), x).Channels(8).KernelSize(1).Done()
		x = graph.ReduceMean(x, 1, 2)
		return layers.DenseWithBias(scope.In("fc"), x, 4)
	}, 1)
	if len(gradPrograms) == 0 {
		t.Fatal("no batch-norm gradient ran its input's program")
	}
	for _, ops := range gradPrograms {
		if strings.Contains(ops, "GreaterEqual") {
			t.Errorf("a batch-norm gradient recomputes the clipping mask: %s", ops)
		}
	}
	if masks == 0 {
		t.Error("the clipping mask is not a program of its own")
	}
}
