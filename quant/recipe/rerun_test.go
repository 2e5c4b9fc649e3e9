package recipe_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsysrep/mlsysrep/pkg/backend"
	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/pkg/train"
	"github.com/mlsysrep/mlsysrep/quant/recipe"

	_ "github.com/mlsysrep/mlsysrep/quant/ptq"
)

// TestPTQRerunKeepsFPRecord runs a PTQ cell, then a new cell of the same
// table: the FP model comes back from its checkpoint, and its record must
// stay the record of the run that trained it (commit, wall time), not be
// rewritten by the later run.
func TestPTQRerunKeepsFPRecord(t *testing.T) {
	out, opts, _ := ptqSmokeRun(t, "resnet18/ptq:w4a4")
	fp := onlyRecord(t, out, "ptq-resnet18", recipe.Smoke, "resnet18/fp")
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
	again := onlyRecord(t, out, "ptq-resnet18", recipe.Smoke, "resnet18/fp")
	if again.Commit != "the-training-run" || again.WallSeconds != 123 {
		t.Errorf("FP record rewritten by a run that only loaded its checkpoint: commit %q, wall %g s", again.Commit, again.WallSeconds)
	}
}

// ptqSmokeRun runs one cell of the smoke ptq-resnet18 table (and so its FP
// model) into a new folder, and returns the folder, the run's options (for
// running it again) and its result (skipped under -short).
func ptqSmokeRun(t *testing.T, cell string) (string, recipe.Options, *recipe.Result) {
	t.Helper()
	if testing.Short() {
		t.Skip("trains a smoke FP model; run without -short")
	}
	be, err := backend.TestEngine()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	opts := recipe.Options{Table: "ptq-resnet18", Preset: recipe.Smoke, Cells: []string{cell},
		Data: recipe.DataOptions{Source: "synthetic"}, Out: out, Backend: be, BackendName: "purego", Seed: 1}
	res, err := recipe.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return out, opts, res
}

// onlyRecord returns the one record of a cell under out.
func onlyRecord(t *testing.T, out, table string, preset recipe.Preset, cell string) *report.Record {
	t.Helper()
	all, err := report.Find(out, string(preset), table, cell)
	if err != nil || len(all) != 1 {
		t.Fatalf("records of %s %s: %d, %v; want exactly one", table, cell, len(all), err)
	}
	return all[0]
}

// TestSeedTwoAfterSeedOne: a seed-2 run in an -out where a seed-1 run left
// its record and checkpoint trains seed 2 from scratch (it once resumed seed
// 1's checkpoint and filed seed 1's numbers as seed 2, replacing seed 1's
// record): both records stay, and seed 2's equals a seed-2 run in a folder
// of its own.
func TestSeedTwoAfterSeedOne(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three smoke cells; run without -short")
	}
	be, err := backend.TestEngine()
	if err != nil {
		t.Fatal(err)
	}
	cell := "resnet18/pact:w4a4"
	runSeed := func(out string, seed uint64) *report.Record {
		opts := recipe.Options{Table: "pact", Preset: recipe.Smoke, Cells: []string{cell}, Data: recipe.DataOptions{Source: "synthetic"},
			Out: out, Backend: be, BackendName: "purego", Seed: seed}
		res, err := recipe.Run(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		return res.Records[cell]
	}
	shared, alone := t.TempDir(), t.TempDir()
	one := runSeed(shared, 1)
	two := runSeed(shared, 2)
	fresh := runSeed(alone, 2)
	all, err := report.Find(shared, string(recipe.Smoke), "pact", cell)
	if err != nil || len(all) != 2 {
		t.Fatalf("%d records after seeds 1 and 2 in one folder (%v), want 2", len(all), err)
	}
	if two.Seed != 2 || two.Curve[0].TrainLoss != fresh.Curve[0].TrainLoss || two.Final != fresh.Final {
		t.Errorf("seed 2 after seed 1: loss %v final %v; seed 2 alone: loss %v final %v",
			two.Curve[0].TrainLoss, two.Final, fresh.Curve[0].TrainLoss, fresh.Final)
	}
	if one.Curve[0].TrainLoss == two.Curve[0].TrainLoss {
		t.Errorf("seeds 1 and 2 trained identically (loss %v): the seed is not used", one.Curve[0].TrainLoss)
	}
	for _, r := range all {
		if r.Seed == 1 && r.Curve[0].TrainLoss != one.Curve[0].TrainLoss {
			t.Errorf("seed 1's record changed after the seed-2 run")
		}
	}
}

// TestTrainFPLoadOnly: with LoadOnly, TrainFP loads a finished checkpoint
// (the same weights and history as the run that wrote it) and refuses a
// partial one or none with ErrNoFPModel, training nothing.
func TestTrainFPLoadOnly(t *testing.T) {
	be, err := backend.TestEngine()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	opts := recipe.FPOptions{Table: "ptq-resnet18", Preset: recipe.Smoke, Epochs: 1,
		Data: recipe.DataOptions{Source: "synthetic"}, Backend: be, Seed: 1,
		CheckpointDir: dir, CheckpointKey: "fp test"}
	trained, err := recipe.TrainFP(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.LoadOnly = true
	loaded, err := recipe.TrainFP(context.Background(), opts)
	if err != nil || len(loaded.Epochs) != 1 || loaded.TestAccuracy() != trained.TestAccuracy() {
		t.Fatalf("finished checkpoint: %v, %+v", err, loaded)
	}
	opts.Epochs = 2 // the checkpoint holds 1 of 2 epochs
	if _, err := recipe.TrainFP(context.Background(), opts); !errors.Is(err, recipe.ErrNoFPModel) {
		t.Errorf("partial checkpoint: %v, want ErrNoFPModel", err)
	}
	opts.CheckpointDir = ""
	if _, err := recipe.TrainFP(context.Background(), opts); !errors.Is(err, recipe.ErrNoFPModel) {
		t.Errorf("no checkpoint folder: %v, want ErrNoFPModel", err)
	}
}

// TestFPCellAlone: "-cells resnet18/fp" trains the PTQ table's FP model and
// calibrates nothing; a PTQ cell run afterwards reuses that FP record.
func TestFPCellAlone(t *testing.T) {
	out, opts, res := ptqSmokeRun(t, "resnet18/fp")
	if len(res.Records) != 1 || res.Records["resnet18/fp"] == nil || !res.Records["resnet18/fp"].Complete {
		t.Fatalf("records %v, want the complete FP record alone", res.Records)
	}
	fp := onlyRecord(t, out, "ptq-resnet18", recipe.Smoke, "resnet18/fp")
	fp.Commit = "the FP-only run"
	if err := fp.Save(out); err != nil {
		t.Fatal(err)
	}
	opts.Cells = []string{"resnet18/ptq:w4a4"}
	res, err := recipe.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Records["resnet18/fp"].Commit; got != "the FP-only run" {
		t.Errorf("the PTQ cell's run trained its FP model again (commit %q)", got)
	}
	if _, err := recipe.Run(context.Background(), recipe.Options{Table: "pact", Preset: recipe.Smoke, Cells: []string{"resnet18/fp"},
		Data: recipe.DataOptions{Source: "synthetic"}, Out: out, Backend: opts.Backend, Seed: 1}); err == nil {
		t.Error("a QAT table accepted an FP cell")
	}
}

// TestPTQRetrainedFPReplacesRecord: when a complete FP record's checkpoint
// is gone, the FP model is trained again, and the new weights are not the
// record's (another engine or CPU gives other bits; here the record's curve
// is altered to stand for that): the record is replaced by the new run's and
// the PTQ cells are calibrated again on the new weights, not reused.
func TestPTQRetrainedFPReplacesRecord(t *testing.T) {
	out, opts, _ := ptqSmokeRun(t, "resnet18/ptq:w4a4")
	fp := onlyRecord(t, out, "ptq-resnet18", recipe.Smoke, "resnet18/fp")
	for _, p := range []string{recipe.CheckpointDir(out, fp), recipe.WeightsPath(out, fp.Key())} {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
	fp.Commit = "older-engine"
	fp.Curve[0].TrainLoss += 0.5
	if err := fp.Save(out); err != nil {
		t.Fatal(err)
	}
	cell := onlyRecord(t, out, "ptq-resnet18", recipe.Smoke, "resnet18/ptq:w4a4")
	cell.Commit = "older-engine"
	if err := cell.Save(out); err != nil {
		t.Fatal(err)
	}
	if _, err := recipe.Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if again := onlyRecord(t, out, "ptq-resnet18", recipe.Smoke, "resnet18/fp"); again.Commit == "older-engine" || again.Curve[0].TrainLoss == fp.Curve[0].TrainLoss {
		t.Errorf("the FP record of other weights was kept: commit %q, first train loss %g", again.Commit, again.Curve[0].TrainLoss)
	}
	if again := onlyRecord(t, out, "ptq-resnet18", recipe.Smoke, "resnet18/ptq:w4a4"); again.Commit == "older-engine" ||
		again.Recipe.FPModel == cell.Recipe.FPModel || !strings.HasPrefix(again.Recipe.FPModel, "resnet18/fp (recipe ") {
		t.Errorf("the PTQ cell's record of the old FP weights was reused, or does not name the new ones: %q (was %q)", again.Recipe.FPModel, cell.Recipe.FPModel)
	}
}

// TestKeptWeightsComeBack: a PTQ table's FP model keeps a copy of its final
// checkpoint beside its record (WeightsPath). In a checkout without the
// checkpoints folder (records are committed, checkpoints are not), the
// weights come back from that copy: the FP record and the PTQ cell made
// from it are reused, not made again. A damaged copy is an error naming
// it, and the records stay.
func TestKeptWeightsComeBack(t *testing.T) {
	out, opts, _ := ptqSmokeRun(t, "resnet18/ptq:w4a4")
	fp := onlyRecord(t, out, "ptq-resnet18", recipe.Smoke, "resnet18/fp")
	kept := recipe.WeightsPath(out, fp.Key())
	data, err := os.ReadFile(kept)
	if err != nil {
		t.Fatalf("the FP model's weights were not kept: %v", err)
	}
	cell := onlyRecord(t, out, "ptq-resnet18", recipe.Smoke, "resnet18/ptq:w4a4")
	if _, err := os.Stat(recipe.WeightsPath(out, cell.Key())); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a PTQ cell (no cell starts from it) kept weights: %v", err)
	}
	for _, r := range []*report.Record{fp, cell} {
		r.Commit = "the first checkout"
		if err := r.Save(out); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(filepath.Join(out, "checkpoints")); err != nil {
		t.Fatal(err)
	}
	// Training the FP model again here would give the same bits (same
	// engine and CPU), so the log tells how its weights came back.
	var log strings.Builder
	opts.Progress = &log
	if _, err := recipe.Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	opts.Progress = nil
	if !strings.Contains(log.String(), "weights restored from "+kept) || strings.Contains(log.String(), "epoch 1/") {
		t.Errorf("the FP model's weights did not come back from %s without training; the run said:\n%s", kept, log.String())
	}
	for _, name := range []string{"resnet18/fp", "resnet18/ptq:w4a4"} {
		if r := onlyRecord(t, out, "ptq-resnet18", recipe.Smoke, name); r.Commit != "the first checkout" {
			t.Errorf("%s was made again (commit %q), not reused with the kept weights", name, r.Commit)
		}
	}

	if err := os.RemoveAll(filepath.Join(out, "checkpoints")); err != nil {
		t.Fatal(err)
	}
	data[len(data)-5] ^= 1
	if err := os.WriteFile(kept, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := recipe.Run(context.Background(), opts); err == nil || !strings.Contains(err.Error(), kept) {
		t.Errorf("a damaged copy of the weights: %v, want an error naming %s", err, kept)
	}
	if r := onlyRecord(t, out, "ptq-resnet18", recipe.Smoke, "resnet18/fp"); r.Commit != "the first checkout" {
		t.Errorf("a damaged copy of the weights replaced the FP record (commit %q)", r.Commit)
	}
}

// TestUnfinishedBaseResumesFromKeptProgress: a base cell keeps its progress
// beside its records after every epoch, before its record is written. A run
// that dies after an epoch (here its record cannot be saved) leaves that
// copy; in a checkout without the checkpoints folder, the same command
// resumes from it instead of starting over, to the curve an uninterrupted
// run gives. Kept weights of another run (another seed) are not resumed:
// that run starts from scratch and replaces them.
func TestUnfinishedBaseResumesFromKeptProgress(t *testing.T) {
	_, _, res := ptqSmokeRun(t, "resnet18/fp")
	whole := res.Records["resnet18/fp"]

	be, err := backend.TestEngine()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	opts := recipe.Options{Table: "ptq-resnet18", Preset: recipe.Smoke, Cells: []string{"resnet18/fp"},
		Data: recipe.DataOptions{Source: "synthetic"}, Out: out, Backend: be, BackendName: "purego", Seed: 1}
	// Once the epoch is done, a folder where the record goes: the run
	// fails to save the record, as a run killed at that point would.
	block := whole.Key().RecordPath(out)
	opts.Events = func(e train.Event) {
		if e.Kind == train.EpochDone {
			if err := os.MkdirAll(block, 0o755); err != nil {
				t.Error(err)
			}
		}
	}
	_, err = recipe.Run(context.Background(), opts)
	opts.Events = nil
	if err == nil {
		t.Fatal("the run saved its record over a folder")
	}
	kept := recipe.WeightsPath(out, whole.Key())
	if _, statErr := os.Stat(kept); statErr != nil {
		t.Fatalf("no progress kept after the epoch (the run: %v): %v", err, statErr)
	}
	for _, dir := range []string{block, filepath.Join(out, "checkpoints")} {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
	var log strings.Builder
	opts.Progress = &log
	if _, err := recipe.Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "weights restored from "+kept) || strings.Contains(log.String(), "epoch 1/") {
		t.Errorf("the run did not resume from the kept progress %s; it said:\n%s", kept, log.String())
	}
	got := onlyRecord(t, out, "ptq-resnet18", recipe.Smoke, "resnet18/fp")
	if !got.Complete || len(got.Curve) != len(whole.Curve) || got.Final != whole.Final {
		t.Errorf("resumed record: complete %v, %d epochs, final %.4f%%; an uninterrupted run: %d epochs, %.4f%%",
			got.Complete, len(got.Curve), got.Final, len(whole.Curve), whole.Final)
	}

	// Seed 2 finds seed 1's progress where its own would be.
	opts.Seed, opts.Progress = 2, &log
	log.Reset()
	seed2 := whole.Key()
	seed2.Seed = 2
	kept2 := recipe.WeightsPath(out, seed2)
	if err := os.MkdirAll(filepath.Dir(kept2), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(kept)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kept2, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := recipe.Run(context.Background(), opts); err != nil {
		t.Fatalf("seed 2 with seed 1's kept weights in its place: %v", err)
	}
	if !strings.Contains(log.String(), "are of another run") || !strings.Contains(log.String(), "epoch 1/") {
		t.Errorf("seed 2 did not start over beside another run's kept weights; it said:\n%s", log.String())
	}
	if again, err := os.ReadFile(kept2); err != nil || string(again) == string(data) {
		t.Errorf("seed 2's weights did not replace the other run's (%v)", err)
	}
}
