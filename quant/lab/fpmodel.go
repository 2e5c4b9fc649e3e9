package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mlsysrep/mlsysrep/pkg/notebook"
	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/quant/recipe"
)

// FPModel is a trained full-precision CIFAR ResNet-18, for looking at real
// weights and activations.
type FPModel struct {
	*recipe.FPModel
	Source string // where the weights came from
}

// tourImages is how many training images the tour trains on when no
// checkpoint exists (two epochs: about a minute on 2 cores at width 0.25).
const (
	tourImages = 2560
	tourEpochs = 2
	tourTest   = 1000
)

// LoadOrTrainFP returns the FP ResNet-18 of table ptq-resnet18 at the
// notebook's preset width: the runner's model of seed 1 on the same data
// copy (its finished checkpoint under
// results/checkpoints/<preset>/ptq-resnet18/resnet18__fp/...) when there is
// one; else, at the quick preset, the committed one (CommittedFPDir); else
// the tour's own: the same network and recipe trained for two
// epochs on the first 2,560 training images (the smoke preset: its own few
// images), with progress, checkpointed under results/checkpoints/<preset>/tour
// so that later calls load it. Both come from recipe.TrainFP, the runner's
// FP-training path. With $MLSYSREP_NO_TRAIN=1 it trains nothing and returns
// an error wrapping notebook.ErrNotTrained when neither model exists.
func LoadOrTrainFP() (*FPModel, error) {
	preset, dir, err := settings()
	if err != nil {
		return nil, err
	}
	be, line, err := notebook.Backend()
	if err != nil {
		return nil, err
	}
	fmt.Println(line)
	ctx := context.Background()
	noTrain := os.Getenv(notebook.NoTrainVar) == "1"
	data := recipe.DataOptions{Source: recipe.DefaultSource(preset), Progress: os.Stdout}
	if noTrain {
		data.Source = "local" // a records-only run downloads nothing
	}
	cache := recipe.NewDataCache()
	opts := recipe.FPOptions{Table: "ptq-resnet18", Preset: preset, Data: data, Cache: cache, Backend: be, Seed: Seed, LoadOnly: true}
	// The runner's model: its key names the data copy, known once loaded.
	_, _, copyName, err := cache.Load(ctx, "cifar10", data)
	if err != nil {
		return nil, err
	}
	if noTrain && preset != recipe.Smoke && strings.HasPrefix(copyName, "synthetic") {
		return nil, fmt.Errorf("%w: no local CIFAR-10 copy for the real layer's test images (set MLSYSREP_ARCHIVES to the folder holding it)",
			notebook.ErrNotTrained)
	}
	key, err := recipe.CellKey("ptq-resnet18", preset, "resnet18/fp", Seed, copyName)
	if err != nil {
		return nil, err
	}
	opts.CheckpointDir, opts.CheckpointKey = key.CheckpointDir(dir), key.String()
	m, err := recipe.TrainFP(ctx, opts)
	if err == nil {
		return &FPModel{FPModel: m, Source: fmt.Sprintf("the runner's FP checkpoint %s (preset %s, %s, %s)",
			opts.CheckpointDir, preset, m.Size, m.Data)}, nil
	}
	if !errors.Is(err, recipe.ErrNoFPModel) {
		return nil, err
	}
	runnerCkpt := opts.CheckpointDir
	// The committed model of the quick preset: real weights at once, with
	// neither training nor the runner's checkpoint.
	if preset == recipe.Quick {
		if m, source, err := committedFP(ctx, opts); err != nil || m != nil {
			return m, err
		} else if source != "" {
			fmt.Println(source)
		}
	}
	// The tour's own model, checkpointed too so that the next cell (a new
	// program) loads it instead of training again.
	if preset != recipe.Smoke {
		opts.TrainImages, opts.Epochs = tourImages, tourEpochs
	}
	opts.TestImages = tourTest
	_, spec, err := recipe.FPSpec(opts)
	if err != nil {
		return nil, err
	}
	tour := &report.Record{Table: "tour", Cell: "resnet18/fp", Preset: string(preset), Model: string(recipe.ResNet18), Seed: Seed, Data: copyName,
		ModelSize: fmt.Sprintf("width %g, %d blocks per stage", spec.Width, spec.Blocks),
		Recipe:    spec.Record("")}
	tourKey := tour.Key()
	opts.CheckpointDir, opts.CheckpointKey = tourKey.CheckpointDir(dir), tourKey.String()
	m, err = recipe.TrainFP(ctx, opts) // LoadOnly: the tour's model, if an earlier cell trained it to the end
	switch {
	case err == nil:
		return &FPModel{FPModel: m, Source: fmt.Sprintf("the tour's FP checkpoint %s (%s on %d images of %s)",
			opts.CheckpointDir, report.Epochs(spec.Epochs), spec.TrainImages, copyName)}, nil
	case !errors.Is(err, recipe.ErrNoFPModel):
		return nil, err
	case noTrain:
		return nil, fmt.Errorf("%w: no FP ResNet-18 checkpoint at %s (the runner's) or %s (the tour's); "+
			"run the notebook without %s=1, or `mlsysrep run -table ptq-resnet18 -preset %s`, to train one",
			notebook.ErrNotTrained, runnerCkpt, opts.CheckpointDir, notebook.NoTrainVar, preset)
	}
	fmt.Printf("No runner FP checkpoint at %s: ResNet-18 (width %g), %s on the first %d training images of %s, checkpointed in %s.\n",
		runnerCkpt, spec.Width, report.Epochs(spec.Epochs), spec.TrainImages, copyName, opts.CheckpointDir)
	p := notebook.NewProgress()
	defer p.Close()
	opts.LoadOnly, opts.Events, opts.ProgressEvery = false, p.Event, 5
	m, err = recipe.TrainFP(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &FPModel{FPModel: m, Source: fmt.Sprintf("trained by the tour: %s on %d images of %s (test accuracy %.1f%% on %d images)",
		report.Epochs(spec.Epochs), spec.TrainImages, copyName, 100*m.TestAccuracy(), spec.TestImages)}, nil
}

// CommittedFPDir is where, under the checkout's root, the quick preset's FP
// ResNet-18 of table ptq-resnet18 is committed with its record, so that the
// tour shows real weights and activations offline without training: the
// checkpoint `mlsysrep run -table ptq-resnet18 -preset quick` wrote
// (record.json says when, on which engine and data copy, and its test
// accuracy).
const CommittedFPDir = "notebooks/models/ptq-resnet18-fp-quick"

// committedFP loads the committed quick FP model. It returns nil and a
// note when it cannot (no checkout, another recipe since), so that the tour
// trains its own instead.
func committedFP(ctx context.Context, opts recipe.FPOptions) (*FPModel, string, error) {
	root, err := notebook.Root()
	if err != nil {
		return nil, "", nil
	}
	dir := filepath.Join(root, CommittedFPDir)
	data, err := os.ReadFile(filepath.Join(dir, "record.json"))
	if err != nil {
		return nil, fmt.Sprintf("no committed FP model (%v)", err), nil
	}
	rec, err := report.Decode(data)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", dir, err)
	}
	_, spec, err := recipe.FPSpec(opts)
	if err != nil {
		return nil, "", err
	}
	if rec.Recipe != spec.Record("") {
		return nil, fmt.Sprintf("the committed FP model in %s is of another recipe than today's quick preset: not used", dir), nil
	}
	// The key the run saved it under: its data copy's, whatever copy the
	// test images come from here.
	opts.CheckpointDir, opts.CheckpointKey, opts.LoadOnly = dir, rec.Key().String(), true
	m, err := recipe.TrainFP(ctx, opts)
	if errors.Is(err, recipe.ErrNoFPModel) {
		return nil, fmt.Sprintf("the committed FP model in %s has no finished checkpoint: not used", dir), nil
	}
	if err != nil {
		return nil, "", err
	}
	return &FPModel{FPModel: m, Source: fmt.Sprintf("the committed quick FP model %s (%.2f%% test accuracy on %s, trained by the runner on %s at commit %s)",
		CommittedFPDir, rec.Final, rec.Data, rec.Backend, rec.Commit)}, "", nil
}

// StemWeights returns the stem convolution's kernel, flattened, and its
// dimensions ([kh, kw, in, out]: output channels last).
func (m *FPModel) StemWeights() ([]float64, []int, error) {
	if _, err := m.Stem(1); err != nil { // creates the variables (their values are the checkpoint's)
		return nil, nil, err
	}
	var paths []string
	for v := range m.Store.IterVariables() {
		if t, err := v.Value(); err == nil && t.Shape().Rank() == 4 && filepath.Dir(v.Path()) == "/stem/conv" {
			return notebook.Values(t), t.Shape().Dimensions, nil
		}
		paths = append(paths, v.Path())
	}
	return nil, nil, fmt.Errorf("no stem convolution kernel among the variables %v", paths)
}

// StemActivations returns the stem's output (after BN and ReLU, inference
// mode) on the first n test images, flattened.
func (m *FPModel) StemActivations(n int) ([]float64, error) {
	t, err := m.Stem(n)
	if err != nil {
		return nil, err
	}
	return notebook.Values(t), nil
}
