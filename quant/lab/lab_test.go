package lab

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsysrep/mlsysrep/models/resnet"
	"github.com/mlsysrep/mlsysrep/pkg/notebook"
	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/quant/recipe"
)

func TestPreset(t *testing.T) {
	tests := []struct {
		env  string
		want recipe.Preset
		ok   bool
	}{{"", "quick", true}, {"smoke", "smoke", true}, {"paper", "paper", true}, {"fast", "", false}}
	for _, tc := range tests {
		t.Setenv(notebook.PresetVar, tc.env)
		got, err := Preset()
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%s=%q: %q, %v", notebook.PresetVar, tc.env, got, err)
		}
	}
}

func TestTableHTML(t *testing.T) {
	tb, err := recipe.Lookup("ptq-resnet18")
	if err != nil {
		t.Fatal(err)
	}
	r := &report.Record{Cell: "resnet18/ptq:w4a4", Final: 77, Complete: true, Data: "d", Preset: "smoke", Backend: "b", Seed: 1, Commit: "abc"}
	r.SetReference("78.86")
	steal := 0.25
	fp := &report.Record{Cell: "resnet18/fp", Final: 80, Complete: true, EpochsRun: 1, ModelSize: "width 0.125", WallSeconds: 3,
		Curve: []report.Epoch{{Epoch: 1, Images: 30, Seconds: 3, CPUSteal: &steal}}}
	h := TableHTML(&recipe.Result{Table: tb, Records: map[string]*report.Record{r.Cell: r, fp.Cell: fp}})
	for _, want := range []string{`class="mlsysrep-table"`, "77.00", "-1.86", "FP model <b>resnet18/fp</b>", "beyond the reference",
		"Cells with a record: 1 of 60", "training 10.0 images/s (host CPU steal 25% over the 1 of 1 epochs that measured it)", "commit: abc",
		"(computed from these records)", "one cell with a record, ptq:w4a4 at 77.00%"} {
		if !strings.Contains(h, want) {
			t.Errorf("table HTML lacks %q", want)
		}
	}
}

// TestLoadOrTrainFPSmoke trains the smoke-preset FP ResNet-18 (no
// checkpoint in an empty results folder) and reads real weights and
// activations from it; with MLSYSREP_NO_TRAIN=1 it trains nothing: it
// reports notebook.ErrNotTrained before the tour's checkpoint exists and loads that
// checkpoint after.
func TestLoadOrTrainFPSmoke(t *testing.T) {
	t.Setenv(notebook.PresetVar, "smoke")
	dir := t.TempDir()
	t.Setenv(notebook.ResultsVar, dir)
	t.Setenv(notebook.NoTrainVar, "1")
	if _, err := LoadOrTrainFP(); !errors.Is(err, notebook.ErrNotTrained) {
		t.Fatalf("no checkpoint, training off: err = %v, want notebook.ErrNotTrained", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("training off, yet the results folder holds %v", entries)
	}
	t.Setenv(notebook.NoTrainVar, "")
	m, err := LoadOrTrainFP()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Source, "trained by the tour") {
		t.Errorf("source %q", m.Source)
	}
	again, err := LoadOrTrainFP() // loads the tour's checkpoint: same weights
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(notebook.NoTrainVar, "1")
	offline, err := LoadOrTrainFP() // training off: the same checkpoint
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(offline.Source, "the tour's FP checkpoint") {
		t.Errorf("training off, source %q", offline.Source)
	}
	w1, _, _ := m.StemWeights()
	w2, _, _ := again.StemWeights()
	w3, _, _ := offline.StemWeights()
	if len(w1) == 0 || w1[0] != w2[0] || w1[len(w1)-1] != w2[len(w2)-1] || w1[0] != w3[0] || w1[len(w1)-1] != w3[len(w3)-1] {
		t.Errorf("reloaded weights differ")
	}
	w, dims, err := m.StemWeights()
	if err != nil {
		t.Fatal(err)
	}
	if len(dims) != 4 || dims[0] != 3 || dims[2] != 3 || dims[3] != (resnet.Config{Width: m.Spec.Width, BlocksPerStage: m.Spec.Blocks}).Channels(0) || len(w) != 27*dims[3] {
		t.Errorf("stem kernel dims %v (%d values)", dims, len(w))
	}
	acts, err := m.StemActivations(2)
	if err != nil {
		t.Fatal(err)
	}
	positive := 0
	for _, a := range acts {
		if a < 0 {
			t.Fatalf("negative activation %g after ReLU", a)
		}
		if a > 0 {
			positive++
		}
	}
	if len(acts) != 2*32*32*dims[3] || positive == 0 {
		t.Errorf("%d activations, %d positive", len(acts), positive)
	}
}

// TestRunTableFromRecords: a table whose records all exist renders without
// running; with MLSYSREP_NO_TRAIN=1 a partial table renders as it is.
func TestRunTableFromRecords(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(notebook.ResultsVar, dir)
	t.Setenv(notebook.PresetVar, "smoke")
	t.Setenv(notebook.RerunVar, "")
	tb, _ := recipe.Lookup("lsq")
	cells := tb.CellsFor("smoke")
	for i, c := range cells {
		if i == 0 {
			continue // one cell missing
		}
		r := &report.Record{Table: "lsq", Cell: c.Name, Preset: "smoke", Seed: Seed, Data: "d", Final: 50, Complete: true}
		if err := r.Save(dir); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(notebook.NoTrainVar, "1")
	res, err := RunTable("lsq")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != len(cells)-1 || res.Records[cells[0].Name] != nil {
		t.Errorf("%d records", len(res.Records))
	}
	r := &report.Record{Table: "lsq", Cell: cells[0].Name, Preset: "smoke", Seed: Seed, Data: "d", Final: 50, Complete: true}
	if err := r.Save(dir); err != nil {
		t.Fatal(err)
	}
	t.Setenv(notebook.NoTrainVar, "")
	if res, err = RunTable("lsq"); err != nil || len(res.Records) != len(cells) {
		t.Errorf("complete table: %v, %d records", err, len(res.Records))
	}
}

// TestCommittedFP loads the committed quick FP ResNet-18 (on synthetic test
// images, so that no data copy is needed), checks it is the quick preset's
// network with trained weights, and that loading leaves the committed files
// as they are.
func TestCommittedFP(t *testing.T) {
	root, err := notebook.Root()
	if err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(root, CommittedFPDir, "checkpoint.gob")
	before, err := os.ReadFile(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	be, _, err := notebook.Backend()
	if err != nil {
		t.Fatal(err)
	}
	m, note, err := committedFP(context.Background(), recipe.FPOptions{Table: "ptq-resnet18", Preset: recipe.Quick,
		Data: recipe.DataOptions{Source: "synthetic"}, Backend: be, Seed: Seed})
	if err != nil || m == nil {
		t.Fatalf("committed FP model: %v, %v (%s)", m, err, note)
	}
	data, err := os.ReadFile(filepath.Join(root, CommittedFPDir, "record.json"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := report.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	// The checkpoint's history is the record's run.
	if !strings.HasPrefix(m.Source, "the committed quick FP model") || len(m.Epochs) != rec.EpochsRun ||
		math.Abs(100*m.TestAccuracy()-rec.Final) > 1e-9 {
		t.Errorf("source %q, %d epochs, test accuracy %g; the record: %d epochs, %g%%", m.Source, len(m.Epochs),
			m.TestAccuracy(), rec.EpochsRun, rec.Final)
	}
	w, dims, err := m.StemWeights()
	if err != nil {
		t.Fatal(err)
	}
	if len(dims) != 4 || dims[3] != 16 || len(w) != 27*16 { // width 0.25: 16 stem channels
		t.Errorf("stem kernel %v", dims)
	}
	// The trained weights: the checkpoint's, not an initialization (which
	// another seed would change).
	other, _, err := committedFP(context.Background(), recipe.FPOptions{Table: "ptq-resnet18", Preset: recipe.Quick,
		Data: recipe.DataOptions{Source: "synthetic"}, Backend: be, Seed: 7})
	if err != nil || other == nil {
		t.Fatalf("seed 7: %v, %v", other, err)
	}
	w7, _, err := other.StemWeights()
	if err != nil {
		t.Fatal(err)
	}
	for i := range w {
		if w[i] != w7[i] {
			t.Fatalf("stem weight %d: %g with seed 1, %g with seed 7: not the checkpoint's", i, w[i], w7[i])
		}
	}
	after, err := os.ReadFile(ckpt)
	if err != nil || !bytes.Equal(before, after) {
		t.Errorf("loading changed the committed checkpoint (%v)", err)
	}
	// Another recipe than the committed one's: not used, said why.
	m, note, err = committedFP(context.Background(), recipe.FPOptions{Table: "ptq-resnet18", Preset: recipe.Quick, Epochs: 3,
		Data: recipe.DataOptions{Source: "synthetic"}, Backend: be, Seed: Seed})
	if err != nil || m != nil || !strings.Contains(note, "another recipe") {
		t.Errorf("other recipe: %v, %v, %q", m, err, note)
	}
}
