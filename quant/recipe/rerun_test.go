package recipe_test

import (
	"context"
	"testing"

	"github.com/mlsysrep/mlsysrep/pkg/backend/purego"
	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/quant/recipe"

	_ "github.com/mlsysrep/mlsysrep/quant/ptq"
)

// TestPTQRerunKeepsFPRecord runs a PTQ cell, then a new cell of the same
// table: the FP model comes back from its checkpoint, and its record must
// stay the record of the run that trained it (commit, wall time), not be
// rewritten by the later run.
func TestPTQRerunKeepsFPRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a smoke FP model; run without -short")
	}
	be, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	opts := recipe.Options{Table: "ptq-resnet18", Preset: recipe.Smoke, Cells: []string{"resnet18/ptq:w4a4"},
		Data: recipe.DataOptions{Source: "synthetic"}, Out: out, Backend: be, BackendName: "purego", Seed: 1}
	if _, err := recipe.Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	fp, err := report.Load(out, "ptq-resnet18", recipe.Smoke, "resnet18/fp")
	if err != nil {
		t.Fatal(err)
	}
	fp.Commit, fp.WallSeconds = "the-training-run", 123
	if err := fp.Save(out); err != nil {
		t.Fatal(err)
	}
	opts.Cells = []string{"resnet18/ptq:w6a6"}
	res, err := recipe.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Records["resnet18/ptq:w6a6"]; r == nil || !r.Complete {
		t.Fatalf("second cell: %+v", r)
	}
	again, err := report.Load(out, "ptq-resnet18", recipe.Smoke, "resnet18/fp")
	if err != nil {
		t.Fatal(err)
	}
	if again.Commit != "the-training-run" || again.WallSeconds != 123 {
		t.Errorf("FP record rewritten by a run that only loaded its checkpoint: commit %q, wall %g s", again.Commit, again.WallSeconds)
	}
}
