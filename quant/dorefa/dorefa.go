// Package dorefa holds the DoReFa-Net recipes: table "dorefa" (W = A = G bits
// on SVHN Model A, ResNet-18 and MobileNetV2; PROTOCOL 1c) and table
// "dorefa-svhn" (W-A-G combinations on Model A; 1d).
package dorefa

import (
	"fmt"

	"github.com/mlsysrep/mlsysrep/pkg/quant"
	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/quant/recipe"
)

// Spec is the DoReFa recipe of a network for a preset. Model A's gradients
// are clipped to norm 1.0 when bitG <= 2 (PROTOCOL section 5).
func Spec(preset recipe.Preset, m recipe.Model, q quant.Config) (recipe.Spec, error) {
	if m == recipe.SVHNModelA {
		s, err := svhnSpec(preset)
		if q.GBits <= 2 {
			s.ClipNorm = 1
		}
		return s, err
	}
	paper := recipe.Spec{Batch: 256, LR: 0.1, Epochs: 40, Milestones: []int{20}}
	if m == recipe.MobileNetV2 {
		paper.Batch = 96
	}
	return recipe.CIFARSpec(preset, m, paper, recipe.QuickQAT(8, 4))
}

// svhnSpec is Model A's recipe: paper batch 1792, lr 0.01, 50 epochs, x0.1 at
// 20 and 40; quick (section 6) the first 10,000 images, batch 256, 10 epochs,
// x0.1 at 4 and 8.
func svhnSpec(preset recipe.Preset) (recipe.Spec, error) {
	switch preset {
	case recipe.Paper:
		return recipe.Spec{Width: 1, Batch: 1792, LR: 0.01, Epochs: 50, Milestones: []int{20, 40}}, nil
	case recipe.Quick:
		return recipe.Spec{Width: 1, TrainImages: 10000, Batch: 256, LR: 0.01, Epochs: 10, Milestones: []int{4, 8}}, nil
	case recipe.Smoke:
		return recipe.Spec{Width: 0.25, TrainImages: 256, TestImages: 128, Batch: 64, LR: 0.01, Epochs: 1}, nil
	}
	return recipe.Spec{}, fmt.Errorf("unknown preset %q: valid presets are smoke, quick, paper", preset)
}

func init() {
	main := report.Layout{Name: "dorefa", Title: "DoReFa-Net QAT, bitW = bitA = bitG", Corner: "bits",
		Columns: []string{"SVHN (Model A)", "ResNet-18", "MobileNetV2"}, Rows: []string{"2", "6"},
		Reference: [][]string{{"17.47", "not converged", "not converged"}, {"86.30", "89.60", "70.39"}}}
	for _, b := range []int{2, 6} {
		main.Cells = append(main.Cells, []string{
			fmt.Sprintf("svhn/dorefa:w%da%dg%d", b, b, b),
			fmt.Sprintf("resnet18/dorefa:w%da%dg%d", b, b, b),
			fmt.Sprintf("mobilenetv2/dorefa:w%da%dg%d", b, b, b)})
	}
	recipe.Register(&recipe.Table{Name: "dorefa", Layout: main, Recipe: Spec})

	svhn := report.Layout{Name: "dorefa-svhn", Title: "DoReFa-Net QAT on SVHN (Model A), W-A-G", Corner: "bitW-bitA-bitG", Networks: report.WholeTable,
		Columns: []string{"2-2-6", "2-2-32", "6-6-2", "6-6-32"}, Rows: []string{"accuracy"},
		Cells:     [][]string{{"svhn/dorefa:w2a2g6", "svhn/dorefa:w2a2g32", "svhn/dorefa:w6a6g2", "svhn/dorefa:w6a6g32"}},
		Reference: [][]string{{"83.9", "84.5", "19.6", "87.0"}}}
	recipe.Register(&recipe.Table{Name: "dorefa-svhn", Layout: svhn, Recipe: Spec})
}
