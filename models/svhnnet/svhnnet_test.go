package svhnnet

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mlsysrep/mlsysrep/models/internal/modeltest"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
)

func withQuant(q string) Config {
	c := Default
	c.Quant = quant.MustParseConfig(q)
	return c
}

// PROTOCOL: 2,083,402 trainable parameters (quantized convs with biases).
func TestParameterCount(t *testing.T) {
	for _, q := range []string{"fp", "dorefa:w2a2g6", "dorefa:w6a6g32"} {
		if got := modeltest.Summarize(t, withQuant(q).Build, InputSize).Params(); got != 2083402 {
			t.Errorf("%s: %d trainable parameters, want 2083402", q, got)
		}
	}
}

// TestShapes checks 40 -> 36 -> 18 -> 9 -> 7 -> 7 -> 5 -> 1 and the sites.
func TestShapes(t *testing.T) {
	s := modeltest.Summarize(t, withQuant("dorefa:w2a2g6").Build, InputSize)
	var spatial []string
	for _, r := range s.Rows {
		if r.Kind == "conv" {
			spatial = append(spatial, fmt.Sprint(r.Output[1]))
		}
	}
	if got := strings.Join(spatial, " "); got != "36 18 18 7 7 5 1" {
		t.Errorf("conv output sizes %s, want 36 18 18 7 7 5 1", got)
	}
	if out := s.Rows[len(s.Rows)-1].Output; fmt.Sprint(out) != "[2 10]" {
		t.Errorf("output %v", out)
	}
	// 6 quantized convs with a gradient quantizer each; 5 quantized activations.
	got := fmt.Sprint(s.Count(nn.QuantizerWeight), s.Count(nn.QuantizerActivation), s.Count(nn.QuantizerGradient))
	if got != "6 5 6" {
		t.Errorf("weights acts grads = %s, want 6 5 6", got)
	}
}

func TestValidate(t *testing.T) {
	c := withQuant("pact:w4a4")
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("pact accepted: %v", err)
	}
}

func TestTrains(t *testing.T) {
	for _, q := range []string{"fp", "dorefa:w4a4g8"} {
		t.Run(q, func(t *testing.T) {
			c := withQuant(q)
			c.Width, c.Dropout = 0.25, 0
			modeltest.AssertLossFalls(t, modeltest.TrainLosses(t, c.Build, InputSize, 10, 16, 30, 0.1))
		})
	}
}

// TestQuantizersBind checks that each DoReFa weight and activation quantizer
// of PROTOCOL section 3c changes the logits (modeltest.QuantizedSitesBind):
// counting the sites (TestShapes) does not see one whose output is dropped.
func TestQuantizersBind(t *testing.T) {
	modeltest.QuantizedSitesBind(t, func(q quant.Config) modeltest.Build {
		c := Default
		c.Width, c.Dropout, c.Quant = 1.0/8, 0, q // no dropout: the logits must be deterministic
		return c.Build
	}, quant.DoReFa, InputSize, 10, []string{
		"w l1", "w l2", "w l3", "w l4", "w l5", "w l6", // L0 and the FC stay full precision
		"a l0_act", "a l2_act", "a l3_act", "a l4_act", "a l5_act", // none after L1
	})
}
