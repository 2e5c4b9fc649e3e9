package recipe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mlsysrep/mlsysrep/pkg/report"
)

// LedgerTables are the tables of the replication ledger (RESULTS.md): the
// CIFAR ones, the pruning table (ours, without a reference) last. dorefa-svhn is SVHN only and no SVHN copy exists where the
// ledger is produced; the dorefa table's SVHN column stays empty for the
// same reason.
var LedgerTables = []string{"ptq-resnet18", "ptq-mobilenetv2", "dorefa", "pact", "lsq", "pruning"}

// Ledger renders the records of a preset found under dir as the replication
// ledger: per table the reference layout with "ours (reference,
// difference)", the PTQ "beyond the reference" rows and FP models, and the
// table's cost and provenance (cells done, wall time, images/s, backend,
// data, seed, commits). It depends only on the records, so regenerating it
// from the same records gives the same text. regenerate is the command line
// shown in the header.
func Ledger(preset Preset, dir string, seed uint64, tables []string, regenerate string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "# Replication ledger: the %s preset\n\n", preset)
	fmt.Fprintf(&b, "Generated from the records under `%s/%s/` by\n\n    %s\n\n", dir, preset, regenerate)
	b.WriteString("Do not edit by hand: a test checks that regenerating it gives this file.\n")
	b.WriteString("Each cell: ours (reference, ours - reference), CIFAR-10 test accuracy in %; `-` = not run yet.\n")
	b.WriteString("SVHN cells (the dorefa table's SVHN column, the dorefa-svhn table) are not run and not counted: no SVHN copy exists where this ledger is produced.\n\n")
	b.WriteString("| table | cells run | wall time | training images/s |\n|---|---|---|---|\n")
	results := make([]*Result, len(tables))
	missing := 0 // CIFAR cells without a complete record, over all tables
	for i, name := range tables {
		res, err := LoadResult(name, preset, dir, seed)
		if err != nil {
			return "", err
		}
		results[i] = res
		c := res.CostOf(onCIFAR)
		rate := "-"
		if c.ImagesPerS > 0 {
			rate = fmt.Sprintf("%.1f", c.ImagesPerS)
		}
		fmt.Fprintf(&b, "| [%s](#%s) | %d of %d | %s | %s |\n", name, name, c.Done, c.Cells, report.FormatDuration(c.Seconds), rate)
		missing += len(c.Missing)
	}
	for i, name := range tables {
		res := results[i]
		fmt.Fprintf(&b, "\n## %s\n\n", name)
		b.WriteString(res.ViewOf(onCIFAR).Markdown())
	}
	b.WriteString(ledgerFooter(dir+"/"+string(preset), missing))
	if preset == Quick {
		paper, err := paperSection(dir, seed, tables)
		if err != nil {
			return "", err
		}
		b.WriteString(paper)
	}
	return b.String(), nil
}

// PaperTables are the tables the ledger shows at the paper preset too, after
// the quick ones: the PTQ tables, which a CPU can run at the reference's
// scale (one FP model per network trained here, then only calibration and
// evaluation).
var PaperTables = []string{"ptq-resnet18", "ptq-mobilenetv2"}

// paperSection renders the paper-preset records of the PaperTables that
// tables names (none: no section), in the quick tables' layout, with their
// own cost table and how to run what is missing.
func paperSection(dir string, seed uint64, tables []string) (string, error) {
	var names []string
	for _, n := range PaperTables {
		if slices.Contains(tables, n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "", nil
	}
	var b strings.Builder
	b.WriteString("\n# The paper preset: the PTQ tables at the reference's scale\n\n")
	fmt.Fprintf(&b, "The same tables from the records under `%s/%s/`: each FP model trained here with the reference's recipe on the whole CIFAR-10 training split (PROTOCOL section 5), ", dir, Paper)
	b.WriteString("calibrated on the first 10,000 training images and tested on the whole test split, as the reference did. ")
	b.WriteString("Here ours can be held to the reference's numbers, not only to its drops.\n\n")
	b.WriteString("| table | cells run | wall time | training images/s |\n|---|---|---|---|\n")
	results := make([]*Result, len(names))
	missing := 0
	for i, name := range names {
		res, err := LoadResult(name, Paper, dir, seed)
		if err != nil {
			return "", err
		}
		results[i] = res
		c := res.CostOf(onCIFAR)
		rate := "-"
		if c.ImagesPerS > 0 {
			rate = fmt.Sprintf("%.1f", c.ImagesPerS)
		}
		fmt.Fprintf(&b, "| [%s](#%s-paper-preset) | %d of %d | %s | %s |\n", name, name, c.Done, c.Cells, report.FormatDuration(c.Seconds), rate)
		missing += len(c.Missing)
	}
	for i, name := range names {
		fmt.Fprintf(&b, "\n## %s, paper preset\n\n", name)
		b.WriteString(results[i].ViewOf(onCIFAR).Markdown())
		notes, err := paperNotes(dir, name)
		if err != nil {
			return "", err
		}
		b.WriteString(notes)
	}
	if missing > 0 {
		b.WriteString("\nTo run or resume the cells not run yet (the FP model's training keeps its progress after every epoch and resumes from it), then regenerate this file:\n\n")
		for _, name := range names {
			fmt.Fprintf(&b, "    go run ./quant/cmd/mlsysrep run -table %s -preset paper\n", name)
		}
	}
	return b.String(), nil
}

// PaperNotesFile is the hand-written file, in a paper table's records
// folder, that explains where that table's cells differ from the
// reference's and what was done to find out why; the ledger shows it under
// the table. A difference of more than 1.5 points is explained there with
// an experiment, not a guess.
const PaperNotesFile = "NOTES.md"

// paperNotes returns the table's PaperNotesFile under a heading, or "" when
// there is none.
func paperNotes(dir, table string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, string(Paper), table, PaperNotesFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("ledger: %w", err)
	}
	text := strings.TrimSpace(string(data))
	if text == "" {
		return "", nil
	}
	return fmt.Sprintf("\n### %s, paper preset: where ours differs from the reference, and why\n\n%s\n", table, text), nil
}

// ledgerFooter says how to continue the ledger while CIFAR cells are
// missing, and how to reproduce it once none is: telling a reader to "run
// the cells not run yet" of a complete ledger would send them looking for
// cells that do not exist. records is the folder the ledger was read from.
func ledgerFooter(records string, missing int) string {
	if missing > 0 {
		return "\nTo run or resume the cells not run yet (each finished cell writes its record at once; an interrupted one resumes from its last epoch), then regenerate this file:\n\n    make ledger\n"
	}
	return "\nEvery CIFAR cell has a record. To reproduce the ledger, move `" + records + "/` aside and run (finished cells are reused and an interrupted one resumes from its last epoch, so it can be stopped and restarted at will):\n\n    make ledger\n"
}

// onCIFAR keeps the cells (and FP models) that train on CIFAR-10: the
// ledger's scope.
func onCIFAR(cell string) bool { return !strings.HasPrefix(cell, string(SVHNModelA)+"/") }

// Cost sums the table's complete records, counting the cells the result
// covers: its Cells when set, else those its preset runs (all of them when
// the preset is not set).
func (r *Result) Cost() report.Cost { return r.CostOf(nil) }

// CostOf is Cost over the cells (and FP records) whose name keep accepts;
// nil keeps all.
func (r *Result) CostOf(keep func(cell string) bool) report.Cost {
	if keep == nil {
		keep = func(string) bool { return true }
	}
	names := r.Cells
	if names == nil {
		for _, c := range r.Table.CellsFor(r.Preset) {
			names = append(names, c.Name)
		}
	}
	var cells []string
	for _, name := range names {
		if keep(name) {
			cells = append(cells, name)
		}
	}
	records := map[string]*report.Record{}
	for name, rec := range r.Records {
		// A pruning table's FP models are the PTQ tables' records, and
		// counted there.
		if keep(name) && (!r.Table.Pruning || rec.Table == r.Table.Name) {
			records[name] = rec
		}
	}
	return report.NewCost(cells, records)
}
