package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/quant/recipe"
)

// TestRunAllTablesSmoke runs the smoke preset of every table end to end
// (CIFAR on the offline copy when $MLSYSREP_ARCHIVES has it, else synthetic;
// SVHN synthetic) and checks every cell got a complete record; a second run
// reuses them.
func TestRunAllTablesSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("the smoke run of every table takes minutes; run without -short")
	}
	out := t.TempDir()
	start := time.Now()
	if err := run([]string{"run", "-table", "all", "-preset", "smoke", "-out", out}); err != nil {
		t.Fatal(err)
	}
	t.Logf("all tables, smoke preset: %s", time.Since(start).Round(time.Second))
	for _, name := range recipe.TableNames() {
		tb, _ := recipe.Lookup(name)
		for _, c := range tb.Cells() {
			if c.Variant() && c.Quant.WBits != 4 {
				continue // the smoke preset runs the PTQ variants at 4-bit weights only
			}
			all, err := report.Find(out, "smoke", name, c.Name)
			if err != nil || len(all) != 1 {
				t.Errorf("%s %s: %d records, %v", name, c.Name, len(all), err)
				continue
			}
			r := all[0]
			if !r.Complete || r.Backend == "" || r.Data == "" || r.Commit == "" || (tb.Reference(c.Name) != "" && r.RefText == "") {
				t.Errorf("%s %s: incomplete record %+v", name, c.Name, r)
			}
		}
	}
	// -report renders the saved records without running anything.
	if err := run([]string{"run", "-table", "all", "-preset", "smoke", "-out", out, "-report"}); err != nil {
		t.Fatal(err)
	}
	// Complete records are reused, not recomputed (QAT and PTQ cells).
	for _, tc := range [][2]string{{"pact", "resnet18/pact:w4a4"}, {"ptq-resnet18", "resnet18/ptq:w4a4"}} {
		all, err := report.Find(out, "smoke", tc[0], tc[1])
		if err != nil || len(all) != 1 {
			t.Fatalf("%s: %d records, %v", tc[1], len(all), err)
		}
		path := all[0].Key().RecordPath(out)
		before, _ := os.Stat(path)
		if err := run([]string{"run", "-table", tc[0], "-preset", "smoke", "-out", out, "-cells", tc[1]}); err != nil {
			t.Fatal(err)
		}
		if after, _ := os.Stat(path); !after.ModTime().Equal(before.ModTime()) {
			t.Errorf("the complete record of %s was recomputed", tc[1])
		}
	}
}

func TestRunErrorsTables(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args      []string
		want      string
		wantUsage bool
	}{
		{[]string{"run"}, "-table is required", true},
		{[]string{"run", "-table", "int8"}, "int8", true},
		{[]string{"run", "-table", "pact", "-preset", "huge"}, `unknown preset "huge"`, true},
		{[]string{"run", "-table", "all", "-cells", "resnet18/pact:w4a4"}, "-cells needs a single -table", true},
		// A typo in -cells is a usage error naming the nearest cell (it once
		// exited 1 with "run again to resume").
		{[]string{"run", "-table", "pact", "-cells", "resnet18/pact:w4a5"}, "did you mean resnet18/pact:w4a4?", true},
		{[]string{"run", "-table", "pact", "-cells", ""}, "names an empty cell", true}, // once ran the whole table
		{[]string{"run", "-table", "pact", "-cells", "resnet18/pact:w4a4,"}, "names an empty cell", true},
		{[]string{"run", "-table", "pact", "-data", "bogus"}, `unknown -data "bogus"`, true}, // once accepted
		{[]string{"run", "-table", "pact", "-shard", "3/2"}, "want I/N with 1 <= I <= N", true},
		{[]string{"run", "-table", "pact", "-shard", "slurm"}, "not in a Slurm job array", true},
		{[]string{"run", "-table", "pact", "-report", "-out", filepath.Join(t.TempDir(), "none")}, "no records of preset smoke", false},
		// An -out that cannot be written fails before any training.
		{[]string{"run", "-table", "pact", "-cells", "resnet18/pact:w4a4", "-data", "synthetic", "-out", filepath.Join(file, "sub")},
			"cannot write records and checkpoints", false},
	} {
		start := time.Now()
		err := run(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			continue
		}
		if errors.Is(err, errUsage) != tc.wantUsage {
			t.Errorf("run(%q): usage error = %v, want %v", tc.args, errors.Is(err, errUsage), tc.wantUsage)
		}
		if strings.Contains(err.Error(), "run again to resume") {
			t.Errorf("run(%q): %v: tells the user to resume what cannot be resumed", tc.args, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("run(%q) took %s to fail: it ran something first", tc.args, d)
		}
	}
}

func TestNearest(t *testing.T) {
	cells := []string{"resnet18/pact:w2a2", "resnet18/pact:w4a4", "mobilenetv2/pact:w4a4"}
	for in, want := range map[string]string{"resnet18/pact:w4a5": "resnet18/pact:w4a4", "mobilenet/pact:w4a4": "mobilenetv2/pact:w4a4", "w2a2": "resnet18/pact:w2a2"} {
		if got := nearest(in, cells); got != want {
			t.Errorf("nearest(%q) = %q, want %q", in, got, want)
		}
	}
	if d := editDistance("kitten", "sitting"); d != 3 {
		t.Errorf("editDistance(kitten, sitting) = %d, want 3", d)
	}
}

// TestParseShard: -shard's forms, and a Slurm array's environment (an array
// numbered from 0 or from another first index).
func TestParseShard(t *testing.T) {
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	none := env(nil)
	for _, tc := range []struct {
		value   string
		getenv  func(string) string
		want    shardSpec
		wantErr string
	}{
		{"", none, shardSpec{}, ""},
		{"1/1", none, shardSpec{1, 1}, ""},
		{"2/3", none, shardSpec{2, 3}, ""},
		{"0/3", none, shardSpec{}, "want I/N"},
		{"2/3x", none, shardSpec{}, "want I/N"},
		{"two", none, shardSpec{}, "want I/N"},
		{"slurm", env(map[string]string{"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "3"}), shardSpec{1, 3}, ""},
		{"slurm", env(map[string]string{"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_COUNT": "3"}), shardSpec{3, 3}, ""},
		{"slurm", env(map[string]string{"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "3"}), shardSpec{}, "is not slice 1..N"},
		{"slurm", none, shardSpec{}, "not in a Slurm job array"},
	} {
		got, err := parseShard(tc.value, tc.getenv)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseShard(%q) = %v, %v; want an error containing %q", tc.value, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseShard(%q) = %v, %v; want %v", tc.value, got, err, tc.want)
		}
	}
}

// TestRunShard: a task runs only its slice of the selected cells, into the
// shared -out.
func TestRunShard(t *testing.T) {
	out := t.TempDir()
	cells := "resnet18/pact:w2a2,resnet18/pact:w4a4"
	if err := run([]string{"run", "-table", "pact", "-preset", "smoke", "-data", "synthetic", "-out", out, "-cells", cells, "-shard", "2/2"}); err != nil {
		t.Fatal(err)
	}
	for cell, want := range map[string]int{"resnet18/pact:w2a2": 0, "resnet18/pact:w4a4": 1} {
		if all, err := report.Find(out, "smoke", "pact", cell); err != nil || len(all) != want {
			t.Errorf("%s: %d records (%v), want %d", cell, len(all), err, want)
		}
	}
}
