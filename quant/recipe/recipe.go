// Package recipe is the machinery shared by the experiment recipes of
// quant/<method>: a table is a set of cells (a model and a quantization
// config) laid out as the reference table, each cell trained (QAT) or
// calibrated and evaluated (PTQ) with a preset's recipe, and recorded.
package recipe

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mlsysrep/mlsysrep/pkg/quant"
	"github.com/mlsysrep/mlsysrep/pkg/report"
)

// Model names a network.
type Model string

// The networks of the reference.
const (
	ResNet18    Model = "resnet18"
	MobileNetV2 Model = "mobilenetv2"
	SVHNModelA  Model = "svhn"
)

// Preset is the size of a run, the same everywhere a preset is named (the
// runner, the demo, the notebooks): a table's recipes for it, the FP
// models' too. ParsePreset is its one parser.
type Preset string

// The presets.
const (
	Paper Preset = "paper" // PROTOCOL section 5 exactly
	Quick Preset = "quick" // PROTOCOL section 6 exactly
	Smoke Preset = "smoke" // seconds per cell, for CI and trying things (PTQ variants at 4-bit weights only)
)

// Presets lists the presets, smallest first.
var Presets = []Preset{Smoke, Quick, Paper}

// ParsePreset returns the preset named s, or an error listing the valid
// names.
func ParsePreset(s string) (Preset, error) {
	for _, p := range Presets {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown preset %q (valid: %s)", s, PresetNames())
}

// PresetNames is the presets' names, comma-separated.
func PresetNames() string {
	names := make([]string, len(Presets))
	for i, p := range Presets {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}

// Cell is one entry of a table: a network and its whole quantization (PTQ
// variants, the "beyond the reference" rows, included: the activation
// observer and per-channel weight scales are quant.Config's).
type Cell struct {
	Name  string // e.g. "resnet18/pact:w4a4", "resnet18/ptq:w4a6/percentile": model/config
	Model Model
	Quant quant.Config
	// Prune is a pruning table's pruning ("resnet18/prune:u70"); its zero
	// value everywhere else. A pruning cell quantized after pruning
	// ("resnet18/prune:u70+ptq:w4a4") has both.
	Prune Pruning
}

// NewCell parses "model/config", the config as quant.ParseConfig reads it
// (e.g. "ptq:w4a6/percentile").
func NewCell(name string) (Cell, error) {
	model, config, ok := strings.Cut(name, "/")
	if !ok {
		return Cell{}, fmt.Errorf("cell %q: want model/config, e.g. resnet18/pact:w4a4", name)
	}
	c := Cell{Name: name, Model: Model(model)}
	switch c.Model {
	case ResNet18, MobileNetV2, SVHNModelA:
	default:
		return Cell{}, fmt.Errorf("cell %q: unknown model %q (resnet18, mobilenetv2, svhn)", name, model)
	}
	if spec, ok := strings.CutPrefix(config, "prune:"); ok {
		return pruningCell(c, spec)
	}
	q, err := quant.ParseConfig(config)
	if err != nil {
		return Cell{}, fmt.Errorf("cell %q: %w", name, err)
	}
	c.Quant = q
	return c, nil
}

// Variant tells whether the cell is a PTQ variant beyond the reference (an
// observer or per-channel weights of its own).
func (c Cell) Variant() bool { return c.Quant.Observer != "" || c.Quant.PerChannel }

// MustCell is NewCell for table definitions.
func MustCell(name string) Cell {
	c, err := NewCell(name)
	if err != nil {
		panic(err)
	}
	return c
}

// Table is a reference table: its layout (with reference values) and how to
// make the recipe of each cell for a preset.
type Table struct {
	Name   string
	Layout report.Layout
	// Extra are cells shown in a second layout ("beyond the reference").
	Extra *report.Layout
	// Recipe returns the training recipe of a model for a preset.
	Recipe func(preset Preset, m Model, q quant.Config) (Spec, error)
	// PTQ tables train an FP model per network, then calibrate each cell.
	PTQ bool
	// Pruning tables prune the FP models of the PTQ tables and fine-tune
	// them (pruning.go); a cell quantized after pruning starts from its
	// pruned cell's weights.
	Pruning bool
}

// Cells lists the table's cells in layout order (extra rows last).
func (t *Table) Cells() []Cell {
	var out []Cell
	seen := map[string]bool{}
	add := func(l *report.Layout) {
		for _, row := range l.Cells {
			for _, name := range row {
				if name != "" && !seen[name] {
					seen[name] = true
					out = append(out, MustCell(name))
				}
			}
		}
	}
	add(&t.Layout)
	if t.Extra != nil {
		add(t.Extra)
	}
	return out
}

// Reference returns the reference text of a cell ("" when it has none).
func (t *Table) Reference(cell string) string {
	for _, l := range []*report.Layout{&t.Layout, t.Extra} {
		if l == nil {
			continue
		}
		for i, row := range l.Cells {
			for j, name := range row {
				if name == cell && i < len(l.Reference) && j < len(l.Reference[i]) {
					return l.Reference[i][j]
				}
			}
		}
	}
	return ""
}

var registry = map[string]*Table{}

// Register adds a table (called from the recipe packages' init).
func Register(t *Table) { registry[t.Name] = t }

// Lookup returns a registered table.
func Lookup(name string) (*Table, error) {
	t, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("unknown table %q: valid tables are %s", name, strings.Join(TableNames(), ", "))
	}
	return t, nil
}

// TableNames lists the registered tables.
func TableNames() []string {
	var names []string
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
