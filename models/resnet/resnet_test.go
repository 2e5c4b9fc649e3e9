package resnet

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mlsysrep/mlsysrep/models/internal/modeltest"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
)

func withQuant(width float64, q string) Config {
	c := Default
	c.Width = width
	c.Quant = quant.MustParseConfig(q)
	return c
}

// PROTOCOL sections 3a and 6: 11,173,962 trainable parameters at full width,
// 701,466 at width 0.25 (convs without bias, BN scale and offset, FC with
// bias), whatever the quantization; quantizer parameters come on top.
func TestParameterCount(t *testing.T) {
	for _, tc := range []struct {
		width float64
		want  int
	}{
		{0.25, 701466},
		{1, 11173962},
	} {
		for _, q := range []string{"fp", "dorefa:w2a2g6", "pact:w4a4", "lsq:w3a3", "ptq:w4a4"} {
			s := modeltest.Summarize(t, withQuant(tc.width, q).Build, 32)
			if got := s.Params(); got != tc.want {
				t.Errorf("width %g %s: %d trainable parameters, want %d", tc.width, q, got, tc.want)
			}
		}
	}
}

// TestPlacement counts the quantizer sites of PROTOCOL section 3d.
func TestPlacement(t *testing.T) {
	for _, tc := range []struct {
		q                    string
		weights, acts, grads int
		alphas, steps        int
	}{
		{"fp", 0, 0, 0, 0, 0},
		// 16 block convs + 3 projection shortcuts, a gradient quantizer after
		// each; the inner ReLU of 8 blocks becomes a DoReFa activation.
		{"dorefa:w2a2g6", 19, 8, 19, 0, 0},
		// 16 block convs (shortcuts FP); PACT inside and on the output of 8 blocks.
		{"pact:w4a4", 16, 16, 0, 16, 0},
		// 19 weight quantizers and 8 activation quantizers, one step each.
		{"lsq:w3a3", 19, 8, 0, 0, 27},
		// Input, stem, 2 per block, 3 shortcuts, 8 adds, FC output = 1+1+16+3+8+1
		// observers; 1+16+3+1 = 21 weight quantizers (stem and FC included).
		{"ptq:w4a4", 21, 30, 0, 0, 0},
	} {
		s := modeltest.Summarize(t, withQuant(0.25, tc.q).Build, 32)
		got := fmt.Sprint(s.Count(nn.QuantizerWeight), s.Count(nn.QuantizerActivation), s.Count(nn.QuantizerGradient),
			modeltest.CountVariables(s.Store, "alpha"), modeltest.CountVariables(s.Store, "step"))
		want := fmt.Sprint(tc.weights, tc.acts, tc.grads, tc.alphas, tc.steps)
		if got != want {
			t.Errorf("%s: weights acts grads alphas steps = %s, want %s\n%s", tc.q, got, want, s)
		}
	}
}

func TestOutputShapes(t *testing.T) {
	for _, q := range []string{"fp", "dorefa:w2a2g32", "pact:w2a2", "lsq:w2a2", "ptq:w2a2"} {
		s := modeltest.Summarize(t, withQuant(0.25, q).Build, 32)
		out := s.Rows[len(s.Rows)-1].Output
		if fmt.Sprint(out) != "[2 10]" {
			t.Errorf("%s: output %v, want [2 10]", q, out)
		}
	}
	// Spatial sizes 32 -> 16 -> 8 -> 4 at the first conv of stages 2-4.
	s := modeltest.Summarize(t, withQuant(0.25, "fp").Build, 32)
	for _, r := range s.Rows {
		want := map[string]string{
			"/stage1_block0/conv1/conv": "[2 32 32 16]", "/stage2_block0/conv1/conv": "[2 16 16 32]",
			"/stage3_block0/conv1/conv": "[2 8 8 64]", "/stage4_block0/conv1/conv": "[2 4 4 128]",
		}[r.Scope]
		if want != "" && r.Kind == "conv" && fmt.Sprint(r.Output) != want {
			t.Errorf("%s: output %v, want %s", r.Scope, r.Output, want)
		}
	}
}

func TestForwardFLOPs(t *testing.T) {
	// Full width: 0.556 G multiply-adds per 32x32 image, the usual figure.
	if got := Default.ForwardFLOPs() / 2; got < 0.55e9 || got > 0.56e9 {
		t.Errorf("forward MACs %g, want about 0.556e9", got)
	}
}

func TestValidate(t *testing.T) {
	if err := (Config{Width: 0, BlocksPerStage: 2, NumClasses: 10}).Validate(); err == nil {
		t.Error("width 0 accepted")
	}
	bad := Default
	bad.Quant = quant.Config{Method: quant.LSQM, WBits: 1, ABits: 2, GBits: 32}
	if err := bad.Validate(); err == nil {
		t.Error("LSQ with 1-bit weights accepted")
	}
	if err := Default.Validate(); err != nil {
		t.Error(err)
	}
}

// TestTrains trains each method at tiny width on one synthetic batch.
func TestTrains(t *testing.T) {
	for _, q := range []string{"fp", "dorefa:w4a4g8", "pact:w4a4", "lsq:w4a4"} {
		t.Run(q, func(t *testing.T) {
			c := withQuant(0.125, q)
			c.BlocksPerStage = 1
			modeltest.AssertLossFalls(t, modeltest.TrainLosses(t, c.Build, 16, 10, 16, 25, 0.1))
		})
	}
}

func TestFoldedBatchNorm(t *testing.T) {
	fp, ptq := withQuant(0.125, "fp"), withQuant(0.125, "ptq:w8a8")
	fp.BlocksPerStage, ptq.BlocksPerStage = 1, 1
	modeltest.FoldedMatches(t, fp.Build, ptq.Build, 16, 10, bnEpsilon)
}

func TestSummary(t *testing.T) {
	s, err := withQuant(0.25, "pact:w4a4").Summary()
	if err != nil {
		t.Fatal(err)
	}
	text := s.String()
	for _, want := range []string{"/stage1_block0/conv1/conv", "pact:a4", "trainable parameters: 701466", "weight quantizers: 16"} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
	if _, err := withQuant(0.25, "fp").Summary(); err != nil {
		t.Error(err)
	}
	bad := Default
	bad.Width = -1
	if _, err := bad.Summary(); err == nil {
		t.Error("invalid config summarized")
	}
}

// TestQuantizersBind checks, per method, that the quantizer at each kind of
// site of PROTOCOL section 3d changes the logits (modeltest.QuantizedSitesBind):
// counting the sites (TestPlacement) does not see a quantizer whose output is
// dropped. ResNet-18 at 1/16 width on 8x8 images keeps it to seconds.
func TestQuantizersBind(t *testing.T) {
	for _, tc := range []struct {
		method quant.Method
		kinds  []string
	}{
		// Block convs and the projection shortcuts; the inner activation.
		{quant.DoReFa, []string{"w conv1/conv", "w conv2/conv", "w shortcut/conv", "a act1"}},
		{quant.LSQM, []string{"w conv1/conv", "w conv2/conv", "w shortcut/conv", "a act1"}},
		// Shortcuts full precision; PACT inside and on the block output.
		{quant.PACTM, []string{"w conv1/conv", "w conv2/conv", "a act1", "a act_out"}},
		// Everything, first and last layers included.
		{quant.PTQ, []string{"a input", "w stem/conv", "a stem", "w conv1/conv", "a conv1", "w conv2/conv", "a conv2",
			"w shortcut/conv", "a shortcut", "a add", "w fc", "a fc"}},
	} {
		t.Run(string(tc.method), func(t *testing.T) {
			modeltest.QuantizedSitesBind(t, func(q quant.Config) modeltest.Build {
				c := Default
				c.Width, c.Quant = 1.0/16, q
				return c.Build
			}, tc.method, 8, 10, tc.kinds)
		})
	}
}

// TestPTQVariantsBind: the PTQ config's per-channel weights and observer
// reach the logits.
func TestPTQVariantsBind(t *testing.T) {
	modeltest.PTQVariantsBind(t, func(q quant.Config) modeltest.Build {
		c := Default
		c.Width, c.Quant = 1.0/16, q
		return c.Build
	}, 8, 10)
}

// TestPruningSitesBind: a pruned ResNet-18 masks its 16 block convs, 3
// shortcut convs and the FC, not the stem, in the FP and the PTQ forms.
func TestPruningSitesBind(t *testing.T) {
	modeltest.PruningSitesBind(t, func(pruned bool, q quant.Config) modeltest.Build {
		return Config{Width: 0.125, BlocksPerStage: 2, NumClasses: 10, Quant: q, Prune: pruned}.Build
	}, 32, 10, 20)
}

// TestSummaryMACsAreForwardFLOPs: the summary's per-layer multiply-adds add
// up to ForwardFLOPs / 2, at full width and for a filter-pruned network.
func TestSummaryMACsAreForwardFLOPs(t *testing.T) {
	for _, c := range []Config{Default, {Width: 0.25, BlocksPerStage: 2, NumClasses: 10, Inner: []int{3, 5, 7, 9, 11, 13, 15, 17}}} {
		s, err := c.Summary()
		if err != nil {
			t.Fatal(err)
		}
		if got := 2 * float64(s.MACs()); got != c.ForwardFLOPs() {
			t.Errorf("width %g inner %v: summary %0.f FLOPs, ForwardFLOPs %.0f", c.Width, c.Inner, got, c.ForwardFLOPs())
		}
	}
}
