package lab

import (
	"fmt"
	"os"

	"github.com/mlsysrep/mlsysrep/pkg/notebook"
	"github.com/mlsysrep/mlsysrep/quant/recipe"
)

// Seed is the seed notebooks train with and whose records they show: the
// runner's default, so that the committed quick records are the notebooks'.
const Seed = 1

// Preset is the preset a notebook runs: $MLSYSREP_PRESET
// (notebook.PresetVar), default quick.
func Preset() (recipe.Preset, error) {
	p := os.Getenv(notebook.PresetVar)
	if p == "" {
		return recipe.Quick, nil
	}
	preset, err := recipe.ParsePreset(p)
	if err != nil {
		return "", fmt.Errorf("%s: %w", notebook.PresetVar, err)
	}
	return preset, nil
}

// settings is the notebook's preset and results folder.
func settings() (recipe.Preset, string, error) {
	preset, err := Preset()
	if err != nil {
		return "", "", err
	}
	dir, err := notebook.ResultsDir()
	return preset, dir, err
}
