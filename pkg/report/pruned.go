package report

import (
	"fmt"
	"math"
	"strings"
)

// Pruned is a pruning table cell's measurements beside its accuracy: how
// sparse and how small its network came out, how fast it runs, and the
// accuracy of the dense model it was pruned from.
type Pruned struct {
	Method string  `json:"method"` // "dense", "unstructured" or "filters"
	Target float64 `json:"target"` // fraction: of the masked weights (unstructured), of each block's inner filters (filters)
	// Sparsity is the fraction of the masked weights that are zero.
	Sparsity float64 `json:"sparsity"`
	// Weights and NonzeroWeights count the conv, depthwise and dense
	// weights; Params is every trainable parameter (BN included).
	Weights        int `json:"weights"`
	NonzeroWeights int `json:"nonzero_weights"`
	Params         int `json:"params"`
	// MACs are the multiply-adds per image; LiveMACs those whose weight is
	// not pruned (what a sparse kernel could do; a dense engine does MACs).
	MACs     float64 `json:"macs"`
	LiveMACs float64 `json:"live_macs"`
	// DenseAccuracy is the test accuracy (%) of the FP model the cell was
	// pruned from, measured on the same test images.
	DenseAccuracy float64 `json:"dense_accuracy"`
	// PrunedAccuracy is the test accuracy (%) right after pruning, before
	// any fine-tuning (nil where pruning is spread over training).
	PrunedAccuracy *float64 `json:"pruned_accuracy,omitempty"`
	// InferImagesPerS is measured inference over test images (batches of
	// the evaluation, input pipeline included) on the record's backend.
	InferImagesPerS float64 `json:"inference_images_per_second"`
	// Layers is every masked layer's count (unstructured cells): the
	// sparsity one global threshold chose for each.
	Layers []PrunedLayer `json:"layers,omitempty"`
	// Magnitudes are the masked weights' magnitudes before and after
	// (unstructured cells).
	Magnitudes *Magnitudes `json:"magnitudes,omitempty"`
}

// PrunedLayer is one masked layer's weights and how many are pruned.
type PrunedLayer struct {
	Scope   string `json:"scope"`
	Weights int    `json:"weights"`
	Zero    int    `json:"zero"`
}

// Magnitudes is a histogram of the masked weights' magnitudes |w|: in the
// FP model the cell was pruned from, and after fine-tuning for the weights
// left unpruned, over the same bins, with the pruning threshold.
type Magnitudes struct {
	// Threshold is the largest FP magnitude among the pruned weights: a
	// one-shot pruning's global threshold.
	Threshold float64   `json:"threshold"`
	Edges     []float64 `json:"edges"` // bin i is [Edges[i], Edges[i+1]); the last bin takes larger values too
	Dense     []int     `json:"dense"`
	Kept      []int     `json:"kept"`
}

// validate reports a block that cannot be rendered or compared.
func (p *Pruned) validate() error {
	for _, v := range []float64{p.Target, p.Sparsity, p.MACs, p.LiveMACs, p.DenseAccuracy, p.InferImagesPerS} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("a non-finite number in the pruning block (%v)", v)
		}
	}
	if p.PrunedAccuracy != nil && (math.IsNaN(*p.PrunedAccuracy) || math.IsInf(*p.PrunedAccuracy, 0)) {
		return fmt.Errorf("a non-finite accuracy after pruning (%v)", *p.PrunedAccuracy)
	}
	for _, l := range p.Layers {
		if l.Weights < 0 || l.Zero < 0 || l.Zero > l.Weights {
			return fmt.Errorf("layer %s: %d of %d weights pruned", l.Scope, l.Zero, l.Weights)
		}
	}
	if m := p.Magnitudes; m != nil {
		if len(m.Edges) < 2 || len(m.Dense) != len(m.Edges)-1 || len(m.Kept) != len(m.Dense) {
			return fmt.Errorf("magnitude histogram of %d edges, %d and %d counts", len(m.Edges), len(m.Dense), len(m.Kept))
		}
		for _, v := range append([]float64{m.Threshold}, m.Edges...) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("a non-finite number in the magnitude histogram (%v)", v)
			}
		}
	}
	switch {
	case p.Method != "dense" && p.Method != "unstructured" && p.Method != "filters":
		return fmt.Errorf("pruning method %q (dense, unstructured or filters)", p.Method)
	case !(p.Target >= 0 && p.Target < 1) || !(p.Sparsity >= 0 && p.Sparsity <= 1):
		return fmt.Errorf("pruning target %v or sparsity %v outside [0, 1)", p.Target, p.Sparsity)
	case p.NonzeroWeights < 0 || p.NonzeroWeights > p.Weights || p.LiveMACs < 0 || p.LiveMACs > p.MACs:
		return fmt.Errorf("nonzero weights %d of %d, live MACs %v of %v", p.NonzeroWeights, p.Weights, p.LiveMACs, p.MACs)
	}
	return nil
}

// prunedMarkdown is the table of the pruning measurements of the layouts'
// cells that have them, in layout order: "" when none has.
func prunedMarkdown(layouts []*Layout, records map[string]*Record) string {
	rows := prunedRows(layouts, records)
	if len(rows) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n" + prunedCaption + "\n\n")
	b.WriteString("| " + strings.Join(prunedHeader, " | ") + " |\n")
	b.WriteString(strings.Repeat("|---", len(prunedHeader)) + "|\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(prunedCells(r), " | ") + " |\n")
	}
	return b.String()
}

// prunedHTML is prunedMarkdown for a notebook.
func prunedHTML(layouts []*Layout, records map[string]*Record) string {
	rows := prunedRows(layouts, records)
	if len(rows) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(`<p style="font-family:sans-serif;font-size:13px">` + esc(prunedCaption) + `</p>`)
	b.WriteString(`<table style="font-family:sans-serif;font-size:13px;border-collapse:collapse"><tr>`)
	for _, h := range prunedHeader {
		b.WriteString(`<th style="border:1px solid #ccc;padding:3px 6px">` + esc(h) + `</th>`)
	}
	b.WriteString(`</tr>`)
	for _, r := range rows {
		b.WriteString(`<tr>`)
		for _, c := range prunedCells(r) {
			b.WriteString(`<td style="border:1px solid #ccc;padding:3px 6px;text-align:right">` + esc(c) + `</td>`)
		}
		b.WriteString(`</tr>`)
	}
	b.WriteString(`</table>`)
	return b.String()
}

const prunedCaption = "Pruning, per cell: test accuracy and its change from the dense FP model it was pruned from; " +
	"accuracy right after pruning, before fine-tuning; sparsity of the masked weights; conv and dense weights " +
	"left; multiply-adds per image (live: those of unpruned weights); measured images/s of inference and of training."

var prunedHeader = []string{"cell", "accuracy (change)", "after pruning", "sparsity", "weights left", "MACs (live)",
	"inference images/s", "training images/s"}

// prunedCells is one record's row of the pruning table.
func prunedCells(r *Record) []string {
	p := r.Pruned
	after := "-"
	if p.PrunedAccuracy != nil {
		after = fmt.Sprintf("%.2f", *p.PrunedAccuracy)
	}
	training := fmt.Sprintf("%.0f", r.ImagesPerS)
	if r.Recipe.Calibration > 0 { // PTQ: its images/s are calibration's and evaluation's
		training = "- (PTQ)"
	}
	return []string{r.Cell, fmt.Sprintf("%.2f (%+.2f)", r.Final, r.Final-p.DenseAccuracy), after,
		fmt.Sprintf("%.1f%%", 100*p.Sparsity), count(float64(p.NonzeroWeights)) + " of " + count(float64(p.Weights)),
		count(p.MACs) + " (" + count(p.LiveMACs) + ")", fmt.Sprintf("%.0f", p.InferImagesPerS), training}
}

// prunedRows are the complete records with a pruning block, in layout
// order.
func prunedRows(layouts []*Layout, records map[string]*Record) []*Record {
	var out []*Record
	for _, l := range layouts {
		if l == nil {
			continue
		}
		for _, row := range l.Cells {
			for _, name := range row {
				if r := records[name]; r != nil && r.Complete && r.Pruned != nil {
					out = append(out, r)
				}
			}
		}
	}
	return out
}

// count writes a count with a k/M suffix (three significant digits).
func count(n float64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.3gM", n/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.3gk", n/1e3)
	}
	return fmt.Sprintf("%.0f", n)
}
