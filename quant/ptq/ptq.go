// Package ptq holds the post-training quantization recipes: tables
// "ptq-resnet18" and "ptq-mobilenetv2" (PROTOCOL sections 1a, 1b and 5).
// Each trains the FP network (reduce-on-plateau in paper, the cosine schedule
// in quick), folds BN, calibrates min/max observers on the first N training
// images with the training augmentation on, and evaluates every
// (bitW, bitA) cell with true k-bit activation clamping. "Beyond the
// reference" rows use per-channel weight scales, percentile and MSE observers.
package ptq

import (
	"fmt"

	"github.com/mlsysrep/mlsysrep/pkg/quant"
	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/quant/recipe"
)

var (
	weightBits     = []int{2, 4, 6}
	activationBits = []int{2, 3, 4, 5, 6}
)

// Reference values (test accuracy %).
var (
	resnet18Ref = [][]string{
		{"10.00", "10.93", "9.40", "9.86", "10.06"},
		{"10.00", "30.38", "78.86", "88.63", "89.20"},
		{"10.00", "35.38", "82.59", "91.28", "92.00"},
	}
	mobilenetv2Ref = [][]string{
		{"10.00", "10.00", "10.00", "10.00", "10.00"},
		{"10.23", "11.08", "27.42", "77.10", "88.22"},
		{"10.18", "11.18", "36.22", "82.56", "90.54"},
	}
)

// Variants are the "beyond the reference" PTQ rows.
var Variants = []string{"perchannel", "percentile", "mse"}

func layouts(model recipe.Model, title string, ref [][]string) (report.Layout, *report.Layout) {
	main := report.Layout{Title: title, Corner: "bitW \\ bitA", Reference: ref, Networks: report.WholeTable}
	extra := &report.Layout{Title: title + ": beyond the reference (our observers)", Corner: "variant, bitW \\ bitA", Networks: report.WholeTable}
	for _, a := range activationBits {
		main.Columns = append(main.Columns, fmt.Sprint(a))
		extra.Columns = append(extra.Columns, fmt.Sprint(a))
	}
	for _, w := range weightBits {
		main.Rows = append(main.Rows, fmt.Sprint(w))
		var row []string
		for _, a := range activationBits {
			row = append(row, fmt.Sprintf("%s/ptq:w%da%d", model, w, a))
		}
		main.Cells = append(main.Cells, row)
	}
	for _, v := range Variants {
		for _, w := range weightBits {
			extra.Rows = append(extra.Rows, fmt.Sprintf("%s, %d", v, w))
			var row []string
			for _, a := range activationBits {
				row = append(row, fmt.Sprintf("%s/ptq:w%da%d/%s", model, w, a, v))
			}
			extra.Cells = append(extra.Cells, row)
		}
	}
	return main, extra
}

// Spec is the FP training recipe (the same for every PTQ cell of a network)
// plus the calibration size.
func Spec(preset recipe.Preset, m recipe.Model, _ quant.Config) (recipe.Spec, error) {
	paper := recipe.Spec{Batch: 256, LR: 0.01, Epochs: 50, Plateau: true, Calibration: 10000} // FP ResNet-18
	if m == recipe.MobileNetV2 {
		paper = recipe.Spec{Batch: 96, LR: 0.1, Epochs: 50, Plateau: true, Calibration: 10000}
	}
	return recipe.CIFARSpec(preset, m, paper, func(s recipe.Spec) recipe.Spec {
		// PROTOCOL section 6: batch 128, 15 epochs, cosine from 0.05; 2,000 calibration images.
		s.Batch, s.Epochs, s.LR, s.Cosine, s.Plateau, s.Calibration = 128, 15, 0.05, true, false, 2000
		return s
	})
}

func init() {
	for _, t := range []struct {
		name  string
		model recipe.Model
		title string
		ref   [][]string
	}{
		{"ptq-resnet18", recipe.ResNet18, "PTQ, CIFAR ResNet-18 (rows: weight bits, columns: activation bits)", resnet18Ref},
		{"ptq-mobilenetv2", recipe.MobileNetV2, "PTQ, CIFAR MobileNetV2 (rows: weight bits, columns: activation bits)", mobilenetv2Ref},
	} {
		main, extra := layouts(t.model, t.title, t.ref)
		main.Name = t.name
		recipe.Register(&recipe.Table{Name: t.name, Layout: main, Extra: extra, Recipe: Spec, PTQ: true})
	}
}
