package recipe_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/mlsysrep/mlsysrep/pkg/backend"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/pkg/train"
	"github.com/mlsysrep/mlsysrep/quant/recipe"

	_ "github.com/mlsysrep/mlsysrep/quant/pruning"
)

func TestPruningCellNames(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method recipe.PruneMethod
		target float64
		quant  quant.Method
		err    string
	}{
		{name: "resnet18/prune:dense", method: recipe.Dense, quant: quant.FP},
		{name: "resnet18/prune:u70", method: recipe.Unstructured, target: 0.7, quant: quant.FP},
		{name: "mobilenetv2/prune:f25", method: recipe.Filters, target: 0.25, quant: quant.FP},
		{name: "resnet18/prune:u70+ptq:w4a4", method: recipe.Unstructured, target: 0.7, quant: quant.PTQ},
		{name: "mobilenetv2/prune:f50+lsq:w4a4", method: recipe.Filters, target: 0.5, quant: quant.LSQM},
		{name: "resnet18/prune:u0", err: `"0" is not a whole percentage`},
		{name: "resnet18/prune:u100", err: `"100" is not a whole percentage`},
		{name: "resnet18/prune:u070", err: `"070" is not a whole percentage`},
		{name: "resnet18/prune:x50", err: `unknown pruning "x50"`},
		{name: "resnet18/prune:dense+ptq:w4a4", err: "the dense row is not quantized"},
		{name: "resnet18/prune:u70+pact:w4a4", err: "only ptq and lsq keep a pruned weight at zero"},
		{name: "resnet18/prune:u70+ptq:w9a4", err: "bits"},
		{name: "svhn/prune:u50", err: "CIFAR networks only"},
	} {
		c, err := recipe.NewCell(tc.name)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("NewCell(%q) error = %v, want one containing %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("NewCell(%q): %v", tc.name, err)
			continue
		}
		if c.Prune.Method != tc.method || c.Prune.Target != tc.target || c.Quant.Method != tc.quant || !c.Pruned() {
			t.Errorf("NewCell(%q) = %+v", tc.name, c)
		}
		if base, _, _ := strings.Cut(tc.name, "+"); c.PrunedBase() != base {
			t.Errorf("%q: PrunedBase %q, want %q", tc.name, c.PrunedBase(), base)
		}
	}
}

// TestPruningTableSmoke runs pruning cells of the smoke preset end to end:
// a quantized cell runs the pruned cell it starts from; every pruned weight
// is exactly zero in the checkpoints, LSQ's included (its masks are the
// pruned cell's); the filter-pruned network is smaller; the dense control
// prunes nothing; all start from one FP model; a second run reuses every
// record.
func TestPruningTableSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("trains smoke cells; run without -short")
	}
	be, err := backend.TestEngine()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	opts := recipe.Options{Table: "pruning", Preset: recipe.Smoke, Data: recipe.DataOptions{Source: "synthetic"}, Out: out,
		Backend: be, BackendName: "purego", Seed: 1,
		Cells: []string{"resnet18/prune:u70+ptq:w4a4", "resnet18/prune:u70+lsq:w4a4", "resnet18/prune:f50", "resnet18/prune:dense"}}
	res, err := recipe.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	rec := func(cell string) *report.Record {
		r := res.Records[cell]
		if r == nil || !r.Complete || r.Pruned == nil {
			t.Fatalf("%s: record %+v", cell, r)
		}
		return r
	}
	u70, lsq, ptq, f50, dense := rec("resnet18/prune:u70"), rec("resnet18/prune:u70+lsq:w4a4"), rec("resnet18/prune:u70+ptq:w4a4"),
		rec("resnet18/prune:f50"), rec("resnet18/prune:dense")
	if fp := res.Records["resnet18/fp"]; fp == nil || math.Abs(fp.Final-dense.Pruned.DenseAccuracy) > 1e-9 {
		t.Errorf("the dense accuracy measured (%.4f%%) is not the FP model's (%+v)", dense.Pruned.DenseAccuracy, fp)
	}
	for _, r := range []*report.Record{u70, lsq, ptq, f50} {
		if r.Pruned.DenseAccuracy != dense.Pruned.DenseAccuracy {
			t.Errorf("%s starts from an FP model at %.2f%%, the dense row from one at %.2f%%", r.Cell, r.Pruned.DenseAccuracy, dense.Pruned.DenseAccuracy)
		}
	}
	if s := u70.Pruned.Sparsity; s < 0.69 || s > 0.71 || lsq.Pruned.Sparsity != s || ptq.Pruned.Sparsity != s {
		t.Errorf("sparsity: u70 %.4f, its LSQ %.4f, its PTQ %.4f; want 0.70 each", s, lsq.Pruned.Sparsity, ptq.Pruned.Sparsity)
	}
	if u70.Pruned.PrunedAccuracy == nil || u70.Pruned.NonzeroWeights >= u70.Pruned.Weights*4/10 || u70.Pruned.LiveMACs >= u70.Pruned.MACs {
		t.Errorf("u70's block: %+v", u70.Pruned)
	}
	layers, zero, masked := u70.Pruned.Layers, 0, 0
	for _, l := range layers {
		zero, masked = zero+l.Zero, masked+l.Weights
	}
	m := u70.Pruned.Magnitudes
	if len(layers) == 0 || m == nil || float64(zero)/float64(masked) != u70.Pruned.Sparsity || sum(m.Dense) != masked ||
		sum(m.Kept) != masked-zero || !(m.Threshold > 0) {
		t.Errorf("u70's layers (%d pruned of %d) and magnitudes %+v do not add up to its sparsity %.4f", zero, masked, m, u70.Pruned.Sparsity)
	}
	if lsq.Pruned.Layers != nil || f50.Pruned.Magnitudes != nil {
		t.Error("per-layer counts and magnitudes are for the unstructured cells only")
	}
	if d := dense.Pruned; d.Sparsity != 0 || d.NonzeroWeights != d.Weights || d.PrunedAccuracy != nil || d.Weights != u70.Pruned.Weights {
		t.Errorf("dense control's block: %+v (u70's weights %d)", d, u70.Pruned.Weights)
	}
	if f := f50.Pruned; f.Weights >= dense.Pruned.Weights*3/4 || f.MACs >= dense.Pruned.MACs*3/4 || f.Sparsity != 0 || f.PrunedAccuracy == nil ||
		!strings.Contains(f50.ModelSize, "50% of the inner filters removed") {
		t.Errorf("f50: %s, %+v; dense weights %d, MACs %g", f50.ModelSize, f, dense.Pruned.Weights, dense.Pruned.MACs)
	}
	if !strings.Contains(u70.Recipe.Pruning, "one-shot") || !strings.Contains(lsq.Recipe.Pruning, "resnet18/prune:u70") {
		t.Errorf("recipes: u70 %q, lsq %q", u70.Recipe.Pruning, lsq.Recipe.Pruning)
	}

	u70Masks := prunedWeightsZero(t, out, u70)
	lsqMasks := prunedWeightsZero(t, out, lsq)
	if len(u70Masks) == 0 || len(lsqMasks) != len(u70Masks) {
		t.Fatalf("masks: %d in u70's checkpoint, %d in its LSQ cell's", len(u70Masks), len(lsqMasks))
	}
	for p, m := range u70Masks {
		if !equalFloats(m, lsqMasks[p]) {
			t.Errorf("mask %s changed in the LSQ cell", p)
		}
	}
	values, err := train.CheckpointValues(recipe.CheckpointDir(out, lsq), lsq.Key().String())
	if err != nil {
		t.Fatal(err)
	}
	steps := 0
	for p := range values {
		if strings.HasSuffix(p, "/step") {
			steps++
		}
	}
	if steps == 0 {
		t.Error("the LSQ cell's checkpoint has no LSQ step: its quantizers are not in the network")
	}

	// The cells others start from keep their weights beside their records:
	// the FP model, u70 (its quantized rows') and f50 (the table's f50 rows').
	for _, r := range []*report.Record{res.Records["resnet18/fp"], u70, f50, lsq, ptq, dense} {
		_, err := os.Stat(recipe.WeightsPath(out, r.Key()))
		if want := r == u70 || r == f50 || r.Cell == "resnet18/fp"; want != (err == nil) {
			t.Errorf("%s: weights kept %v, want %v (%v)", r.Cell, err == nil, want, err)
		}
	}

	// A second run, in a checkout without the checkpoints (records and kept
	// weights are committed, checkpoints are not), reuses every record.
	for _, r := range []*report.Record{u70, lsq, ptq, f50, dense} {
		r.Commit = "first-run"
		if err := r.Save(out); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(filepath.Join(out, "checkpoints")); err != nil {
		t.Fatal(err)
	}
	again, err := recipe.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"resnet18/prune:u70", "resnet18/prune:u70+lsq:w4a4", "resnet18/prune:u70+ptq:w4a4", "resnet18/prune:f50", "resnet18/prune:dense"} {
		if r := again.Records[name]; r == nil || r.Commit != "first-run" {
			t.Errorf("%s was not reused: %+v", name, r)
		}
	}
	if md := again.Markdown(); !strings.Contains(md, "| resnet18/prune:u70 | ") || !strings.Contains(md, "its pruned cells start from it") {
		t.Errorf("the table does not list the pruning block:\n%s", md)
	}

	// The FP model trained again to other weights (its checkpoint lost; its
	// old curve altered to stand for another engine's): every cell made
	// from it is made again, under a recipe naming the new weights.
	fp := onlyRecord(t, out, "ptq-resnet18", recipe.Smoke, "resnet18/fp")
	for _, p := range []string{recipe.CheckpointDir(out, fp), recipe.WeightsPath(out, fp.Key())} {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
	fp.Curve[0].TrainLoss += 0.5
	if err := fp.Save(out); err != nil {
		t.Fatal(err)
	}
	third, err := recipe.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"resnet18/prune:u70", "resnet18/prune:u70+lsq:w4a4", "resnet18/prune:u70+ptq:w4a4", "resnet18/prune:f50", "resnet18/prune:dense"} {
		r, old := third.Records[name], again.Records[name]
		if r == nil || r.Commit == "first-run" || r.Recipe.FPModel == old.Recipe.FPModel {
			t.Errorf("%s was not made again from the retrained FP model: %+v", name, r)
		}
	}
}

// prunedWeightsZero checks in a record's checkpoint that every weight under
// a zero of its mask is exactly zero, and returns the masks by path.
func prunedWeightsZero(t *testing.T, out string, r *report.Record) map[string][]float32 {
	t.Helper()
	values, err := train.CheckpointValues(recipe.CheckpointDir(out, r), r.Key().String())
	if err != nil {
		t.Fatal(err)
	}
	masks := map[string][]float32{}
	for p, m := range values {
		scope, ok := strings.CutSuffix(p, "/prune_mask")
		if !ok {
			continue
		}
		w := values[scope+"/weights"]
		if w == nil {
			t.Fatalf("%s: mask %s has no weights", r.Cell, p)
		}
		mv, wv := tensors.MustCopyFlatData[float32](m), tensors.MustCopyFlatData[float32](w)
		for i, k := range mv {
			if k == 0 && wv[i] != 0 {
				t.Fatalf("%s: %s[%d] = %g under a zero of its mask", r.Cell, scope, i, wv[i])
			}
		}
		masks[p] = mv
	}
	return masks
}

func sum(v []int) int {
	n := 0
	for _, x := range v {
		n += x
	}
	return n
}

func equalFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
