package prune

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
)

// Count reads the store's masks as they are (Update's Stats, without
// changing anything).
func Count(store *model.Store) (Stats, error) {
	layers, err := Layers(store)
	if err != nil {
		return nil, err
	}
	st := make(Stats, len(layers))
	for i, l := range layers {
		m, err := floats(l.Mask)
		if err != nil {
			return nil, err
		}
		zero := 0
		for _, k := range m {
			if k == 0 {
				zero++
			}
		}
		st[i] = LayerStats{Scope: l.Scope, Weights: len(m), Zero: zero, Variable: l.Weights, Mask: m}
	}
	return st, nil
}

// AccountRow is one layer of a model summary with its pruning: parameters
// and multiply-adds per example, dense and left after pruning (an
// unstructured pruning's multiply-adds are counted as skipped: what a sparse
// kernel could save, not what a dense one does).
type AccountRow struct {
	Scope, Kind, Detail string
	Params, Nonzero     int
	MACs, LiveMACs      float64
	Sparsity            float64 // of the layer's masked weights (0: not pruned)
}

// Accounting is a pruned model's per-layer sparsity, parameters and FLOPs.
type Accounting struct {
	Rows []AccountRow
}

// Account joins a model summary (nn.Summary of the same network) with the
// masks' counts: every conv, depthwise conv and dense layer of the summary,
// with its sparsity where it is masked. A mask whose layer the summary does
// not list is an error (the summary is of another network).
func Account(s *nn.Summary, st Stats) (Accounting, error) {
	byScope := map[string]LayerStats{}
	for _, l := range st {
		byScope[l.Scope] = l
	}
	var a Accounting
	for _, r := range s.Rows {
		if r.Kind != "conv" && r.Kind != "dwconv" && r.Kind != "dense" {
			continue
		}
		row := AccountRow{Scope: r.Scope, Kind: r.Kind, Detail: r.Detail, Params: r.Params, Nonzero: r.Params,
			MACs: float64(r.MACs), LiveMACs: float64(r.MACs)}
		if l, ok := byScope[r.Scope]; ok {
			row.Sparsity = float64(l.Zero) / float64(max(l.Weights, 1))
			row.Nonzero -= l.Zero
			row.LiveMACs *= 1 - row.Sparsity
			delete(byScope, r.Scope)
		}
		a.Rows = append(a.Rows, row)
	}
	if len(byScope) > 0 {
		return a, fmt.Errorf("prune: the masks of %v have no layer in the summary (a summary of another network?)", slices.Sorted(maps.Keys(byScope)))
	}
	return a, nil
}

// Totals are the whole network's parameters and multiply-adds, dense and
// left after pruning.
func (a Accounting) Totals() (params, nonzero int, macs, liveMACs float64) {
	for _, r := range a.Rows {
		params, nonzero = params+r.Params, nonzero+r.Nonzero
		macs, liveMACs = macs+r.MACs, liveMACs+r.LiveMACs
	}
	return
}

// String is the per-layer table and the totals.
func (a Accounting) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-36s %-7s %-16s %9s %9s %8s %12s %12s\n", "layer", "kind", "detail", "params", "nonzero", "sparsity", "MACs", "live MACs")
	for _, r := range a.Rows {
		fmt.Fprintf(&b, "%-36s %-7s %-16s %9d %9d %7.2f%% %12.0f %12.0f\n", r.Scope, r.Kind, r.Detail, r.Params, r.Nonzero, 100*r.Sparsity, r.MACs, r.LiveMACs)
	}
	p, nz, m, lm := a.Totals()
	fmt.Fprintf(&b, "%-36s %-7s %-16s %9d %9d %7.2f%% %12.0f %12.0f\n", "total (layers)", "", "", p, nz, 100*(1-float64(nz)/float64(max(p, 1))), m, lm)
	return b.String()
}
