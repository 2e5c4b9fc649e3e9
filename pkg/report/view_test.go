package report

import (
	"html"
	"strings"
	"testing"
)

// TestTableViewOneModelTwoRenderings: the Markdown the runner and RESULTS.md
// print and the HTML the notebooks show carry the same facts (each reading
// sentence, the FP models, the extra rows, the cost), so that the three
// places cannot drift apart.
func TestTableViewOneModelTwoRenderings(t *testing.T) {
	l := Layout{Title: "T", Corner: "bits", Rows: []string{"2", "4"}, Columns: []string{"A"},
		Cells: [][]string{{"a2"}, {"a4"}}, Reference: [][]string{{"80.00"}, {"90.00"}}}
	extra := Layout{Title: "T extra", Corner: "bits", Rows: []string{"4"}, Columns: []string{"A/mse"},
		Cells: [][]string{{"a4/mse"}}, Reference: [][]string{{""}}}
	rec := func(cell string, final float64) *Record {
		return &Record{Cell: cell, Final: final, Complete: true, Data: "d", Preset: "quick", Backend: "b", Seed: 1,
			Commit: "abc", WallSeconds: 90, EpochsRun: 2, ImagesPerS: 12.5, ModelSize: "width 0.25",
			Curve: []Epoch{{Epoch: 1, Images: 100, Seconds: 4}, {Epoch: 2, Images: 100, Seconds: 4}}}
	}
	records := map[string]*Record{"a2": rec("a2", 40), "a4": rec("a4", 61), "a4/mse": rec("a4/mse", 62), "resnet18/fp": rec("resnet18/fp", 70)}
	records["a2"].SetReference("80.00")
	records["a4"].SetReference("90.00")
	cost := NewCost([]string{"a2", "a4", "a4/mse", "b2"}, records)
	v := TableView{Layout: l, Extra: &extra, Records: records, FPModels: []*Record{records["resnet18/fp"]}, Cost: &cost}
	md, h := v.Markdown(), v.HTML()
	facts := append(l.Reading(records), extra.Reading(records)...)
	if len(facts) < 2 {
		t.Fatalf("readings %q: want sentences from both layouts", facts)
	}
	facts = append(facts, "70.00% test accuracy after 2 epochs", "resnet18/fp", "T extra", "62.00")
	for _, f := range facts {
		if !strings.Contains(md, f) {
			t.Errorf("Markdown lacks %q:\n%s", f, md)
		}
		if !strings.Contains(h, html.EscapeString(f)) {
			t.Errorf("HTML lacks %q", f)
		}
	}
	for _, want := range []string{"- Cells run: 3 of 4; wall time 6 min; training 25.0 images/s.", "- Not run yet (1): b2."} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	for _, want := range []string{"Cells with a record: 3 of 4; wall time 6 min; training 25.0 images/s.",
		"Backend: b; data: d; seed: 1; commit: abc.", "Not run yet (1): b2."} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML lacks %q:\n%s", want, h)
		}
	}
	v.Cost, v.Extra, v.FPModels = nil, nil, nil
	if md := v.Markdown(); strings.Contains(md, "Cells run") || strings.Contains(md, "T extra") || strings.Contains(md, "FP model") {
		t.Errorf("parts not in the view were rendered:\n%s", md)
	}
}
