package main

import (
	"flag"
	"fmt"

	"github.com/mlsysrep/mlsysrep/quant/recipe"
)

// runExport writes a trained cell's FP weights as safetensors with
// pytorch-cifar's names (recipe.Export).
func runExport(args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	table := fs.String("table", "", "table whose trained model to export (ptq-resnet18, ptq-mobilenetv2, or a QAT table with -cell)")
	cell := fs.String("cell", "", "the cell (default for a PTQ table: its FP model, <model>/fp)")
	presetName := fs.String("preset", string(recipe.Quick), "smoke, quick or paper")
	seed := fs.Uint64("seed", 1, "seed of the run to export")
	out := fs.String("out", "results", "the runner's results folder (records and checkpoints)")
	file := fs.String("o", "", "safetensors file to write (required), written atomically")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *table == "" || *file == "" {
		return fmt.Errorf("%w: export needs -table and -o", errUsage)
	}
	preset, err := parsePreset(*presetName)
	if err != nil {
		return err
	}
	line, err := recipe.Export(recipe.ExportOptions{Table: *table, Cell: *cell, Preset: preset, Seed: *seed, Out: *out, File: *file})
	if err != nil {
		return err
	}
	fmt.Println(line)
	return nil
}
