package recipe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsysrep/mlsysrep/pkg/backend"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
	"github.com/mlsysrep/mlsysrep/pkg/report"
)

// TestExportThenImportFP trains a tiny PTQ table, exports its FP model as
// safetensors (Export), and runs the table again on that file
// (Options.FPCheckpoint): the imported FP model must measure the trained
// one's test accuracy and the PTQ cell its accuracy (same weights, same
// calibration), the records must name the file's SHA-256, and a third run
// on the same file must reuse the PTQ record.
func TestExportThenImportFP(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny smoke model; run without -short")
	}
	be, err := backend.TestEngine()
	if err != nil {
		t.Fatal(err)
	}
	const table, cell = "torch-test-ptq", "resnet18/ptq:w4a4"
	Register(&Table{Name: table, PTQ: true, Layout: report.Layout{Title: table, Corner: "-",
		Rows: []string{"-"}, Columns: []string{"-"}, Cells: [][]string{{cell}}},
		Recipe: func(Preset, Model, quant.Config) (Spec, error) {
			return Spec{Width: 0.125, Blocks: 1, TrainImages: 64, TestImages: 64, Epochs: 1, Batch: 32, LR: 0.1,
				Calibration: 32}, nil
		}})
	opts := Options{Table: table, Preset: Smoke, Data: DataOptions{Source: "synthetic"}, Out: t.TempDir(),
		Backend: be, BackendName: "purego", Seed: 1}
	trained, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "fp.safetensors")
	line, err := Export(ExportOptions{Table: table, Preset: Smoke, Seed: 1, Out: opts.Out, File: file})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, "resnet18 at width 0.125, 1 block per stage") {
		t.Errorf("export says %q", line)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(data)
	sum := hex.EncodeToString(digest[:])

	imported := opts
	imported.Out, imported.FPCheckpoint = t.TempDir(), file
	run := func() *Result {
		t.Helper()
		res, err := Run(context.Background(), imported)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	got := run()
	for _, name := range []string{"resnet18/fp", cell} {
		a, b := trained.Records[name], got.Records[name]
		if a == nil || b == nil || !b.Complete {
			t.Fatalf("%s: trained record %v, imported %v", name, a, b)
		}
		if a.Final != b.Final {
			t.Errorf("%s: %.4f%% on the imported FP model, %.4f%% on the trained one it was exported from", name, b.Final, a.Final)
		}
		if !strings.Contains(b.Recipe.FPModel, "fp.safetensors sha256:"+sum) {
			t.Errorf("%s's recipe names the FP model %q, want the file and its SHA-256 %s", name, b.Recipe.FPModel, sum)
		}
		if a.Key() == b.Key() {
			t.Errorf("%s: the imported run has the trained run's key %v", name, a.Key())
		}
	}
	// Accuracy on 64 synthetic images can coincide by chance; the test loss
	// tells the exported weights from any others.
	fp, trainedFP := got.Records["resnet18/fp"], trained.Records["resnet18/fp"]
	loss := fmt.Sprintf("test loss %.6f", trainedFP.Curve[len(trainedFP.Curve)-1].TestLoss)
	if fp.EpochsRun != 0 || !strings.Contains(fp.Note, sum) || !strings.Contains(fp.Note, loss) {
		t.Errorf("the imported FP record: %d epochs run, note %q; want the file's SHA-256 and the trained model's %s", fp.EpochsRun, fp.Note, loss)
	}
	const mark = "the first import"
	first := got.Records[cell]
	first.Commit = mark
	if err := first.Save(imported.Out); err != nil {
		t.Fatal(err)
	}
	if again := run().Records[cell]; again.Commit != mark {
		t.Errorf("the same file again: the PTQ cell was computed again (commit %q), not reused", again.Commit)
	}

	// A file of the other network is refused, naming both.
	imported.FPCheckpoint = "../../models/torchcifar/testdata/mobilenetv2_w0.125.pt"
	if _, err := Run(context.Background(), imported); err == nil || !strings.Contains(err.Error(), "holds a mobilenetv2, not a resnet18") {
		t.Errorf("a MobileNetV2 file for a ResNet-18 table: %v", err)
	}
}

// TestExportErrors checks Export's refusals: a cell that was never trained,
// a PTQ cell (never trained), a QAT table without a cell.
func TestExportErrors(t *testing.T) {
	out := t.TempDir()
	for _, c := range []struct {
		opts ExportOptions
		want string
	}{
		{ExportOptions{Table: "ptq-resnet18", Preset: Quick, Seed: 1, Out: out}, "no record of ptq-resnet18 resnet18/fp, seed 1"},
		{ExportOptions{Table: "ptq-resnet18", Cell: "resnet18/ptq:w4a4", Preset: Quick, Out: out}, "PTQ cells are not trained"},
		{ExportOptions{Table: "pact", Preset: Quick, Out: out}, "has no FP model; name a cell"},
		{ExportOptions{Table: "dorefa-svhn", Cell: "svhn/dorefa:w2a2g6", Preset: Quick, Out: out}, "pytorch-cifar names exist for resnet18 and mobilenetv2 only"},
	} {
		_, err := Export(c.opts)
		if err == nil {
			t.Errorf("%+v: no error", c.opts)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want it to say %q", c.opts, err, c.want)
		}
	}
}
