package notebook

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/janpfeifer/must"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/pkg/train"
	"github.com/mlsysrep/mlsysrep/quant/recipe"
)

func TestPreset(t *testing.T) {
	tests := []struct {
		env, want string
		ok        bool
	}{{"", "quick", true}, {"smoke", "smoke", true}, {"paper", "paper", true}, {"fast", "", false}}
	for _, tc := range tests {
		t.Setenv(PresetVar, tc.env)
		got, err := Preset()
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%s=%q: %q, %v", PresetVar, tc.env, got, err)
		}
	}
}

func TestRootAndResultsDir(t *testing.T) {
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	if abs, _ := filepath.Abs("../.."); root != abs {
		t.Errorf("root %s, want %s", root, abs)
	}
	t.Setenv(ResultsVar, "")
	if d, _ := ResultsDir(); d != filepath.Join(root, "results") {
		t.Errorf("results dir %s", d)
	}
	t.Setenv(ResultsVar, "/elsewhere")
	if d, _ := ResultsDir(); d != "/elsewhere" {
		t.Errorf("results dir %s", d)
	}
	// A file is refused at once, naming the variable (it once failed late,
	// naming neither).
	file := filepath.Join(t.TempDir(), "results.txt")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(ResultsVar, file)
	if _, err := ResultsDir(); err == nil || !strings.Contains(err.Error(), ResultsVar+"="+file+" is a file") {
		t.Errorf("results dir on a file: %v", err)
	}
}

// TestTransferPACT checks values and both gradients at hand-computed points:
// PACT with alpha = 1 and 2 bits has levels 0, 1/3, 2/3, 1.
func TestTransferPACT(t *testing.T) {
	xs := []float64{-0.5, 0.1, 0.2, 0.5, 0.9, 1.5}
	y, dx, dp, err := Transfer(func(x, p *graph.Node) *graph.Node { return quant.PACT(x, p, 2) }, xs, 1)
	if err != nil {
		t.Fatal(err)
	}
	wantY := []float64{0, 0, 1.0 / 3, 2.0 / 3, 1, 1}
	wantDx := []float64{0, 1, 1, 1, 1, 0}
	wantDp := []float64{0, 0, 0, 0, 0, 1}
	for i := range xs {
		if math.Abs(y[i]-wantY[i]) > 1e-6 || dx[i] != wantDx[i] || dp[i] != wantDp[i] {
			t.Errorf("x=%g: y %g dy/dx %g dy/dalpha %g, want %g %g %g", xs[i], y[i], dx[i], dp[i], wantY[i], wantDx[i], wantDp[i])
		}
	}
}

func TestTransferWithoutParameterAndErrors(t *testing.T) {
	y, dx, dp, err := Transfer(func(x, _ *graph.Node) *graph.Node { return quant.DoReFaActivation(x, 1) }, []float64{-1, 0.4, 0.6, 2}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if y[1] != 0 || y[2] != 1 || dx[0] != 0 || dx[1] != 1 || dp[3] != 0 {
		t.Errorf("y %v dx %v dp %v", y, dx, dp)
	}
	_, _, _, err = Transfer(func(x, _ *graph.Node) *graph.Node { return quant.DoReFaActivation(x, 0) }, []float64{1}, 0)
	if err == nil || !strings.Contains(err.Error(), "DoReFaActivation") {
		t.Errorf("bad bits: %v", err)
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
		"Cells with a record: 1 of 60", "training 10.0 images/s (host CPU steal 25% over the 1 of 1 epochs that measured it)", "commit abc",
		"(computed from these records)", "one cell with a record, ptq:w4a4 at 77.00%"} {
		if !strings.Contains(h, want) {
			t.Errorf("table HTML lacks %q", want)
		}
	}
}

func TestProgressOutsideNotebook(t *testing.T) {
	p := NewProgress()
	if n, err := p.Write([]byte("== pact resnet18/pact:w4a4\npartial")); err != nil || n != 34 {
		t.Errorf("write: %d %v", n, err)
	}
	p.Event(train.Event{Kind: train.StepDone, Epoch: 1, Epochs: 2, Step: 1, Steps: 3, Loss: 1, ImagesPerSecond: 10})
	p.Close()
	if p.shown {
		t.Error("outside a notebook a step report was shown in place")
	}
}

// TestLoadOrTrainFPSmoke trains the smoke-preset FP ResNet-18 (no
// checkpoint in an empty results folder) and reads real weights and
// activations from it; with MLSYSREP_NO_TRAIN=1 it trains nothing: it
// reports ErrNotTrained before the tour's checkpoint exists and loads that
// checkpoint after.
func TestLoadOrTrainFPSmoke(t *testing.T) {
	t.Setenv(PresetVar, "smoke")
	dir := t.TempDir()
	t.Setenv(ResultsVar, dir)
	t.Setenv(NoTrainVar, "1")
	if _, err := LoadOrTrainFP(); !errors.Is(err, ErrNotTrained) {
		t.Fatalf("no checkpoint, training off: err = %v, want ErrNotTrained", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("training off, yet the results folder holds %v", entries)
	}
	t.Setenv(NoTrainVar, "")
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
	t.Setenv(NoTrainVar, "1")
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
	if len(dims) != 4 || dims[0] != 3 || dims[2] != 3 || dims[3] != m.Net.Channels(0) || len(w) != 27*dims[3] {
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

func TestCalibrate(t *testing.T) {
	values := []float64{0, 0.5, 1, 1.5, 3}
	c, err := Calibrate(quant.MinMaxObserver{}, values, 2)
	if err != nil {
		t.Fatal(err)
	}
	// min/max [0, 3], 2 bits: levels 0, 1, 2, 3; 0.5 and 1.5 round to even.
	want := []float64{0, 0, 1, 2, 3}
	if c.Lo != 0 || c.Hi != 3 || c.Observer != "minmax" {
		t.Fatalf("%+v", c)
	}
	for i := range want {
		if math.Abs(c.Quantized[i]-want[i]) > 1e-6 {
			t.Fatalf("quantized %v, want %v", c.Quantized, want)
		}
	}
	if math.Abs(c.MSE-0.1) > 1e-6 { // (0.25 + 0.25) / 5
		t.Errorf("MSE %g", c.MSE)
	}
	if g := c.Grid(2); len(g) != 4 || g[3] != 3 {
		t.Errorf("grid %v", g)
	}
	w, err := QuantizeWeights([]float64{0.1, -1, 0.5, 0.2}, []int{2, 2}, 2, true)
	if err != nil {
		t.Fatal(err)
	}
	// 2 bits symmetric: levels -1, 0, 1 times max|w| per output channel (last axis): 0.5 and 1.
	wantW := []float64{0, -1, 0.5, 0}
	for i := range wantW {
		if math.Abs(w[i]-wantW[i]) > 1e-6 {
			t.Fatalf("per-channel weights %v, want %v", w, wantW)
		}
	}
}

// TestMustSkipsUntrained checks a must.M of ErrNotTrained ends the cell
// with exit status 0 and the reason on stdout (run in a child process).
func TestMustSkipsUntrained(t *testing.T) {
	if os.Getenv("MLSYSREP_MUST_CHILD") == "1" {
		must.M(fmt.Errorf("%w: no checkpoint", ErrNotTrained))
		fmt.Println("not reached")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMustSkipsUntrained$")
	cmd.Env = append(os.Environ(), "MLSYSREP_MUST_CHILD=1")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v, want exit status 0 (stderr %q)", err, stderr.String())
	}
	if got := stdout.String(); got != "skipped, training is off: no checkpoint\n" || stderr.Len() != 0 {
		t.Errorf("stdout %q, stderr %q", got, stderr.String())
	}
}

// TestMustReportsOneLine checks a failed must.M ends the program with exit
// status 1 and one line on stderr, no stack trace (run in a child process).
func TestMustReportsOneLine(t *testing.T) {
	if os.Getenv("MLSYSREP_MUST_CHILD") == "1" {
		must.M(errors.New("no such table \"x\""))
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMustReportsOneLine$")
	cmd.Env = append(os.Environ(), "MLSYSREP_MUST_CHILD=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("child: %v, want exit status 1", err)
	}
	if got := stderr.String(); got != "error: no such table \"x\"\n" {
		t.Errorf("stderr %q, want one line", got)
	}
}

// TestRunTableFromRecords: a table whose records all exist renders without
// running; with MLSYSREP_NO_TRAIN=1 a partial table renders as it is.
func TestRunTableFromRecords(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(ResultsVar, dir)
	t.Setenv(PresetVar, "smoke")
	t.Setenv(RerunVar, "")
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
	t.Setenv(NoTrainVar, "1")
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
	t.Setenv(NoTrainVar, "")
	if res, err = RunTable("lsq"); err != nil || len(res.Records) != len(cells) {
		t.Errorf("complete table: %v, %d records", err, len(res.Records))
	}
}
