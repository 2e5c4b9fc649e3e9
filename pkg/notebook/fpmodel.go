package notebook

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/datasets"
	"github.com/mlsysrep/mlsysrep/datasets/pipeline"
	"github.com/mlsysrep/mlsysrep/models/resnet"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/pkg/train"
	"github.com/mlsysrep/mlsysrep/quant/recipe"

	// The PTQ tables, whose FP ResNet-18 the tour inspects.
	_ "github.com/mlsysrep/mlsysrep/quant/ptq"
)

// FPModel is a trained full-precision CIFAR ResNet-18, for looking at real
// weights and activations.
type FPModel struct {
	Backend compute.Backend
	Store   *model.Store
	Net     resnet.Config
	Test    *datasets.Images // the test split (canonical order)
	Source  string           // where the weights came from
}

// ErrNotTrained is returned (wrapped) by LoadOrTrainFP when
// $MLSYSREP_NO_TRAIN=1 forbids training the model it would need: a notebook
// cell that gets it prints why and stops there without failing (see must.M
// in env.go), so that a records-only run of the notebooks completes.
var ErrNotTrained = errors.New("skipped, training is off")

// tourImages is how many training images the tour trains on when no
// checkpoint exists (two epochs: about a minute on 2 cores at width 0.25).
const tourImages = 2560

// LoadOrTrainFP returns the FP ResNet-18 of table ptq-resnet18 at the
// notebook's preset width: the runner's checkpoint of seed 1 on the same
// data copy (results/checkpoints/<preset>/ptq-resnet18/resnet18__fp/...) when one exists,
// else one trained here for two epochs on the first 2,560 training images
// (the smoke preset: its own few images), with progress, and checkpointed
// under results/checkpoints/<preset>/tour so that later calls load it.
func LoadOrTrainFP() (*FPModel, error) {
	preset, dir, err := settings()
	if err != nil {
		return nil, err
	}
	t, err := recipe.Lookup("ptq-resnet18")
	if err != nil {
		return nil, err
	}
	fp := quant.MustParseConfig("fp")
	spec, err := t.Recipe(preset, recipe.ResNet18, fp)
	if err != nil {
		return nil, err
	}
	be, line, err := Backend()
	if err != nil {
		return nil, err
	}
	fmt.Println(line)
	trainSet, testSet, copyName, err := recipe.LoadData(context.Background(), "cifar10",
		recipe.DataOptions{Source: recipe.DefaultSource(preset), Progress: os.Stdout})
	if err != nil {
		return nil, err
	}
	m := &FPModel{Backend: be, Store: model.NewStore(), Test: testSet,
		Net: resnet.Config{Width: spec.Width, BlocksPerStage: spec.Blocks, NumClasses: 10, Quant: fp}}
	if err := m.Store.SetRNGStateFromSeed(1); err != nil {
		return nil, err
	}
	key, err := recipe.CellKey("ptq-resnet18", preset, "resnet18/fp", Seed, copyName)
	if err != nil {
		return nil, err
	}
	ckpt := key.CheckpointDir(dir)
	var state map[string]any
	err = train.LoadCheckpoint(ckpt, key.String(), m.Store, &state)
	if err == nil {
		m.Source = fmt.Sprintf("the runner's FP checkpoint %s (preset %s, width %g, %s)", ckpt, preset, spec.Width, copyName)
		return m, nil
	}
	if !errors.Is(err, train.ErrNoCheckpoint) {
		return nil, err
	}
	n, epochs := tourImages, 2
	if preset == recipe.Smoke {
		n, epochs = spec.TrainImages, spec.Epochs
	}
	// The tour's own model is checkpointed too, so that the next cell (a new
	// program) loads it instead of training again.
	tour := &report.Record{Table: "tour", Cell: "resnet18/fp", Preset: preset, Model: string(recipe.ResNet18), Seed: Seed, Data: copyName,
		ModelSize: fmt.Sprintf("width %g, %d blocks per stage", spec.Width, spec.Blocks),
		Recipe:    report.Recipe{Epochs: epochs, Batch: spec.Batch, LR: spec.LR, TrainImages: n, TestImages: 1000}}
	tourKey := tour.Key()
	tourCkpt := tourKey.CheckpointDir(dir)
	if os.Getenv(NoTrainVar) == "1" {
		// Training is off: the tour's own model, if an earlier run trained
		// it to the end, else nothing.
		completed, err := train.LoadRunCheckpoint(tourCkpt, tourKey.String(), m.Store)
		if err != nil && !errors.Is(err, train.ErrNoCheckpoint) {
			return nil, err
		}
		if err != nil || completed < epochs {
			return nil, fmt.Errorf("%w: no FP ResNet-18 checkpoint at %s (the runner's) or %s (the tour's); "+
				"run the notebook without %s=1, or `mlsysrep run -table ptq-resnet18 -preset %s`, to train one",
				ErrNotTrained, ckpt, tourCkpt, NoTrainVar, preset)
		}
		m.Source = fmt.Sprintf("the tour's FP checkpoint %s (%d epochs on %d images of %s)", tourCkpt, epochs, n, copyName)
		return m, nil
	}
	fmt.Printf("No runner FP checkpoint at %s: ResNet-18 (width %g), %d epochs on the first %d training images of %s, checkpointed in %s.\n",
		ckpt, spec.Width, epochs, n, copyName, tourCkpt)
	p := NewProgress()
	defer p.Close()
	h, err := train.Run(context.Background(), train.Config{Backend: be, Store: m.Store, Model: m.Net.ModelFn(),
		Train: &pipeline.Loader{Images: trainSet.FirstN(n), Batch: spec.Batch, Shuffle: true, Seed: 1, Last: pipeline.Drop,
			Transform: pipeline.NewCIFARTrain()},
		Eval:   &pipeline.Loader{Images: testSet.FirstN(1000), Batch: 250, Last: pipeline.Keep, Transform: pipeline.NewCIFAREval()},
		Epochs: epochs, Optimizer: train.SGD{Momentum: 0.9, WeightDecay: 5e-4},
		Schedule: train.MultiStep{Base: spec.LR}, CheckpointDir: tourCkpt, CheckpointKey: tourKey.String(), Events: p.Event, ProgressEvery: 5})
	if err != nil {
		return nil, err
	}
	last := h.Epochs[len(h.Epochs)-1]
	m.Source = fmt.Sprintf("trained by the tour: %d epochs on %d images of %s (test accuracy %.1f%% on 1,000 images)",
		epochs, n, copyName, 100*last.TestAccuracy)
	return m, nil
}

// StemWeights returns the stem convolution's kernel, flattened, and its
// dimensions ([kh, kw, in, out]: output channels last).
func (m *FPModel) StemWeights() ([]float64, []int, error) {
	if err := m.build(); err != nil {
		return nil, nil, err
	}
	for v := range m.Store.IterVariables() {
		if t, err := v.Value(); err == nil && t.Shape().Rank() == 4 && filepath.Dir(v.Path()) == "/stem/conv" {
			return Values(t), t.Shape().Dimensions, nil
		}
	}
	var paths []string
	for v := range m.Store.IterVariables() {
		paths = append(paths, v.Path())
	}
	return nil, nil, fmt.Errorf("no stem convolution kernel among the variables %v", paths)
}

// StemActivations returns the stem's output (after BN and ReLU, inference
// mode) on the first n test images, flattened.
func (m *FPModel) StemActivations(n int) ([]float64, error) {
	loader := &pipeline.Loader{Images: m.Test.FirstN(n), Batch: n, Last: pipeline.Keep, Transform: pipeline.NewCIFAREval()}
	exec, err := model.NewExec(m.Backend, m.Store, func(scope *model.Scope, images *graph.Node) *graph.Node {
		return m.Net.Stem(scope, images)
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
		return Values(outs[0]), nil
	}
	return nil, errors.New("no test images")
}

// build creates the model's variables (their values come from the
// checkpoint or the training) by building the stem once.
func (m *FPModel) build() error {
	_, err := m.StemActivations(1)
	return err
}
