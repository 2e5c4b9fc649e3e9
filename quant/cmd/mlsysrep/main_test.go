package main

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/quant/recipe"
)

func TestRunErrors(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		want      string
		wantUsage bool
	}{
		{nil, "no command given", true},
		{[]string{"train-everything"}, `unknown command "train-everything"`, true},
		{[]string{"demo", "-preset", "huge"}, `unknown preset "huge"`, true},
		{[]string{"demo", "-preset", "tiny"}, `unknown preset "tiny" (valid: smoke, quick, paper)`, true},
		{[]string{"demo", "-preset", "smoke", "-data", "imagenet"}, `unknown -data "imagenet"`, true},
		{[]string{"demo", "-model", "svhn"}, `unknown -model "svhn"`, true},
		{[]string{"demo", "-epochs", "-1"}, `must be positive`, true},
		{[]string{"demo", "-backend", "tpu"}, `unknown backend "tpu"`, false},
		{[]string{"backend", "-backend", "tpu"}, `unknown backend "tpu"`, false},
		{[]string{"export", "-table", "ptq-resnet18"}, "export needs -table and -o", true},
		{[]string{"run", "-table", "pact", "-cells", "resnet18/fp"}, `table pact has no cell "resnet18/fp"`, true},
		{[]string{"export", "-table", "ptq-resnet18", "-preset", "quick", "-out", os.TempDir() + "/mlsysrep-no-such-folder", "-o", "x.safetensors"},
			"no record of ptq-resnet18 resnet18/fp, seed 1", false},
		{[]string{"run", "-table", "pact", "-fp-checkpoint", "x.pt"}, "-fp-checkpoint is for one PTQ table", true},
		{[]string{"run", "-table", "ptq-resnet18", "-fp-checkpoint", "no-such-file.pt", "-out", "elsewhere"}, "-fp-checkpoint: stat no-such-file.pt", true},
		{[]string{"run", "-table", "ptq-resnet18", "-fp-checkpoint", "main.go"}, "give it an -out of its own", true},
	} {
		err := run(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			continue
		}
		if errors.Is(err, errUsage) != tc.wantUsage {
			t.Errorf("run(%q): usage error = %v, want %v", tc.args, errors.Is(err, errUsage), tc.wantUsage)
		}
	}
}

// TestDemoSmoke runs the demo end to end on synthetic data, for both
// networks, and checks that it trains the PTQ table's FP recipe of the
// preset (recipe.TrainFP, the one FP-training path) with the overrides.
func TestDemoSmoke(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"demo", "-preset", "smoke", "-data", "synthetic"},
			[]string{"model: FP resnet18 at width 0.125; table ptq-resnet18's FP recipe at preset smoke: 1 epoch, batch 64",
				"epoch 1/1", "synthetic cifar10", "test accuracy"}},
		{[]string{"demo", "-preset", "smoke", "-model", "mobilenetv2", "-data", "synthetic", "-epochs", "2", "-batch", "32"},
			[]string{"model: FP mobilenetv2 at width 0.125; table ptq-mobilenetv2's FP recipe at preset smoke: 2 epochs, batch 32",
				"epoch 2/2", "test accuracy"}},
	} {
		out := captureStdout(t, func() error { return run(tc.args) })
		for _, want := range tc.want {
			if !strings.Contains(out, want) {
				t.Errorf("%q: output lacks %q:\n%s", tc.args, want, out)
			}
		}
	}
}

// captureStdout returns what fn prints on standard output; fn must succeed.
func captureStdout(t *testing.T, fn func() error) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	err = fn()
	os.Stdout = saved
	_ = w.Close()
	out := <-done
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// TestCommandHelp: "mlsysrep <command> -h" prints that command's synopsis,
// examples and flags on standard output and ends without an error (exit
// status 0), for every command.
func TestCommandHelp(t *testing.T) {
	for cmd, flagName := range map[string]string{"run": "-fp-checkpoint", "results": "-preset", "demo": "-epochs", "backend": "-backend", "setup-xla": "-plugins", "export": "-cell", "slurm": "-tasks"} {
		var out strings.Builder
		helpOut = &out
		err := run([]string{cmd, "-h"})
		helpOut = os.Stdout
		if !errors.Is(err, errHelp) {
			t.Errorf("%s -h: err = %v, want errHelp", cmd, err)
		}
		text := out.String()
		for _, want := range []string{"usage: mlsysrep " + cmd, "examples:", "flags:", flagName} {
			if !strings.Contains(text, want) {
				t.Errorf("%s -h does not print %q:\n%s", cmd, want, text)
			}
		}
	}
}

// TestListFitsTerminal: "mlsysrep run -list" names every cell of every
// table in lines an 80-column terminal shows whole.
func TestListFitsTerminal(t *testing.T) {
	var out strings.Builder
	listTables(&out)
	text := out.String()
	for i, line := range strings.Split(text, "\n") {
		if len(line) > 80 {
			t.Errorf("line %d is %d characters: %q", i+1, len(line), line)
		}
	}
	for _, name := range recipe.TableNames() {
		tb, _ := recipe.Lookup(name)
		for _, c := range tb.Cells() {
			if !strings.Contains(text, " "+c.Name+"\n") && !strings.Contains(text, " "+c.Name+" ") {
				t.Errorf("cell %s of %s not listed", c.Name, name)
			}
		}
	}
}

// TestRunSummary: a run ends by naming each table's data copy and where the
// records are, and says how to get real data only when a table ran on
// synthetic images.
func TestRunSummary(t *testing.T) {
	pact, _ := recipe.Lookup("pact")
	lsq, _ := recipe.Lookup("lsq")
	real := &recipe.Result{Table: pact, Records: map[string]*report.Record{
		"a": {Data: "CIFAR-10 (JPEG q75 mirror)"}, "b": {Data: "CIFAR-10 (JPEG q75 mirror)"}}}
	fake := &recipe.Result{Table: lsq, Records: map[string]*report.Record{"c": {Data: "synthetic cifar10"}}}
	var out strings.Builder
	printRunSummary(&out, []*recipe.Result{real}, "results", "quick")
	text := out.String()
	for _, want := range []string{"records in results/quick", "pact", "CIFAR-10 (JPEG q75 mirror) (2 cells)"} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "-archives") {
		t.Errorf("real data only, yet the summary tells how to get it:\n%s", text)
	}
	out.Reset()
	printRunSummary(&out, []*recipe.Result{real, fake}, "results", "smoke")
	if text := out.String(); !strings.Contains(text, "synthetic cifar10 (1 cell)") || !strings.Contains(text, "MLSYSREP_ARCHIVES") {
		t.Errorf("synthetic table, yet no hint:\n%s", text)
	}
}
