package recipe_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mlsysrep/mlsysrep/pkg/quant"
	"github.com/mlsysrep/mlsysrep/quant/recipe"

	_ "github.com/mlsysrep/mlsysrep/quant/dorefa"
	_ "github.com/mlsysrep/mlsysrep/quant/lsq"
	_ "github.com/mlsysrep/mlsysrep/quant/pact"
	_ "github.com/mlsysrep/mlsysrep/quant/ptq"
)

func TestNewCell(t *testing.T) {
	c, err := recipe.NewCell("resnet18/ptq:w4a6/percentile")
	if err != nil || c.Model != recipe.ResNet18 || c.Quant.String() != "ptq:w4a6/percentile" || c.Quant.Observer != "percentile" || !c.Variant() {
		t.Errorf("%+v %v", c, err)
	}
	// Every cell name of every table is its model and a config whose
	// printed form parses back to it: one parser, one printer.
	for _, name := range recipe.TableNames() {
		tb, _ := recipe.Lookup(name)
		for _, c := range tb.Cells() {
			again, err := recipe.NewCell(string(c.Model) + "/" + c.Quant.String())
			if err != nil || again.Quant != c.Quant {
				t.Errorf("table %s: cell %q prints as %s, which parses to %+v, %v", name, c.Name, c.Quant, again.Quant, err)
			}
		}
	}
	for _, bad := range []string{"resnet18", "vgg/pact:w4a4", "resnet18/pact:w9a4", "resnet18/pact:w4a4/mse", "resnet18/ptq:w4a4/magic"} {
		if _, err := recipe.NewCell(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func spec(t *testing.T, table string, preset recipe.Preset, m recipe.Model, q string) string {
	tb, err := recipe.Lookup(table)
	if err != nil {
		t.Fatal(err)
	}
	s, err := tb.Recipe(preset, m, quant.MustParseConfig(q))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("w%g n%d/%d e%d b%d lr%g %s cal%d", s.Width, s.TrainImages, s.TestImages, s.Epochs, s.Batch, s.LR,
		s.Schedule(), s.Calibration)
}

// TestPresets pins the presets to PROTOCOL sections 5 (paper) and 6 (quick).
func TestPresets(t *testing.T) {
	for _, tc := range []struct {
		table   string
		preset  recipe.Preset
		model   recipe.Model
		q, want string
	}{
		{"ptq-resnet18", "paper", recipe.ResNet18, "ptq:w4a4", "w1 n0/0 e50 b256 lr0.01 lr 0.01, reduce-on-plateau of the test loss (x0.1, patience 10) cal10000"},
		{"ptq-mobilenetv2", "paper", recipe.MobileNetV2, "ptq:w4a4", "w1 n0/0 e50 b96 lr0.1 lr 0.1, reduce-on-plateau of the test loss (x0.1, patience 10) cal10000"},
		{"ptq-resnet18", "quick", recipe.ResNet18, "ptq:w4a4", "w0.25 n10000/0 e15 b128 lr0.05 cosine from 0.05 over 15 epochs cal2000"},
		{"ptq-mobilenetv2", "quick", recipe.MobileNetV2, "ptq:w4a4", "w0.5 n10000/0 e15 b128 lr0.05 cosine from 0.05 over 15 epochs cal2000"},
		{"dorefa", "paper", recipe.ResNet18, "dorefa:w2a2g2", "w1 n0/0 e40 b256 lr0.1 lr 0.1, x0.1 at epochs [20] cal0"},
		{"dorefa", "paper", recipe.MobileNetV2, "dorefa:w2a2g2", "w1 n0/0 e40 b96 lr0.1 lr 0.1, x0.1 at epochs [20] cal0"},
		{"dorefa", "quick", recipe.ResNet18, "dorefa:w2a2g2", "w0.25 n10000/0 e8 b256 lr0.1 lr 0.1, x0.1 at epochs [4] cal0"},
		{"dorefa-svhn", "paper", recipe.SVHNModelA, "dorefa:w2a2g6", "w1 n0/0 e50 b1792 lr0.01 lr 0.01, x0.1 at epochs [20 40] cal0"},
		{"dorefa-svhn", "quick", recipe.SVHNModelA, "dorefa:w2a2g6", "w1 n10000/0 e10 b256 lr0.01 lr 0.01, x0.1 at epochs [4 8] cal0"},
		{"pact", "paper", recipe.ResNet18, "pact:w4a4", "w1 n0/0 e140 b128 lr0.1 lr 0.1, x0.1 at epochs [60 120] cal0"},
		{"pact", "paper", recipe.MobileNetV2, "pact:w4a4", "w1 n0/0 e50 b96 lr0.001 lr 0.001, x0.1 at epochs [30 40] cal0"},
		{"pact", "quick", recipe.MobileNetV2, "pact:w4a4", "w0.5 n10000/0 e14 b96 lr0.001 lr 0.001, x0.1 at epochs [6 12] cal0"},
		{"lsq", "paper", recipe.ResNet18, "lsq:w2a2", "w1 n0/0 e140 b256 lr0.2 lr 0.2, x0.1 at epochs [60 120] cal0"},
		{"lsq", "quick", recipe.MobileNetV2, "lsq:w2a2", "w0.5 n10000/0 e14 b64 lr0.01 lr 0.01, x0.1 at epochs [6 12] cal0"},
	} {
		if got := spec(t, tc.table, tc.preset, tc.model, tc.q); got != tc.want {
			t.Errorf("%s %s %s:\n got %s\nwant %s", tc.table, tc.preset, tc.model, got, tc.want)
		}
	}
}

func TestTablesHaveReferences(t *testing.T) {
	want := map[string]int{"ptq-resnet18": 15, "ptq-mobilenetv2": 15, "dorefa": 6, "dorefa-svhn": 4, "pact": 10, "lsq": 6}
	for name, n := range want {
		tb, err := recipe.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		refs := 0
		for _, c := range tb.Cells() {
			if tb.Reference(c.Name) != "" {
				refs++
			}
		}
		if refs != n {
			t.Errorf("%s: %d cells with a reference, want %d", name, refs, n)
		}
	}
	if _, err := recipe.Lookup("int8"); err == nil || !strings.Contains(err.Error(), "valid tables are") {
		t.Errorf("unknown table: %v", err)
	}
}

// TestSVHNClipsLowBitGradients: PROTOCOL section 5 clips Model A's
// gradients to norm 1.0 when bitG <= 2, at every preset (the rule lives in
// quant/dorefa's recipe), and only there.
func TestSVHNClipsLowBitGradients(t *testing.T) {
	tb, err := recipe.Lookup("dorefa-svhn")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range recipe.Presets {
		for q, want := range map[string]float64{"dorefa:w6a6g2": 1, "dorefa:w2a2g6": 0, "dorefa:w2a2g32": 0} {
			s, err := tb.Recipe(p, recipe.SVHNModelA, quant.MustParseConfig(q))
			if err != nil || s.ClipNorm != want {
				t.Errorf("%s %s: clip norm %g (%v), want %g", p, q, s.ClipNorm, err, want)
			}
		}
	}
}
