package recipe

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// LedgerTables are the tables of the replication ledger (RESULTS.md): the
// CIFAR ones. dorefa-svhn is SVHN only and no SVHN copy exists where the
// ledger is produced; the dorefa table's SVHN column stays empty for the
// same reason.
var LedgerTables = []string{"ptq-resnet18", "ptq-mobilenetv2", "dorefa", "pact", "lsq"}

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
		fmt.Fprintf(&b, "| [%s](#%s) | %d of %d | %s | %s |\n", name, name, c.Done, c.Cells, FormatDuration(c.Seconds), rate)
		missing += len(c.Missing)
	}
	for i, name := range tables {
		res := results[i]
		fmt.Fprintf(&b, "\n## %s\n\n", name)
		b.WriteString(res.Markdown())
		b.WriteString("\n")
		b.WriteString(res.CostsOf(onCIFAR))
	}
	b.WriteString(ledgerFooter(dir+"/"+string(preset), missing))
	return b.String(), nil
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

// Cost is what a table's records cost and where they came from.
type Cost struct {
	Done, Cells int      // cells with a complete record, cells in the table
	Missing     []string // cells without one
	Seconds     float64  // summed wall time
	Estimated   bool     // some record lost its wall time on a resume: its epochs' seconds count instead
	ImagesPerS  float64  // training images/s over every epoch of the records (0: no training)
	Backends    []string // distinct values over the complete records
	Data, Seeds []string
	Commits     []string // "(dirty tree)" appended where the tree was dirty
	// CPUSteal is the host's CPU steal over the training epochs that measured
	// it (weighted by their seconds), which StealEpochs of Epochs did: images/s
	// fell by about as much as the hypervisor took.
	CPUSteal            float64
	StealEpochs, Epochs int
}

// Cost sums the table's complete records, counting the cells the result's
// preset runs (all of them when the preset is not set).
func (r *Result) Cost() Cost { return r.CostOf(nil) }

// CostOf is Cost over the cells (and FP records) whose name keep accepts;
// nil keeps all.
func (r *Result) CostOf(keep func(cell string) bool) Cost {
	if keep == nil {
		keep = func(string) bool { return true }
	}
	var c Cost
	for _, cell := range r.Table.CellsFor(r.Preset) {
		if !keep(cell.Name) {
			continue
		}
		c.Cells++
		if rec := r.Records[cell.Name]; rec != nil && rec.Complete {
			c.Done++
		} else {
			c.Missing = append(c.Missing, cell.Name)
		}
	}
	var trainImages, trainSeconds, stolen, stealSeconds float64
	sets := [4]map[string]bool{{}, {}, {}, {}}
	for name, rec := range r.Records {
		if !rec.Complete || !keep(name) {
			continue
		}
		for _, e := range rec.Curve {
			trainImages += float64(e.Images)
			trainSeconds += e.Seconds
			c.Epochs++
			if e.CPUSteal != nil {
				c.StealEpochs++
				stolen += *e.CPUSteal * e.Seconds
				stealSeconds += e.Seconds
			}
		}
		w, estimated := rec.Seconds()
		c.Seconds += w
		c.Estimated = c.Estimated || estimated
		commit := rec.Commit
		if rec.Dirty {
			commit += " (dirty tree)"
		}
		for i, v := range []string{rec.Backend, rec.Data, fmt.Sprint(rec.Seed), commit} {
			if v != "" {
				sets[i][v] = true
			}
		}
	}
	if trainSeconds > 0 {
		c.ImagesPerS = trainImages / trainSeconds
	}
	if stealSeconds > 0 {
		c.CPUSteal = stolen / stealSeconds
	}
	c.Backends, c.Data, c.Seeds, c.Commits = sorted(sets[0]), sorted(sets[1]), sorted(sets[2]), sorted(sets[3])
	return c
}

// StealNote is the host CPU steal that images/s figures should be read with,
// as a parenthesis to append to them ("" when no epoch measured it).
func (c Cost) StealNote() string {
	if c.StealEpochs == 0 {
		return ""
	}
	return fmt.Sprintf(" (host CPU steal %.0f%% over the %d of %d epochs that measured it)", 100*c.CPUSteal, c.StealEpochs, c.Epochs)
}

// Costs renders Cost as a Markdown list.
func (r *Result) Costs() string { return r.CostsOf(nil) }

// CostsOf renders CostOf(keep) as a Markdown list.
func (r *Result) CostsOf(keep func(cell string) bool) string {
	c := r.CostOf(keep)
	var b strings.Builder
	fmt.Fprintf(&b, "- Cells run: %d of %d; wall time %s", c.Done, c.Cells, FormatDuration(c.Seconds))
	if c.Estimated {
		b.WriteString(" (a record that lost its wall time on a resume counts its epochs' training seconds)")
	}
	if c.ImagesPerS > 0 {
		fmt.Fprintf(&b, "; training %.1f images/s", c.ImagesPerS)
	}
	b.WriteString(c.StealNote())
	b.WriteString(".\n")
	if c.Done > 0 {
		fmt.Fprintf(&b, "- Backend: %s; data: %s; seed: %s; commit: %s.\n", strings.Join(c.Backends, ", "),
			strings.Join(c.Data, ", "), strings.Join(c.Seeds, ", "), strings.Join(c.Commits, ", "))
	}
	if len(c.Missing) > 0 {
		fmt.Fprintf(&b, "- Not run yet (%d): %s.\n", len(c.Missing), strings.Join(c.Missing, " "))
	}
	return b.String()
}

func sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// FormatDuration formats seconds as "45 s", "12 min" or "1 h 23 min",
// rounded to the minute above a minute.
func FormatDuration(s float64) string {
	if s < 59.5 {
		return fmt.Sprintf("%.0f s", s)
	}
	m := int(math.Round(s / 60))
	if m < 60 {
		return fmt.Sprintf("%d min", m)
	}
	return fmt.Sprintf("%d h %02d min", m/60, m%60)
}

// Epochs is "1 epoch" or "n epochs".
func Epochs(n int) string {
	if n == 1 {
		return "1 epoch"
	}
	return fmt.Sprintf("%d epochs", n)
}
