package quant

import (
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		text string
		want Config
		out  string
	}{
		{"fp", Config{Method: FP, WBits: 32, ABits: 32, GBits: 32}, "fp"},
		{"ptq:w4a6", Config{Method: PTQ, WBits: 4, ABits: 6, GBits: 32}, "ptq:w4a6"},
		{"pact:w4a4", Config{Method: PACTM, WBits: 4, ABits: 4, GBits: 32}, "pact:w4a4"},
		{"lsq:w3a3", Config{Method: LSQM, WBits: 3, ABits: 3, GBits: 32}, "lsq:w3a3"},
		{"dorefa:w2a2g6", Config{Method: DoReFa, WBits: 2, ABits: 2, GBits: 6}, "dorefa:w2a2g6"},
		{"dorefa:w6a6", Config{Method: DoReFa, WBits: 6, ABits: 6, GBits: 32}, "dorefa:w6a6"},
		{"DoReFa:W2A2G32", Config{Method: DoReFa, WBits: 2, ABits: 2, GBits: 32}, "dorefa:w2a2"},
		{"dorefa:w32a32g32", Config{Method: DoReFa, WBits: 32, ABits: 32, GBits: 32}, "dorefa:w32a32"},
		// PTQ variants: the observer and per-channel weight scales.
		{"ptq:w4a6/percentile", Config{Method: PTQ, WBits: 4, ABits: 6, GBits: 32, Observer: "percentile"}, "ptq:w4a6/percentile"},
		{"ptq:w4a4/perchannel", Config{Method: PTQ, WBits: 4, ABits: 4, GBits: 32, PerChannel: true}, "ptq:w4a4/perchannel"},
		{"ptq:w4a4/mse/perchannel", Config{Method: PTQ, WBits: 4, ABits: 4, GBits: 32, Observer: "mse", PerChannel: true}, "ptq:w4a4/perchannel/mse"},
		{"ptq:w6a6/minmax", Config{Method: PTQ, WBits: 6, ABits: 6, GBits: 32, Observer: "minmax"}, "ptq:w6a6/minmax"},
	} {
		got, err := ParseConfig(tc.text)
		if err != nil {
			t.Errorf("ParseConfig(%q): %v", tc.text, err)
			continue
		}
		if got != tc.want || got.String() != tc.out {
			t.Errorf("ParseConfig(%q) = %+v (%s), want %+v (%s)", tc.text, got, got, tc.want, tc.out)
		}
		if again, err := ParseConfig(got.String()); err != nil || again != got {
			t.Errorf("round trip of %q: %+v, %v", tc.text, again, err)
		}
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"int8", `unknown method "int8"`},
		{"pact", "needs bit widths"},
		{"pact:w4", "needs both w<bits> and a<bits>"},
		{"pact:w4a4g2", `unexpected "g"`},
		{"pact:w9a4", "pact weights: bits must be 1..8 or 32, got 9"},
		{"lsq:w1a2", "lsq weights: bits must be 2..8 or 32, got 1"},
		{"ptq:w1a4", "ptq weights: bits must be 2..8 or 32, got 1"},
		{"dorefa:w2a2g17", "dorefa gradients: bits must be 1..16 or 32, got 17"},
		{"dorefa:w2w2a2", "cannot read bit widths"},
		{"fp:w4a4", "fp takes no bit widths"},
		{"pact:wxa4", "cannot read bit widths"},
		{"pact:w4a4/perchannel", "apply to ptq only"},
		{"ptq:w4a4/kl", `unknown or repeated PTQ variant "kl"`},
		{"ptq:w4a4/mse/percentile", `unknown or repeated PTQ variant "percentile"`},
		{"ptq:w4a4/perchannel/perchannel", `unknown or repeated PTQ variant "perchannel"`},
		{"ptq:w1a4/mse", "ptq weights: bits must be 2..8 or 32, got 1"},
	} {
		_, err := ParseConfig(tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseConfig(%q) error = %v, want it to contain %q", tc.text, err, tc.want)
		}
	}
}

// TestConfigVariantsValidate: an observer or per-channel weights outside
// PTQ, or an unknown observer, is refused by Validate too (a Config built
// in code, not parsed); PTQObserver gives min/max by default.
func TestConfigVariantsValidate(t *testing.T) {
	for _, c := range []Config{
		{Method: LSQM, WBits: 4, ABits: 4, GBits: 32, Observer: "mse"},
		{Method: DoReFa, WBits: 4, ABits: 4, GBits: 32, PerChannel: true},
		{Method: PTQ, WBits: 4, ABits: 4, GBits: 32, Observer: "kl"},
	} {
		if c.Validate() == nil {
			t.Errorf("%+v validated", c)
		}
	}
	o, err := Config{Method: PTQ, WBits: 4, ABits: 4, GBits: 32}.PTQObserver()
	if err != nil || o.String() != (MinMaxObserver{}).String() {
		t.Errorf("default observer %v, %v", o, err)
	}
	o, err = MustParseConfig("ptq:w4a4/percentile").PTQObserver()
	if err != nil || !strings.HasPrefix(o.String(), "percentile") {
		t.Errorf("percentile observer %v, %v", o, err)
	}
}
