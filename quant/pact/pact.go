// Package pact holds the PACT recipe: table "pact", bitW = bitA on ResNet-18
// and MobileNetV2 (PROTOCOL 1e), DoReFa weights, a trainable alpha per
// activation site (initialized to 10) with lambda * sum(alpha^2), lambda 2e-4.
package pact

import (
	"fmt"

	"github.com/mlsysrep/mlsysrep/pkg/quant"
	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/quant/recipe"
)

// Spec is the PACT recipe: ResNet-18 batch 128, lr 0.1, 140 epochs, x0.1 at
// 60 and 120; MobileNetV2 batch 96, lr 0.001, 50 epochs, x0.1 at 30 and 40.
func Spec(preset recipe.Preset, m recipe.Model, _ quant.Config) (recipe.Spec, error) {
	paper := recipe.Spec{Batch: 128, LR: 0.1, Epochs: 140, Milestones: []int{60, 120}}
	if m == recipe.MobileNetV2 {
		paper = recipe.Spec{Batch: 96, LR: 0.001, Epochs: 50, Milestones: []int{30, 40}}
	}
	return recipe.CIFARSpec(preset, m, paper, recipe.QuickQAT(14, 6, 12))
}

func init() {
	l := report.Layout{Name: "pact", Title: "PACT QAT, bitW = bitA", Corner: "bits", Columns: []string{"ResNet-18", "MobileNetV2"},
		Reference: [][]string{{"93.84", "63.87"}, {"94.56", "85.15"}, {"94.16", "89.89"}, {"94.54", "88.61"}, {"94.53", "90.74"}}}
	for b := 2; b <= 6; b++ {
		l.Rows = append(l.Rows, fmt.Sprint(b))
		l.Cells = append(l.Cells, []string{fmt.Sprintf("resnet18/pact:w%da%d", b, b), fmt.Sprintf("mobilenetv2/pact:w%da%d", b, b)})
	}
	recipe.Register(&recipe.Table{Name: "pact", Layout: l, Recipe: Spec})
}
