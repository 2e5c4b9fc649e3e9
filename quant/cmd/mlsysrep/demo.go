package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/mlsysrep/mlsysrep/pkg/backend"
	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/quant/recipe"
)

// runDemo is "mlsysrep demo": one FP model trained with progress, through
// the recipes' one FP-training path (recipe.TrainFP): the FP model of a PTQ
// table at a preset, the same recipe the runner trains it with, unless
// -epochs or -batch say otherwise. Nothing is recorded or checkpointed.
func runDemo(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	presetName := fs.String("preset", string(recipe.Smoke), "smoke, quick or paper: the PTQ table's FP recipe at that preset")
	modelName := fs.String("model", string(recipe.ResNet18), "network: resnet18 or mobilenetv2")
	batch := fs.Int("batch", 0, "batch size (default: the preset's)")
	epochs := fs.Int("epochs", 0, "epochs (default: the preset's)")
	data := fs.String("data", "", "data source: auto (local copy, else download), local (local copy, else synthetic), synthetic; default: local for smoke, auto otherwise")
	archives := fs.String("archives", "", "folder holding already-downloaded archives (also searched: $MLSYSREP_ARCHIVES)")
	dataDir := fs.String("datadir", "", "writable data cache (default $MLSYSREP_DATA, else the user cache dir)")
	backendName := fs.String("backend", "", "compute backend (default: $GOMLX_BACKEND, else XLA if installed, else purego)")
	seed := fs.Uint64("seed", 1, "seed of the initialization, data order and augmentation")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	preset, err := parsePreset(*presetName)
	if err != nil {
		return err
	}
	var table string
	switch recipe.Model(*modelName) {
	case recipe.ResNet18, recipe.MobileNetV2:
		table = "ptq-" + *modelName
	default:
		return fmt.Errorf("%w: unknown -model %q (valid: resnet18, mobilenetv2)", errUsage, *modelName)
	}
	if *batch < 0 || *epochs < 0 {
		return fmt.Errorf("%w: -batch and -epochs must be positive", errUsage)
	}
	source := *data
	if source == "" {
		source = recipe.DefaultSource(preset)
	}
	if !validSource(source) {
		return fmt.Errorf("%w: unknown -data %q (valid: auto, local, synthetic)", errUsage, source)
	}
	be, line, err := backend.Select(*backendName)
	if err != nil {
		return err
	}
	fmt.Println(line)
	opts := recipe.FPOptions{Table: table, Preset: preset, Epochs: *epochs, Batch: *batch,
		Data:    recipe.DataOptions{Source: source, DataDir: *dataDir, ArchiveDirs: nonEmpty(*archives), Progress: os.Stdout},
		Backend: be, Seed: *seed, Progress: os.Stdout}
	_, spec, err := recipe.FPSpec(opts)
	if err != nil {
		return err
	}
	fmt.Printf("model: FP %s at width %g; table %s's FP recipe at preset %s: %s, batch %d, %s, seed %d\n",
		*modelName, spec.Width, table, preset, report.Epochs(spec.Epochs), spec.Batch, spec.Record("").Schedule, *seed)
	start := time.Now()
	m, err := recipe.TrainFP(context.Background(), opts)
	if err != nil {
		return err
	}
	fmt.Printf("done in %s: %s on %s, test accuracy %.2f%% (%s)\n", time.Since(start).Round(time.Second),
		m.Size, m.Data, 100*m.TestAccuracy(), testImages(spec.TestImages))
	return nil
}

// testImages says how many test images an accuracy is over.
func testImages(n int) string {
	if n == 0 {
		return "the whole test split"
	}
	return fmt.Sprintf("the first %d test images", n)
}

// nonEmpty is the archive folder flag as a list.
func nonEmpty(dir string) []string {
	if dir == "" {
		return nil
	}
	return []string{dir}
}
