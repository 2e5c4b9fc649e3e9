// Package pruning holds the pruning recipes: table "pruning", which goes on
// where the reference stopped ("Pruning: to be continued"). Each network's
// FP model (the PTQ tables', trained by their recipe) is pruned, by one
// global magnitude threshold over its masked weights, every conv but the
// stem and the classifier (unstructured: 50, 70, 90 and 95%), or by
// removing the lowest-L1 filters inside every block (Li et al. 2017: 25,
// 50 and 75%), and fine-tuned; a dense row fine-tuned
// alike is the control. Extra rows quantize the 70%-sparse and the
// 50%-filter models afterwards, Deep Compression's order: PTQ W4A4 and
// W6A6, and LSQ W4A4 fine-tuned from the pruned weights (LSQ, like PTQ's
// symmetric grid, keeps a zero weight zero; DoReFa's weight quantizer,
// which PACT uses too, does not).
//
// Recipes (PROTOCOL style): SGD, momentum 0.9 (restarted), weight decay
// 5e-4, batch 128, cosine from 0.01.
//   - quick: one-shot pruning, 5 epochs of fine-tuning on the quick data
//     (first 10,000 training images, the whole test split), from the quick
//     FP models (ResNet-18 width 0.25, MobileNetV2 width 0.5).
//   - paper: 30 epochs on the whole training split from the paper FP
//     models; unstructured sparsity ramps up over the first 20 epochs with
//     Zhu & Gupta's cubic schedule, masks updated every 100 steps; filters
//     are removed once, before fine-tuning.
//   - smoke: one epoch on 256 images, one-shot.
//
// PTQ rows calibrate on the PTQ table's calibration images (2,000 quick,
// 10,000 paper); LSQ rows fine-tune as the pruned rows do.
package pruning

import (
	"github.com/mlsysrep/mlsysrep/pkg/quant"
	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/quant/recipe"
)

// Rows are the pruning table's rows: the cell config after "prune:" and
// the row's title.
var Rows = [][2]string{
	{"dense", "dense (fine-tuned alike)"},
	{"u50", "unstructured 50%"},
	{"u70", "unstructured 70%"},
	{"u90", "unstructured 90%"},
	{"u95", "unstructured 95%"},
	{"f25", "filters 25%"},
	{"f50", "filters 50%"},
	{"f75", "filters 75%"},
}

// QuantRows are the pruning + quantization rows.
var QuantRows = [][2]string{
	{"u70+ptq:w4a4", "unstructured 70%, then PTQ W4A4"},
	{"u70+ptq:w6a6", "unstructured 70%, then PTQ W6A6"},
	{"u70+lsq:w4a4", "unstructured 70%, then LSQ W4A4"},
	{"f50+ptq:w4a4", "filters 50%, then PTQ W4A4"},
	{"f50+ptq:w6a6", "filters 50%, then PTQ W6A6"},
	{"f50+lsq:w4a4", "filters 50%, then LSQ W4A4"},
}

var models = []recipe.Model{recipe.ResNet18, recipe.MobileNetV2}

func layout(title string, rows [][2]string) report.Layout {
	l := report.Layout{Title: title, Corner: "pruning \\ network", Columns: []string{"ResNet-18", "MobileNetV2"}, Networks: report.ByColumn}
	for _, row := range rows {
		l.Rows = append(l.Rows, row[1])
		var cells []string
		for _, m := range models {
			cells = append(cells, string(m)+"/prune:"+row[0])
		}
		l.Cells = append(l.Cells, cells)
	}
	return l
}

// Spec is a pruning cell's fine-tuning recipe (see the package comment).
func Spec(preset recipe.Preset, m recipe.Model, q quant.Config) (recipe.Spec, error) {
	paper := recipe.Spec{Batch: 128, LR: 0.01, Epochs: 30, Cosine: true, PruneRamp: 20}
	s, err := recipe.CIFARSpec(preset, m, paper, func(s recipe.Spec) recipe.Spec {
		s.Epochs, s.PruneRamp = 5, 0
		return s
	})
	if err != nil {
		return s, err
	}
	if preset == recipe.Smoke {
		s.PruneRamp = 0
	}
	s.Calibration = 0
	if q.Method == quant.PTQ { // the PTQ tables' calibration
		s.Calibration = map[recipe.Preset]int{recipe.Smoke: 128, recipe.Quick: 2000, recipe.Paper: 10000}[preset]
	}
	return s, nil
}

func init() {
	main := layout("Pruning, CIFAR ResNet-18 and MobileNetV2, fine-tuned from the PTQ tables' FP models (no reference: the reference stops before pruning)", Rows)
	main.Name = "pruning"
	extra := layout("Pruning, then quantization (Deep Compression's order)", QuantRows)
	recipe.Register(&recipe.Table{Name: "pruning", Layout: main, Extra: &extra, Recipe: Spec, Pruning: true})
}
