package main

import (
	"os"
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
			if (c.Observer != "" || c.PerChannel) && c.Quant.WBits != 4 {
				continue // the smoke preset runs the PTQ variants at 4-bit weights only
			}
			r, err := report.Load(out, name, "smoke", c.Name)
			if err != nil {
				t.Errorf("%s %s: %v", name, c.Name, err)
				continue
			}
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
		path := report.FileName(out, tc[0], "smoke", tc[1])
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
	for _, args := range [][]string{
		{"run"},
		{"run", "-table", "int8"},
		{"run", "-table", "pact", "-preset", "huge"},
		{"run", "-table", "all", "-cells", "resnet18/pact:w4a4"},
		{"run", "-table", "pact", "-cells", "resnet18/pact:w7a7", "-out", "/nonexistent/never"},
	} {
		if err := run(args); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
