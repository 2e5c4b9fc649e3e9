package recipe

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/datasets/pipeline"
	"github.com/mlsysrep/mlsysrep/models/resnet"
	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/pkg/train"
)

// FP models outside the tables: the demo trains one, the notebook tour
// inspects one. They are a PTQ table's FP model, trained by the same loop
// (runner.train) with the same recipe as the runner trains it for that
// table and preset, unless the options override its size: one FP-training
// path, whatever asks for the model.

// FPOptions is one FP model of a PTQ table's network.
type FPOptions struct {
	Table  string // a PTQ table: its network and its FP recipe ("ptq-resnet18", "ptq-mobilenetv2")
	Preset Preset
	// Overrides of the preset's recipe (0: the preset's): epochs, batch,
	// and the first N training and test images.
	Epochs, Batch, TrainImages, TestImages int
	Data                                   DataOptions
	// Cache, when set, holds the decoded data across calls (nil: decoded
	// for this call).
	Cache   *DataCache
	Backend compute.Backend
	Seed    uint64
	// CheckpointDir and CheckpointKey, when set, checkpoint the run after
	// every epoch and resume it (or load it, when it finished) from there.
	CheckpointDir, CheckpointKey string
	// LoadOnly loads a finished checkpoint and trains nothing: without one
	// TrainFP returns an error wrapping ErrNoFPModel.
	LoadOnly bool
	// Progress gets the training's lines unless Events takes its reports
	// (train.Config's); ProgressEvery is the steps between step reports.
	Progress      io.Writer
	Events        func(train.Event)
	ProgressEvery int
}

// ErrNoFPModel is wrapped by TrainFP's error when LoadOnly finds no
// finished checkpoint.
var ErrNoFPModel = errors.New("no trained FP model")

// FPModel is a trained FP network.
type FPModel struct {
	Model Model
	Spec  Spec   // the recipe it was trained with, overrides included
	Size  string // e.g. "width 0.25, 2797610 parameters"
	Data  string // the data copy's name
	Store *model.Store
	// Epochs is the training's history, one entry per epoch (test accuracy
	// on the first Spec.TestImages test images).
	Epochs  []report.Epoch
	backend compute.Backend
	test    *pipeline.Loader
}

// TestAccuracy is the test accuracy after the last epoch, in [0, 1].
func (m *FPModel) TestAccuracy() float64 {
	if len(m.Epochs) == 0 {
		return 0
	}
	return m.Epochs[len(m.Epochs)-1].TestAccuracy
}

// FPSpec is the recipe of a PTQ table's FP model at a preset, with the
// options' overrides, and the network it trains.
func FPSpec(o FPOptions) (Model, Spec, error) {
	_, m, spec, err := fpSpec(o)
	return m, spec, err
}

// fpSpec is FPSpec with the table.
func fpSpec(o FPOptions) (*Table, Model, Spec, error) {
	t, err := Lookup(o.Table)
	if err != nil {
		return nil, "", Spec{}, err
	}
	cells := t.Cells()
	if !t.PTQ || len(cells) == 0 {
		return nil, "", Spec{}, fmt.Errorf("table %s has no FP model: FP models are the PTQ tables' (ptq-resnet18, ptq-mobilenetv2)", o.Table)
	}
	m := cells[0].Model
	spec, err := t.Recipe(o.Preset, m, fpConfig)
	if err != nil {
		return nil, "", Spec{}, err
	}
	for _, v := range []int{o.Epochs, o.Batch, o.TrainImages, o.TestImages} {
		if v < 0 {
			return nil, "", Spec{}, fmt.Errorf("FP model overrides must not be negative: epochs %d, batch %d, images %d and %d",
				o.Epochs, o.Batch, o.TrainImages, o.TestImages)
		}
	}
	if o.Epochs > 0 {
		spec.Epochs = o.Epochs
	}
	if o.Batch > 0 {
		spec.Batch = o.Batch
	}
	if o.TrainImages > 0 {
		spec.TrainImages = o.TrainImages
	}
	if o.TestImages > 0 {
		spec.TestImages = o.TestImages
	}
	return t, m, spec, nil
}

// TrainFP trains the FP model of a PTQ table's network (or resumes or
// loads it from its checkpoint, see FPOptions) and returns it.
func TrainFP(ctx context.Context, o FPOptions) (*FPModel, error) {
	t, m, spec, err := fpSpec(o)
	if err != nil {
		return nil, err
	}
	if o.LoadOnly {
		// Only whether the run finished (train.Run below loads the weights).
		completed := 0
		if o.CheckpointDir != "" {
			completed, err = train.LoadRunCheckpoint(o.CheckpointDir, o.CheckpointKey, model.NewStore())
		}
		if o.CheckpointDir == "" || errors.Is(err, train.ErrNoCheckpoint) || (err == nil && completed < spec.Epochs) {
			return nil, fmt.Errorf("%w of %s at preset %s in %q", ErrNoFPModel, o.Table, o.Preset, o.CheckpointDir)
		}
		if err != nil {
			return nil, err
		}
	}
	r := &runner{opts: Options{Table: t.Name, Preset: o.Preset, Data: o.Data, Backend: o.Backend, Seed: o.Seed,
		Progress: o.Progress, Events: o.Events, ProgressEvery: o.ProgressEvery}, table: t, data: dataCache{}}
	if o.Cache != nil {
		r.data = o.Cache.c
	}
	tr, err := r.trainee(ctx, m, fpConfig, spec)
	if err != nil {
		return nil, err
	}
	h, err := r.train(ctx, tr, spec, o.CheckpointDir, o.CheckpointKey, nil)
	if err != nil {
		return nil, fmt.Errorf("FP %s: %w", m, err)
	}
	return &FPModel{Model: m, Spec: spec, Size: tr.size, Data: tr.copyName, Store: tr.store, Epochs: curve(h.Epochs),
		backend: o.Backend, test: tr.testL}, nil
}

// Stem returns the output of a ResNet-18's stem (convolution, batch norm
// and ReLU, inference mode) on the first n test images.
func (m *FPModel) Stem(n int) (*tensors.Tensor, error) {
	if m.Model != ResNet18 {
		return nil, fmt.Errorf("Stem is a ResNet-18's, not a %s's", m.Model)
	}
	net := resnet.Config{Width: m.Spec.Width, BlocksPerStage: m.Spec.Blocks, NumClasses: 10, Quant: fpConfig}
	loader := &pipeline.Loader{Images: m.test.Images.FirstN(min(n, m.test.Images.N)), Batch: n, Last: pipeline.Keep,
		Transform: m.test.Transform}
	exec, err := model.NewExec(m.backend, m.Store, func(scope *model.Scope, images *graph.Node) *graph.Node {
		return net.Stem(scope, images)
	})
	if err != nil {
		return nil, err
	}
	for b, err := range loader.Iter() {
		if err != nil {
			return nil, err
		}
		outs, err := exec.Call(b.Inputs[0])
		if err != nil {
			return nil, err
		}
		return outs[0], nil
	}
	return nil, errors.New("no test images")
}
