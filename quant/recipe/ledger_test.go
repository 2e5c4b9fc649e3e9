package recipe

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsysrep/mlsysrep/pkg/report"
)

// saveRecord writes a record of the dorefa table's quick preset under dir.
func saveRecord(t *testing.T, dir, cell string, complete, dirty bool, wall float64, commit string) {
	t.Helper()
	r := &report.Record{Table: "dorefa", Cell: cell, Preset: string(Quick), Backend: "purego", Data: "CIFAR-10 (test copy)",
		Seed: 1, Final: 50, Complete: complete, Dirty: dirty, WallSeconds: wall, Commit: commit,
		Curve: []report.Epoch{{Epoch: 1, Images: 1000, Seconds: 10}}}
	r.SetReference("89.60")
	if err := r.Save(dir); err != nil {
		t.Fatal(err)
	}
}

func TestLedgerCountsCIFARCellsOnly(t *testing.T) {
	dir := t.TempDir()
	saveRecord(t, dir, "resnet18/dorefa:w6a6g6", true, true, 150, "abc")
	saveRecord(t, dir, "svhn/dorefa:w6a6g6", true, false, 1e6, "svhncommit") // no SVHN copy: never counted
	saveRecord(t, dir, "mobilenetv2/dorefa:w6a6g6", false, false, 99, "partial")

	got, err := Ledger(Quick, dir, 1, []string{"dorefa"}, "regenerate-command")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| [dorefa](#dorefa) | 1 of 4 | 3 min | 100.0 |",
		"- Cells run: 1 of 4; wall time 3 min; training 100.0 images/s.",
		"commit: abc (dirty tree).",
		"- Not run yet (3): resnet18/dorefa:w2a2g2 mobilenetv2/dorefa:w2a2g2 mobilenetv2/dorefa:w6a6g6.",
		"regenerate-command",
		"To run or resume the cells not run yet",
		"make ledger",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ledger lacks %q:\n%s", want, got)
		}
	}
	for _, bad := range []string{"svhncommit", "partial", "svhn/dorefa:w2a2g2 "} {
		if strings.Contains(got, bad) {
			t.Errorf("ledger mentions %q (an SVHN or incomplete record):\n%s", bad, got)
		}
	}

	// The table's own cost (notebooks) still counts every cell.
	res, err := LoadResult("dorefa", Quick, dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Cost(); c.Cells != 6 || c.Done != 2 {
		t.Errorf("Cost() = %d of %d cells, want 2 of 6", c.Done, c.Cells)
	}
}

// TestLedgerFooterOnceComplete: a ledger with every CIFAR cell recorded says
// so and how to reproduce it, instead of pointing at cells not run yet.
func TestLedgerFooterOnceComplete(t *testing.T) {
	dir := t.TempDir()
	for _, cell := range []string{"resnet18/dorefa:w2a2g2", "resnet18/dorefa:w6a6g6", "mobilenetv2/dorefa:w2a2g2", "mobilenetv2/dorefa:w6a6g6"} {
		saveRecord(t, dir, cell, true, false, 60, "abc")
	}
	got, err := Ledger(Quick, dir, 1, []string{"dorefa"}, "regenerate-command")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "| 4 of 4 |") || !strings.Contains(got, "Every CIFAR cell has a record.") || !strings.Contains(got, "make ledger") {
		t.Errorf("complete ledger lacks its count or reproduce footer:\n%s", got)
	}
	if strings.Contains(got, "cells not run yet") || strings.Contains(got, "Not run yet") {
		t.Errorf("complete ledger still points at cells not run yet:\n%s", got)
	}
}

// TestCostWeighsCPUSteal: the steal is weighted by the seconds of the epochs
// that measured it; records from before it was measured count as not
// measured, not as zero.
func TestCostWeighsCPUSteal(t *testing.T) {
	dir := t.TempDir()
	f := func(v float64) *float64 { return &v }
	for cell, curve := range map[string][]report.Epoch{
		"resnet18/dorefa:w6a6g6": {{Epoch: 1, Images: 100, Seconds: 10}, {Epoch: 2, Images: 100, Seconds: 10, CPUSteal: f(0.5)}},
		"resnet18/dorefa:w2a2g2": {{Epoch: 1, Images: 300, Seconds: 30, CPUSteal: f(0.1)}},
	} {
		r := &report.Record{Table: "dorefa", Cell: cell, Preset: string(Quick), Backend: "purego", Data: "d", Seed: 1,
			Final: 50, Complete: true, WallSeconds: 60, Commit: "c", Curve: curve}
		if err := r.Save(dir); err != nil {
			t.Fatal(err)
		}
	}
	res, err := LoadResult("dorefa", Quick, dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Cost()
	if c.StealEpochs != 2 || c.Epochs != 3 || math.Abs(c.CPUSteal-(0.5*10+0.1*30)/40) > 1e-12 {
		t.Errorf("steal %v over %d of %d epochs, want 0.2 over 2 of 3", c.CPUSteal, c.StealEpochs, c.Epochs)
	}
	if want := "training 10.0 images/s (host CPU steal 20% over the 2 of 3 epochs that measured it)."; !strings.Contains(c.Markdown(), want) {
		t.Errorf("costs lack %q:\n%s", want, c.Markdown())
	}
}

// TestLoadResultPicksSeedAndCopy: records of several seeds and data copies
// of one cell live side by side; a table shows the asked seed's record on
// the most faithful copy, and a corrupt record file is an error naming it,
// not a cell shown as not run.
func TestLoadResultPicksSeedAndCopy(t *testing.T) {
	dir := t.TempDir()
	cell := "resnet18/dorefa:w6a6g6"
	for _, r := range []struct {
		seed  uint64
		data  string
		final float64
	}{
		{1, "synthetic cifar10", 11},
		{1, "CIFAR-10 (JPEG q75 mirror)", 80},
		{2, "CIFAR-10 (JPEG q75 mirror)", 81},
		{2, "CIFAR-10 (official binary)", 82},
	} {
		rec := &report.Record{Table: "dorefa", Cell: cell, Preset: string(Quick), Data: r.data, Seed: r.seed, Final: r.final, Complete: true}
		if err := rec.Save(dir); err != nil {
			t.Fatal(err)
		}
	}
	for seed, want := range map[uint64]float64{1: 80, 2: 82} {
		res, err := LoadResult("dorefa", Quick, dir, seed)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Records[cell]; got == nil || got.Final != want || got.Seed != seed {
			t.Errorf("seed %d: record %+v, want final %g", seed, got, want)
		}
	}
	if res, _ := LoadResult("dorefa", Quick, dir, 3); res.Records[cell] != nil {
		t.Errorf("seed 3 has no record but got %+v", res.Records[cell])
	}
	bad := filepath.Join(dir, string(Quick), "dorefa", "resnet18__dorefa_w2a2g2.seed1.x.json")
	if err := os.WriteFile(bad, []byte(`{"table": "dorefa", "cell": "resnet18/dorefa:w2a2g2", "preset": "quick", "final_accuracy": 5`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadResult("dorefa", Quick, dir, 1); err == nil || !errors.Is(err, report.ErrCorrupt) || !strings.Contains(err.Error(), bad) {
		t.Errorf("a truncated record file gave %v, want an error naming %s", err, bad)
	}
}

// TestReusableNeedsTheSameKey: a complete record is reused only for the
// same seed, data copy and recipe.
func TestReusableNeedsTheSameKey(t *testing.T) {
	base := func() *report.Record {
		return &report.Record{Table: "pact", Cell: "resnet18/pact:w4a4", Preset: string(Quick), Seed: 1, Data: "CIFAR-10 (JPEG q75 mirror)",
			ModelSize: "width 0.25, 1 parameters", Recipe: report.Recipe{Epochs: 14, Batch: 128}, Complete: true}
	}
	for _, tc := range []struct {
		name   string
		change func(*report.Record)
		want   bool
	}{
		{"same", func(*report.Record) {}, true},
		{"seed", func(r *report.Record) { r.Seed = 2 }, false},
		{"data", func(r *report.Record) { r.Data = "synthetic cifar10" }, false},
		{"recipe", func(r *report.Record) { r.Recipe.Epochs = 15 }, false},
		{"model size", func(r *report.Record) { r.ModelSize = "width 0.5, 2 parameters" }, false},
		{"incomplete", func(r *report.Record) { r.Complete = false }, false},
		{"backend only", func(r *report.Record) { r.Backend = "xla:cpu" }, true},
	} {
		old := base()
		tc.change(old)
		if got := reusable(old, base()); got != tc.want {
			t.Errorf("%s: reusable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestCellKeyDiffersBySeedAndCopy: the FP model a PTQ table starts from is
// checkpointed per seed and data copy (it was once loaded whatever the seed).
func TestCellKeyDiffersBySeedAndCopy(t *testing.T) {
	dirs := map[string]bool{}
	for _, seed := range []uint64{1, 2} {
		for _, data := range []string{"synthetic cifar10", "CIFAR-10 (JPEG q75 mirror)"} {
			k, err := CellKey("ptq-resnet18", Smoke, "resnet18/fp", seed, data)
			if err != nil {
				t.Fatal(err)
			}
			dirs[k.CheckpointDir("out")] = true
		}
	}
	if len(dirs) != 4 {
		t.Errorf("4 seeds x copies share checkpoint folders: %v", dirs)
	}
	if _, err := CellKey("ptq-resnet18", Smoke, "resnet18/ptq:w4a4", 1, "d"); err == nil {
		t.Error("a PTQ cell (not trained) got a checkpoint key")
	}
}

// TestCostOfASubsetRun: a run of some cells (-cells, -shard) counts those
// cells, not the preset's others, which it was not asked to run.
func TestCostOfASubsetRun(t *testing.T) {
	tb, err := Lookup("pact")
	if err != nil {
		t.Fatal(err)
	}
	rec := &report.Record{Table: "pact", Cell: "resnet18/pact:w4a4", Preset: string(Quick), Final: 60, Complete: true, Data: "d", Seed: 1}
	res := &Result{Table: tb, Preset: Quick, Cells: []string{rec.Cell}, Records: map[string]*report.Record{rec.Cell: rec}}
	if c := res.Cost(); c.Cells != 1 || c.Done != 1 || len(c.Missing) != 0 {
		t.Errorf("subset run: %d of %d cells, missing %v; want 1 of 1", c.Done, c.Cells, c.Missing)
	}
	if md := res.Markdown(); strings.Contains(md, "Not run yet") || !strings.Contains(md, "Cells run: 1 of 1") {
		t.Errorf("subset run's table:\n%s", md)
	}
	res.Cells = nil // the whole table: the other nine are not run yet
	if c := res.Cost(); c.Cells != 10 || len(c.Missing) != 9 {
		t.Errorf("whole table: %d cells, missing %d; want 10 and 9", c.Cells, len(c.Missing))
	}
}

// TestPruningCostLeavesOutFPModels: the pruning table shows the PTQ tables'
// FP models it starts from, but its cost counts its own records only (the
// FP models' are counted in their tables).
func TestPruningCostLeavesOutFPModels(t *testing.T) {
	tab, err := Lookup("pruning")
	if err != nil {
		t.Fatal(err)
	}
	epoch := []report.Epoch{{Epoch: 1, Images: 1000, Seconds: 10}}
	res := &Result{Table: tab, Preset: Quick, Records: map[string]*report.Record{
		"resnet18/fp":        {Table: "ptq-resnet18", Cell: "resnet18/fp", Complete: true, WallSeconds: 1000, Curve: epoch},
		"resnet18/prune:u70": {Table: "pruning", Cell: "resnet18/prune:u70", Complete: true, WallSeconds: 20, Curve: epoch},
	}}
	if c := res.Cost(); c.Seconds != 20 || c.Epochs != 1 || c.Done != 1 {
		t.Errorf("pruning cost: %g s over %d epochs, %d cells done; want 20 s, 1 epoch, 1 cell", c.Seconds, c.Epochs, c.Done)
	}
	if v := res.View(); len(v.FPModels) != 1 {
		t.Errorf("the pruning table shows %d FP models, want the one it started from", len(v.FPModels))
	}
}

// TestLedgerPaperSection: a quick ledger that includes a PTQ table shows that
// table's paper-preset records in a section of their own (one record there
// counts as 1 of 60 cells, with its accuracy and the reference's beside it),
// and a ledger without PTQ tables has no such section.
func TestLedgerPaperSection(t *testing.T) {
	dir := t.TempDir()
	r := &report.Record{Table: "ptq-mobilenetv2", Cell: "mobilenetv2/ptq:w6a6", Preset: string(Paper), Backend: "purego",
		Data: "CIFAR-10 (test copy)", Seed: 1, Final: 90.12, Complete: true, WallSeconds: 120, Commit: "def"}
	r.SetReference("90.54")
	if err := r.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := Ledger(Quick, dir, 1, []string{"ptq-mobilenetv2", "dorefa"}, "regenerate-command")
	if err != nil {
		t.Fatal(err)
	}
	at := strings.Index(got, "# The paper preset")
	if at < 0 {
		t.Fatalf("no paper section:\n%s", got)
	}
	section := got[at:]
	for _, want := range []string{
		"| [ptq-mobilenetv2](#ptq-mobilenetv2-paper-preset) | 1 of 60 | 2 min |",
		"## ptq-mobilenetv2, paper preset",
		"90.12 (90.54, -0.42)",
		"go run ./quant/cmd/mlsysrep run -table ptq-mobilenetv2 -preset paper",
	} {
		if !strings.Contains(section, want) {
			t.Errorf("paper section lacks %q:\n%s", want, section)
		}
	}
	if strings.Contains(section, "where ours differs") {
		t.Errorf("paper section shows notes no %s holds:\n%s", PaperNotesFile, section)
	}
	notes := filepath.Join(dir, string(Paper), "ptq-mobilenetv2", PaperNotesFile)
	if err := os.WriteFile(notes, []byte("The w6a6 cell is 0.42 points below: tested by X.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	withNotes, err := Ledger(Quick, dir, 1, []string{"ptq-mobilenetv2", "dorefa"}, "regenerate-command")
	if err != nil {
		t.Fatal(err)
	}
	want := "### ptq-mobilenetv2, paper preset: where ours differs from the reference, and why\n\nThe w6a6 cell is 0.42 points below: tested by X.\n"
	if !strings.Contains(withNotes, want) {
		t.Errorf("the ledger does not show %s under its table:\n%s", notes, withNotes[strings.Index(withNotes, "# The paper preset"):])
	}
	if strings.Contains(section, "ptq-resnet18") || strings.Contains(section, "dorefa") {
		t.Errorf("paper section shows a table the ledger was not asked for, or a QAT table:\n%s", section)
	}
	quickOnly, err := Ledger(Quick, dir, 1, []string{"dorefa"}, "regenerate-command")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(quickOnly, "paper preset") {
		t.Errorf("a ledger without PTQ tables has a paper section:\n%s", quickOnly)
	}
}
