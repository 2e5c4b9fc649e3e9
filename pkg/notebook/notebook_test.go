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
	"github.com/mlsysrep/mlsysrep/pkg/train"
)

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
