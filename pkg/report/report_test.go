package report

import (
	"math"
	"strings"
	"testing"
)

func TestRecordRoundTripAndReference(t *testing.T) {
	dir := t.TempDir()
	r := &Record{Table: "pact", Cell: "resnet18/pact:w4a4", Preset: "smoke", Final: 90.5, Complete: true,
		Data: "synthetic cifar10", Backend: "purego", Seed: 3}
	r.SetReference("94.16")
	if r.Difference == nil || math.Abs(*r.Difference-(90.5-94.16)) > 1e-9 {
		t.Fatalf("difference %v", r.Difference)
	}
	if err := r.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir, "pact", "smoke", "resnet18/pact:w4a4")
	if err != nil || got.Final != 90.5 || *got.Reference != 94.16 {
		t.Fatalf("%+v %v", got, err)
	}
	nc := &Record{Final: 12}
	nc.SetReference("not converged")
	if nc.Reference != nil || nc.RefText != "not converged" {
		t.Errorf("not converged: %+v", nc)
	}
}

func TestMarkdown(t *testing.T) {
	l := Layout{Title: "T", Corner: "bits", Columns: []string{"A", "B"}, Rows: []string{"2"},
		Cells: [][]string{{"a", "b"}}, Reference: [][]string{{"50.00", "not converged"}}}
	a := &Record{Final: 52.25, Complete: true, Data: "d", Preset: "quick", Backend: "purego", Seed: 1}
	a.SetReference("50.00")
	b := &Record{Final: 11, Complete: true, Data: "d", Preset: "quick", Backend: "purego", Seed: 1}
	b.SetReference("not converged")
	md := l.Markdown(map[string]*Record{"a": a, "b": b})
	for _, want := range []string{"| bits | A | B |", "| 2 | 52.25 (50.00, +2.25) | 11.00 (not converged) |", "d, preset quick, purego, seed 1"} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in\n%s", want, md)
		}
	}
	if md2 := l.Markdown(nil); !strings.Contains(md2, "- (50.00)") {
		t.Errorf("missing cells not shown as '-':\n%s", md2)
	}
}
