package recipe

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mlsysrep/mlsysrep/models/torchcifar"
	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/pkg/torchfile"
	"github.com/mlsysrep/mlsysrep/pkg/train"
)

// ExportOptions names a trained cell whose weights Export writes.
type ExportOptions struct {
	Table string
	// Cell is a QAT cell of the table ("resnet18/pact:w4a4") or a PTQ
	// table's FP model ("resnet18/fp"; "" picks it for a PTQ table).
	Cell   string
	Preset Preset
	Seed   uint64
	Out    string // the runner's results folder (records and checkpoints)
	File   string // the safetensors file to write
}

// Export writes the full-precision weights of a trained cell (a PTQ table's
// FP model, or the FP weights of a QAT cell; the quantizers' own parameters
// are left out) as a safetensors file with pytorch-cifar's names
// (models/torchcifar), from the cell's final checkpoint, and returns a line
// describing what it wrote. The file's metadata name the table, cell,
// preset, seed, data copy, test accuracy and commit. The cell must have a
// complete record of that seed (the most faithful data copy is taken when
// there are several).
func Export(o ExportOptions) (string, error) {
	t, err := Lookup(o.Table)
	if err != nil {
		return "", err
	}
	cell := o.Cell
	if cell == "" {
		if !t.PTQ {
			return "", fmt.Errorf("export: table %s has no FP model; name a cell (one of %s)", t.Name, strings.Join(t.CellNames(o.Preset), ", "))
		}
		cell = string(t.Cells()[0].Model) + "/fp"
	}
	c, ok := trainedCell(t, cell)
	if !ok {
		return "", fmt.Errorf("export: table %s trains no cell %q (PTQ cells are not trained: export the table's FP model, <model>/fp)", t.Name, cell)
	}
	if c.Model != ResNet18 && c.Model != MobileNetV2 {
		return "", fmt.Errorf("export: %s is a %s; pytorch-cifar names exist for resnet18 and mobilenetv2 only", cell, c.Model)
	}
	all, err := report.Find(o.Out, string(o.Preset), t.Name, cell)
	if err != nil {
		return "", err
	}
	rec := pick(all, o.Seed)
	switch {
	case rec == nil:
		return "", fmt.Errorf("export: no record of %s %s, seed %d, in %s: train it first (mlsysrep run -table %s -preset %s -cells %s)",
			t.Name, cell, o.Seed, o.Out, t.Name, o.Preset, cell)
	case rec.Recipe.FPModel != "":
		return "", fmt.Errorf("export: %s %s was imported (%s), not trained here: that file is the model", t.Name, cell, rec.Recipe.FPModel)
	case !rec.Complete:
		return "", fmt.Errorf("export: %s %s (seed %d) has run %d of %d epochs: finish it first", t.Name, cell, o.Seed, rec.EpochsRun, rec.Recipe.Epochs)
	}
	spec, err := t.Recipe(o.Preset, c.Model, c.Quant)
	if err != nil {
		return "", err
	}
	// The network's geometry is today's recipe's: the record must be of it.
	if today, err := CellKey(t.Name, o.Preset, cell, o.Seed, rec.Data); err != nil {
		return "", err
	} else if today.Recipe != rec.Key().Recipe {
		return "", fmt.Errorf("export: the record of %s %s (seed %d) is of another recipe than today's %s preset (digest %s, today %s): train it again first",
			t.Name, cell, o.Seed, o.Preset, rec.Key().Recipe, today.Recipe)
	}
	values, err := train.CheckpointValues(CheckpointDir(o.Out, rec), rec.Key().String())
	if err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	g := torchcifar.Geometry{Network: string(c.Model), Width: spec.Width, NumClasses: 10}
	if c.Model == ResNet18 {
		g.Blocks = spec.Blocks
	}
	sd, err := torchcifar.Export(g, values)
	if err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	meta := map[string]string{"network": g.Network, "width": strconv.FormatFloat(g.Width, 'g', -1, 64),
		"table": t.Name, "cell": cell, "preset": string(o.Preset), "seed": strconv.FormatUint(o.Seed, 10),
		"data": rec.Data, "test_accuracy": fmt.Sprintf("%.2f", rec.Final), "commit": rec.Commit, "exporter": "mlsysrep"}
	if c.Model == ResNet18 {
		meta["blocks_per_stage"] = strconv.Itoa(g.Blocks)
	}
	if err := torchfile.WriteSafetensors(o.File, sd, meta); err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	return fmt.Sprintf("wrote %s: %s %s (%s), %d tensors, %.2f%% test accuracy on %s, seed %d",
		o.File, t.Name, cell, g, len(sd), rec.Final, rec.Data, o.Seed), nil
}

// trainedCell is the table's cell of that name that training produces: a
// QAT cell, or a PTQ table's "<model>/fp".
func trainedCell(t *Table, name string) (Cell, bool) {
	for _, c := range t.Cells() {
		if t.PTQ && name == string(c.Model)+"/fp" {
			return Cell{Name: name, Model: c.Model, Quant: fpConfig}, true
		}
		if !t.PTQ && name == c.Name {
			return c, true
		}
	}
	return Cell{}, false
}
