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

// TestPrunedTable: the pruning block renders as one row per cell in layout
// order (training images/s left out for PTQ), in both renderings, and a
// record whose block does not add up is corrupt.
func TestPrunedTable(t *testing.T) {
	after := 30.0
	u70 := &Record{Table: "pruning", Cell: "resnet18/prune:u70", Preset: "quick", Final: 60, ImagesPerS: 200, Complete: true,
		Pruned: &Pruned{Method: "unstructured", Target: 0.7, Sparsity: 0.7, Weights: 10000, NonzeroWeights: 3000, Params: 10500,
			MACs: 1.5e6, LiveMACs: 5e5, DenseAccuracy: 65, PrunedAccuracy: &after, InferImagesPerS: 1000}}
	ptq := &Record{Table: "pruning", Cell: "resnet18/prune:u70+ptq:w4a4", Preset: "quick", Final: 55.5, ImagesPerS: 900, Complete: true,
		Recipe: Recipe{Calibration: 2000}, Pruned: &Pruned{Method: "unstructured", Target: 0.7, Sparsity: 0.7, Weights: 10000,
			NonzeroWeights: 3000, MACs: 1.5e6, LiveMACs: 5e5, DenseAccuracy: 65, InferImagesPerS: 800}}
	l := Layout{Rows: []string{"u70", "u70+ptq"}, Columns: []string{"ResNet-18"}, Cells: [][]string{{u70.Cell}, {ptq.Cell}}}
	records := map[string]*Record{u70.Cell: u70, ptq.Cell: ptq}
	md := prunedMarkdown([]*Layout{&l, nil}, records)
	for _, want := range []string{
		"| resnet18/prune:u70 | 60.00 (-5.00) | 30.00 | 70.0% | 3k of 10k | 1.5M (500k) | 1000 | 200 |\n" +
			"| resnet18/prune:u70+ptq:w4a4 | 55.50 (-9.50) | - | 70.0% | 3k of 10k | 1.5M (500k) | 800 | - (PTQ) |\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("pruning table:\n%s\nwant the rows\n%s", md, want)
		}
	}
	if h := prunedHTML([]*Layout{&l}, records); !strings.Contains(h, ">3k of 10k<") || !strings.Contains(h, ">- (PTQ)<") {
		t.Errorf("HTML pruning table: %s", h)
	}
	if prunedMarkdown([]*Layout{&l}, map[string]*Record{}) != "" {
		t.Error("a table without pruning blocks renders a pruning section")
	}
	for _, bad := range []Pruned{
		{Method: "magic"},
		{Method: "unstructured", Target: 1},
		{Method: "unstructured", Weights: 10, NonzeroWeights: 11},
		{Method: "filters", MACs: 1, LiveMACs: 2},
	} {
		r := *u70
		r.Pruned = &bad
		if err := r.validate(); err == nil {
			t.Errorf("pruning block %+v accepted", bad)
		}
	}
}
