package notebook

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/janpfeifer/must"
)

// Environment variables read by the notebooks.
const (
	// PresetVar picks the preset: quick (default), smoke (CI) or paper (GPU);
	// read by package quant/lab.
	PresetVar = "MLSYSREP_PRESET"
	// ResultsVar is the results folder (default: results/ at the checkout's
	// root, where the runner writes).
	ResultsVar = "MLSYSREP_RESULTS"
	// RerunVar set to 1 runs a table's cells even when every record exists
	// (complete records of the same recipe are still reused by the runner).
	RerunVar = "MLSYSREP_RERUN"
	// NoTrainVar set to 1 renders whatever records exist and trains nothing
	// (missing cells show as not run).
	NoTrainVar = "MLSYSREP_NO_TRAIN"
	// WidgetSecondsVar bounds how long an interactive widget listens
	// (default 300; 0 draws the static plot only, as headless runs do).
	WidgetSecondsVar = "MLSYSREP_WIDGET_SECONDS"
)

func init() { must.M = cellError }

// cellError ends a notebook cell on an error: one line on stderr and exit
// status 1, except for ErrNotTrained (training is off and the cell needs a
// model no one trained), which prints why on stdout and ends the cell
// without failing it, so that MLSYSREP_NO_TRAIN=1 runs of the notebooks
// complete.
func cellError(err error) {
	switch {
	case err == nil:
		return
	case errors.Is(err, ErrNotTrained):
		fmt.Println(err)
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// Root is the root of the mlsysrep checkout the notebook runs in: the
// nearest directory at or above the working directory whose go.mod declares
// the module.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil &&
			strings.Contains(string(b), "module github.com/mlsysrep/mlsysrep\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("not inside an mlsysrep checkout (no go.mod of github.com/mlsysrep/mlsysrep at or above %s)", dir)
		}
	}
}

// ResultsDir is where records are read and written: $MLSYSREP_RESULTS, else
// results/ at the checkout's root (the runner's default).
func ResultsDir() (string, error) {
	if d := os.Getenv(ResultsVar); d != "" {
		if fi, err := os.Stat(d); err == nil && !fi.IsDir() {
			return "", fmt.Errorf("%s=%s is a file, not a folder: point %s at a folder (it is created when missing)", ResultsVar, d, ResultsVar)
		}
		return d, nil
	}
	root, err := Root()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "results"), nil
}

// ErrNotTrained is wrapped by the error of a cell that needs a model no one
// trained while $MLSYSREP_NO_TRAIN=1 forbids training it: must.M prints
// why and ends the cell without failing it (see cellError), so that a
// records-only run of the notebooks completes.
var ErrNotTrained = errors.New("skipped, training is off")
