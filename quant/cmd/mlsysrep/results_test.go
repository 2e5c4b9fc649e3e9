package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsysrep/mlsysrep/pkg/report"
)

// TestCommittedLedgerIsRegenerated checks that RESULTS.md is exactly what
// `mlsysrep results` renders from the committed records, so the two cannot
// drift apart.
func TestCommittedLedgerIsRegenerated(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	want, err := os.ReadFile(filepath.Join(root, "RESULTS.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "RESULTS.md")
	wd, _ := os.Getwd()
	if err := os.Chdir(root); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	if err := run([]string{"results", "-preset", "quick", "-in", "results", "-o", out}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if string(got) != string(want) {
		t.Errorf("RESULTS.md is stale: run `%s` and commit it", ledgerCommand)
	}
}

func TestResultsCommand(t *testing.T) {
	dir := t.TempDir()
	r := &report.Record{Table: "pact", Cell: "resnet18/pact:w4a4", Preset: "quick", Final: 90, Complete: true,
		Data: "d", Backend: "b", Seed: 1, Commit: "c", WallSeconds: 4000}
	r.SetReference("94.16")
	if err := r.Save(dir); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "R.md")
	if err := run([]string{"results", "-in", dir, "-o", out, "-tables", "pact"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	for _, want := range []string{"| 4 | 90.00 (94.16, -4.16) | - (89.89) |", "Cells run: 1 of 10; wall time 1 h 07 min",
		"Not run yet (9): resnet18/pact:w2a2"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("ledger lacks %q:\n%s", want, b)
		}
	}
	if err := run([]string{"results", "-in", filepath.Join(dir, "none")}); err == nil || !strings.Contains(err.Error(), "no records") {
		t.Errorf("missing records: %v", err)
	}
	if err := run([]string{"results", "-in", dir, "-tables", "nope"}); err == nil {
		t.Error("unknown table accepted")
	}
}
