package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSlurmScripts: the array runs one -shard slurm task per unit into the
// shared folder with the resources asked for; the report job prints the
// table and renders the ledger; paths that need it are quoted.
func TestSlurmScripts(t *testing.T) {
	j := slurmJob{binary: "/opt/ml sys/mlsysrep", table: "pact", preset: "quick", out: "/shared/results", tasks: 3,
		partition: "gpu", gpus: "1", tim: "4:00:00"}
	a := j.arrayScript()
	for _, want := range []string{"#!/bin/bash\n", "#SBATCH --array=0-2\n", "#SBATCH --partition=gpu\n", "#SBATCH --gpus-per-task=1\n",
		"#SBATCH --time=4:00:00\n", "#SBATCH --output=/shared/results/slurm/%x-%A_%a.out\n",
		"exec '/opt/ml sys/mlsysrep' run -table pact -preset quick -shard slurm -out /shared/results\n"} {
		if !strings.Contains(a, want) {
			t.Errorf("array script lacks %q:\n%s", want, a)
		}
	}
	if strings.Contains(a, "cpus-per-task") {
		t.Errorf("array script sets a resource not asked for:\n%s", a)
	}
	r := j.reportScript()
	for _, want := range []string{"run -table pact -preset quick -report -out /shared/results\n",
		"results -preset quick -in /shared/results -o /shared/results/RESULTS-quick.md\n"} {
		if !strings.Contains(r, want) {
			t.Errorf("report script lacks %q:\n%s", want, r)
		}
	}
}

// TestSlurmCommand: the command writes both scripts into <out>/slurm (one
// task per unit by default, never more), refuses a go run binary, and with
// -submit and no sbatch says so.
func TestSlurmCommand(t *testing.T) {
	out := t.TempDir()
	if err := run([]string{"slurm", "-table", "pact", "-preset", "quick", "-out", out, "-tasks", "50", "-binary", "/usr/local/bin/mlsysrep"}); err != nil {
		t.Fatal(err)
	}
	a, err := os.ReadFile(filepath.Join(out, "slurm", "pact-quick-array.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(a), "#SBATCH --array=0-9\n") { // PACT's 10 cells at quick
		t.Errorf("array script:\n%s", a)
	}
	if _, err := os.Stat(filepath.Join(out, "slurm", "pact-quick-report.sh")); err != nil {
		t.Error(err)
	}
	// Under go test the binary is a temporary one, as under go run.
	if err := run([]string{"slurm", "-table", "pact", "-out", out}); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "go run binary") {
		t.Errorf("temporary binary: %v", err)
	}
	t.Setenv("PATH", t.TempDir()) // no sbatch
	err = run([]string{"slurm", "-table", "ptq-resnet18", "-out", out, "-binary", "/usr/local/bin/mlsysrep", "-submit"})
	if err == nil || !strings.Contains(err.Error(), "sbatch is not on PATH") {
		t.Errorf("-submit without sbatch: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "slurm", "ptq-resnet18-quick-array.sh")); !strings.Contains(string(b), "#SBATCH --array=0-0\n") {
		t.Errorf("a one-network PTQ table is one task:\n%s", b)
	}
	if err := run([]string{"slurm", "-table", "nope"}); !errors.Is(err, errUsage) {
		t.Errorf("unknown table: %v", err)
	}
}
