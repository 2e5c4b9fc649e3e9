package lab

import (
	"context"
	"fmt"
	"os"

	"github.com/mlsysrep/mlsysrep/pkg/backend"
	"github.com/mlsysrep/mlsysrep/pkg/notebook"
	"github.com/mlsysrep/mlsysrep/pkg/plot"
	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/quant/recipe"
)

// RunTable gives a reference table's results for the notebook's preset:
// when every cell the preset runs already has a complete record in the
// results folder (left there by the command-line runner or an earlier run),
// it renders those without training; otherwise it runs the table through
// the recipes (which reuse complete records and resume from checkpoints),
// with live progress, on the default backend (XLA if installed, else the
// pure-Go engine) and seed 1, as the runner does. With $MLSYSREP_NO_TRAIN=1
// it only renders the records there are.
func RunTable(name string) (*recipe.Result, error) {
	preset, dir, err := settings()
	if err != nil {
		return nil, err
	}
	t, err := recipe.Lookup(name)
	if err != nil {
		return nil, err
	}
	res, err := recipe.LoadResult(name, preset, dir, Seed)
	if err != nil {
		return nil, err
	}
	cells := t.CellsFor(preset)
	missing := 0
	for _, c := range cells {
		if r := res.Records[c.Name]; r == nil || !r.Complete {
			missing++
		}
	}
	if missing == 0 && os.Getenv(notebook.RerunVar) != "1" {
		// Short lines: the notebook's output area wraps long ones mid-word.
		fmt.Printf("Every cell of table %s (preset %s) has a complete record,\nin %s.\nShowing them without training (set %s=1 to run again).\n",
			name, preset, dir, notebook.RerunVar)
		return res, nil
	}
	if os.Getenv(notebook.NoTrainVar) == "1" {
		fmt.Printf("%s=1: showing the records of table %s (preset %s) in %s; %d of %d cells have none and show as not run.\n",
			notebook.NoTrainVar, name, preset, dir, missing, len(cells))
		return res, nil
	}
	be, line, err := notebook.Backend()
	if err != nil {
		return nil, err
	}
	fmt.Println(line)
	fmt.Printf("Table %s, preset %s: %d of %d cells to run; records go to %s.\n", name, preset, missing, len(cells), dir)
	p := notebook.NewProgress()
	defer p.Close()
	return recipe.Run(context.Background(), recipe.Options{Table: name, Preset: preset,
		Data: recipe.DataOptions{Source: recipe.DefaultSource(preset), Progress: p}, Out: dir, Backend: be,
		BackendName: backend.RecordName(be), Seed: Seed, Progress: p, Events: p.Event})
}

// TableHTML renders a table's results as the runner and RESULTS.md show
// them (recipe.Result.View, rendered in HTML): the reference layout (the
// numbers per cell, coloured by closeness or, at a scaled-down preset, by
// the table's shape) with its reading computed from the records, for PTQ
// the FP models the cells start from and the "beyond the reference"
// observer rows, and what the records cost and where they came from.
func TableHTML(res *recipe.Result) string { return res.View().HTML() }

// ShowTable displays TableHTML (its Markdown outside a notebook).
func ShowTable(res *recipe.Result) {
	notebook.ShowHTMLOrText(TableHTML(res), res.Markdown())
}

// Curves returns the test-accuracy and test-loss charts of the table's
// trained cells (for PTQ tables, the FP models), one line per cell.
func Curves(res *recipe.Result) []plot.Chart {
	title := res.Table.Name
	if res.Table.PTQ {
		title += ": FP models"
	}
	return []plot.Chart{
		report.Curves(title+", test accuracy", report.TestAccuracy, res.Records),
		report.Curves(title+", test loss", report.TestLoss, res.Records),
	}
}

// ShowCurves displays Curves side by side.
func ShowCurves(res *recipe.Result) {
	notebook.ShowCharts(Curves(res)...)
}
