package recipe

import (
	"fmt"

	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/pkg/train"
)

// Spec is everything that decides a cell's result besides the code: the
// network's size, the data, and the training recipe.
type Spec struct {
	Width       float64 // channel multiplier
	Blocks      int     // ResNet blocks per stage
	TrainImages int     // first N in canonical order (0: all)
	TestImages  int     // first N in canonical order (0: all)
	Epochs      int
	Batch       int
	LR          float64
	Milestones  []int   // multi-step x0.1 epochs
	Cosine      bool    // PROTOCOL section 6's cosine
	Plateau     bool    // reduce-on-plateau of the test loss (x0.1, patience 10)
	ClipNorm    float64 // gradient-norm clipping (0: none)
	Calibration int     // PTQ calibration images
	// PruneRamp is the epochs over which a pruning cell's sparsity ramps up
	// (Zhu & Gupta's cubic schedule); 0: one-shot before the first step.
	PruneRamp int
}

// Schedule builds the spec's learning-rate schedule.
func (s Spec) Schedule() train.Schedule {
	switch {
	case s.Cosine:
		return train.Cosine{Base: s.LR, Epochs: s.Epochs}
	case s.Plateau:
		return train.NewReduceOnPlateau(s.LR, 0.1, 10)
	}
	return train.MultiStep{Base: s.LR, Milestones: s.Milestones, Gamma: 0.1}
}

// Record is the recipe part of a record.
func (s Spec) Record(observer string) report.Recipe {
	return report.Recipe{Epochs: s.Epochs, Batch: s.Batch, LR: s.LR, Schedule: s.Schedule().String(), Momentum: 0.9,
		WeightDecay: 5e-4, ClipNorm: s.ClipNorm, TrainImages: s.TrainImages, TestImages: s.TestImages,
		Calibration: s.Calibration, Observer: observer, PruneRampEpochs: s.PruneRamp,
		Init: "PyTorch default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)); BN scale 1, offset 0"}
}

// CIFARSpec is the recipe of a CIFAR model for a preset (PROTOCOL sections 5
// and 6); paper is the reference run of that method, given in full.
func CIFARSpec(preset Preset, m Model, paper Spec, quick func(Spec) Spec) (Spec, error) {
	switch preset {
	case Paper:
		paper.Width, paper.Blocks = 1, 2
		return paper, nil
	case Quick:
		s := quick(paper)
		s.TrainImages, s.TestImages = 10000, 0
		s.Width, s.Blocks = 0.25, 2
		if m == MobileNetV2 {
			s.Width = 0.5
		}
		return s, nil
	case Smoke:
		s := paper
		s.Width, s.Blocks = 0.125, 1
		// The smoke networks are so narrow (MobileNetV2 has 2-channel
		// layers) that batch norms divide by near-zero variances: LSQ W2A2
		// MobileNetV2's weights reached 2e7 by the third step and its loss
		// NaN on an AVX2 machine (at 0.25 too), where the AVX-512 one's
		// summation order got through. Smoke runs check that every cell
		// runs, so their gradients are clipped to norm 5.
		s.ClipNorm = 5
		s.TrainImages, s.TestImages, s.Epochs, s.Calibration = 256, 128, 1, 128
		s.Batch = min(s.Batch, 64)
		s.Milestones, s.Plateau, s.Cosine = nil, false, false
		return s, nil
	}
	return Spec{}, fmt.Errorf("unknown preset %q: valid presets are smoke, quick, paper", preset)
}

// QuickQAT is PROTOCOL section 6's shape of a QAT schedule: the paper's
// batch and learning rate, for the given epochs with x0.1 at the milestones
// (each method's package gives its own: DoReFa 8 epochs and x0.1 at 4, PACT
// and LSQ 14 and x0.1 at 6 and 12).
func QuickQAT(epochs int, milestones ...int) func(Spec) Spec {
	return func(s Spec) Spec {
		s.Plateau, s.Cosine = false, false
		s.Epochs, s.Milestones = epochs, milestones
		return s
	}
}
