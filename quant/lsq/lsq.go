// Package lsq holds the LSQ recipe: table "lsq", bitW = bitA on ResNet-18 and
// MobileNetV2 (PROTOCOL 1f), learned step sizes initialized from the first
// batch, step gradients scaled by 1/sqrt(Qp*N).
package lsq

import (
	"fmt"

	"github.com/mlsysrep/mlsysrep/pkg/quant"
	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/quant/recipe"
)

// Spec is the LSQ recipe: ResNet-18 batch 256, lr 0.2, 140 epochs, x0.1 at
// 60 and 120; MobileNetV2 batch 64, lr 0.01, 50 epochs, x0.1 at 30 and 40.
func Spec(preset recipe.Preset, m recipe.Model, _ quant.Config) (recipe.Spec, error) {
	paper := recipe.Spec{Batch: 256, LR: 0.2, Epochs: 140, Milestones: []int{60, 120}}
	if m == recipe.MobileNetV2 {
		paper = recipe.Spec{Batch: 64, LR: 0.01, Epochs: 50, Milestones: []int{30, 40}}
	}
	return recipe.CIFARSpec(preset, m, paper, recipe.QuickQAT(14, 6, 12))
}

func init() {
	l := report.Layout{Name: "lsq", Title: "LSQ QAT, bitW = bitA", Corner: "bits", Columns: []string{"ResNet-18", "MobileNetV2"},
		Reference: [][]string{{"91.4", "74.8"}, {"93.2", "91.5"}, {"93.9", "92.3"}}}
	for _, b := range []int{2, 5, 6} {
		l.Rows = append(l.Rows, fmt.Sprint(b))
		l.Cells = append(l.Cells, []string{fmt.Sprintf("resnet18/lsq:w%da%d", b, b), fmt.Sprintf("mobilenetv2/lsq:w%da%d", b, b)})
	}
	recipe.Register(&recipe.Table{Name: "lsq", Layout: l, Recipe: Spec})
}
