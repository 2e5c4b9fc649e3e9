package lab

import (
	"strings"
	"testing"

	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/quant/recipe"
)

// TestPruningCharts: the charts read the records' pruning blocks: a cell
// sits at the share of the dense network's weights it removed, its
// accuracy after fine-tuning (and, dashed, before); the histogram draws the
// record's bins and threshold; the per-layer chart each layer's sparsity.
func TestPruningCharts(t *testing.T) {
	before := 20.0
	rec := func(cell string, final float64, p report.Pruned) *report.Record {
		return &report.Record{Cell: cell, Final: final, Complete: true, Pruned: &p}
	}
	t1, err := recipe.Lookup("pruning")
	if err != nil {
		t.Fatal(err)
	}
	res := &recipe.Result{Table: t1, Records: map[string]*report.Record{
		"resnet18/prune:dense": rec("resnet18/prune:dense", 70, report.Pruned{Method: "dense", Weights: 1000, NonzeroWeights: 1000}),
		"resnet18/prune:u90": rec("resnet18/prune:u90", 60, report.Pruned{Method: "unstructured", Target: 0.9, Sparsity: 0.9, Weights: 1000,
			NonzeroWeights: 150, PrunedAccuracy: &before,
			Layers:     []report.PrunedLayer{{Scope: "/a", Weights: 400, Zero: 300}, {Scope: "/b", Weights: 600, Zero: 550}},
			Magnitudes: &report.Magnitudes{Threshold: 0.1, Edges: []float64{0, 0.1, 0.2}, Dense: []int{850, 150}, Kept: []int{10, 140}}}),
		"resnet18/prune:f50": rec("resnet18/prune:f50", 65, report.Pruned{Method: "filters", Target: 0.5, Weights: 600, NonzeroWeights: 600}),
		// Quantized rows are not points of the curve.
		"resnet18/prune:u90+ptq:w4a4": rec("resnet18/prune:u90+ptq:w4a4", 5, report.Pruned{Method: "unstructured", Target: 0.9, Weights: 1000, NonzeroWeights: 150}),
	}}
	series := map[string][2][]float64{}
	for _, s := range SparsityCurve(res).Series {
		series[s.Name] = [2][]float64{s.X, s.Y}
	}
	for name, want := range map[string][2][]float64{
		"ResNet-18, unstructured, fine-tuned":         {{0, 85}, {70, 60}},
		"ResNet-18, unstructured, before fine-tuning": {{85}, {20}},
		"ResNet-18, filters, fine-tuned":              {{0, 40}, {70, 65}},
	} {
		got, ok := series[name]
		if !ok || !near(got[0], want[0]) || !near(got[1], want[1]) {
			t.Errorf("series %q = %v, want %v (all: %v)", name, got, want, series)
		}
	}
	h, err := MagnitudeHistogram(res, "resnet18/prune:u90")
	if err != nil || len(h.Bars) != 2 || h.Bars[0].Counts[0] != 850 || h.Bars[1].Counts[1] != 140 || h.VLines[0] != 0.1 {
		t.Errorf("histogram %+v, %v", h, err)
	}
	l, err := LayerSparsity(res, "resnet18/prune:u90")
	if err != nil || !near(l.Series[0].Y, []float64{75, 100 * 550.0 / 600}) || !strings.Contains(l.Series[1].Name, "90.0%") {
		t.Errorf("per-layer sparsity %+v, %v", l.Series, err)
	}
	if _, err := MagnitudeHistogram(res, "resnet18/prune:f50"); err == nil {
		t.Error("a filter cell has no magnitudes, and no error said so")
	}
}

func near(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if d := a[i] - b[i]; d > 1e-9 || d < -1e-9 {
			return false
		}
	}
	return true
}
