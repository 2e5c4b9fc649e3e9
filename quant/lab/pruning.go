package lab

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mlsysrep/mlsysrep/pkg/notebook"
	"github.com/mlsysrep/mlsysrep/pkg/plot"
	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/quant/recipe"
)

// The pruning notebook's charts, drawn from the pruning table's records
// alone (their "pruned" blocks), so that they show with MLSYSREP_NO_TRAIN=1
// from the committed records as well as after a run.

// prunedOf returns the complete records of a network's pruning cells of
// one method (and no quantization), by target, smallest first.
func prunedOf(res *recipe.Result, m recipe.Model, method recipe.PruneMethod) []*report.Record {
	var out []*report.Record
	for name, r := range res.Records {
		c, err := recipe.NewCell(name)
		if err != nil || c.Model != m || c.Prune.Method != method || c.Quant.Method != "fp" || !r.Complete || r.Pruned == nil {
			continue
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *report.Record) int {
		switch {
		case a.Pruned.Target < b.Pruned.Target:
			return -1
		case a.Pruned.Target > b.Pruned.Target:
			return 1
		}
		return 0
	})
	return out
}

var networkNames = map[recipe.Model]string{recipe.ResNet18: "ResNet-18", recipe.MobileNetV2: "MobileNetV2"}

// SparsityCurve is test accuracy against the share of conv and dense
// weights removed: per network, unstructured pruning after fine-tuning and
// right after pruning (dashed), filter pruning after fine-tuning, and the
// dense control at 0.
func SparsityCurve(res *recipe.Result) plot.Chart {
	ch := plot.Chart{Title: "Accuracy against the weights removed", XLabel: "conv and dense weights removed (%)", YLabel: "test accuracy (%)",
		XMin: 0, XMax: 100}
	for _, m := range []recipe.Model{recipe.ResNet18, recipe.MobileNetV2} {
		dense := prunedOf(res, m, recipe.Dense)
		var denseX, denseY []float64
		if len(dense) > 0 {
			denseX, denseY = []float64{0}, []float64{dense[0].Final}
		}
		for _, method := range []recipe.PruneMethod{recipe.Unstructured, recipe.Filters} {
			rs := prunedOf(res, m, method)
			if len(rs) == 0 {
				continue
			}
			tuned := plot.Series{Name: fmt.Sprintf("%s, %s, fine-tuned", networkNames[m], method), Points: true,
				X: slices.Clone(denseX), Y: slices.Clone(denseY)}
			before := plot.Series{Name: fmt.Sprintf("%s, %s, before fine-tuning", networkNames[m], method), Points: true, Dashed: true}
			for _, r := range rs {
				removed := 100 * (1 - float64(r.Pruned.NonzeroWeights)/float64(max(dense0Weights(dense, r), 1)))
				tuned.X, tuned.Y = append(tuned.X, removed), append(tuned.Y, r.Final)
				if r.Pruned.PrunedAccuracy != nil {
					before.X, before.Y = append(before.X, removed), append(before.Y, *r.Pruned.PrunedAccuracy)
				}
			}
			ch.Series = append(ch.Series, tuned)
			if len(before.X) > 0 {
				ch.Series = append(ch.Series, before)
			}
		}
	}
	return ch
}

// dense0Weights is the dense network's conv and dense weights: the dense
// control's, else the cell's own count (an unstructured cell keeps the
// dense shape).
func dense0Weights(dense []*report.Record, r *report.Record) int {
	if len(dense) > 0 {
		return dense[0].Pruned.Weights
	}
	return r.Pruned.Weights
}

// MagnitudeHistogram is a pruned cell's masked-weight magnitudes: the FP
// model's, and those left after fine-tuning, with the pruning threshold.
func MagnitudeHistogram(res *recipe.Result, cell string) (plot.Chart, error) {
	r := res.Records[cell]
	if r == nil || r.Pruned == nil || r.Pruned.Magnitudes == nil {
		return plot.Chart{}, fmt.Errorf("cell %s has no record with weight magnitudes (an unstructured pruning cell, run to the end)", cell)
	}
	m := r.Pruned.Magnitudes
	counts := func(c []int) []float64 {
		out := make([]float64, len(c))
		for i, v := range c {
			out[i] = float64(v)
		}
		return out
	}
	return plot.Chart{Title: fmt.Sprintf("%s: |w| of the masked weights", cell), XLabel: "|w|", YLabel: "weights", LogY: true,
		Bars: []plot.Bars{
			{Name: "FP model (before pruning)", Edges: m.Edges, Counts: counts(m.Dense)},
			{Name: "unpruned, after fine-tuning", Edges: m.Edges, Counts: counts(m.Kept)},
		},
		VLines: []float64{m.Threshold}, VLineLabel: fmt.Sprintf("threshold %.3g", m.Threshold)}, nil
}

// LayerSparsity is the sparsity one global threshold chose for each masked
// layer of a pruned cell, in network order.
func LayerSparsity(res *recipe.Result, cell string) (plot.Chart, error) {
	r := res.Records[cell]
	if r == nil || r.Pruned == nil || len(r.Pruned.Layers) == 0 {
		return plot.Chart{}, fmt.Errorf("cell %s has no record with per-layer counts (an unstructured pruning cell, run to the end)", cell)
	}
	s := plot.Series{Name: cell, Points: true}
	for i, l := range r.Pruned.Layers {
		s.X, s.Y = append(s.X, float64(i+1)), append(s.Y, 100*float64(l.Zero)/float64(max(l.Weights, 1)))
	}
	overall := plot.Series{Name: fmt.Sprintf("whole network %.1f%%", 100*r.Pruned.Sparsity), Dashed: true,
		X: []float64{1, float64(len(r.Pruned.Layers))}, Y: []float64{100 * r.Pruned.Sparsity, 100 * r.Pruned.Sparsity}}
	first, last := shortScope(r.Pruned.Layers[0].Scope), shortScope(r.Pruned.Layers[len(r.Pruned.Layers)-1].Scope)
	return plot.Chart{Title: cell + ": sparsity per masked layer",
		XLabel: fmt.Sprintf("masked layer, in network order (%s ... %s)", first, last), YLabel: "pruned (%)", YMin: 0, YMax: 100,
		Series: []plot.Series{s, overall}}, nil
}

// shortScope drops the leading "/" of a scope path.
func shortScope(s string) string { return strings.TrimPrefix(s, "/") }

// ShowPruningCharts displays the accuracy curve, then for each network the
// magnitude histogram and the per-layer sparsity of its cell at sparsity
// percent (e.g. 90), skipping what has no record yet (and saying so).
func ShowPruningCharts(res *recipe.Result, percent int) {
	charts := []plot.Chart{SparsityCurve(res)}
	for _, m := range []recipe.Model{recipe.ResNet18, recipe.MobileNetV2} {
		cell := fmt.Sprintf("%s/prune:u%d", m, percent)
		for _, f := range []func(*recipe.Result, string) (plot.Chart, error){MagnitudeHistogram, LayerSparsity} {
			ch, err := f(res, cell)
			if err != nil {
				fmt.Println(err)
				continue
			}
			charts = append(charts, ch)
		}
	}
	notebook.ShowCharts(charts...)
}
