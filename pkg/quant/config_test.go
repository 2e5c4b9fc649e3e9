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
		{"fp", Config{FP, 32, 32, 32}, "fp"},
		{"ptq:w4a6", Config{PTQ, 4, 6, 32}, "ptq:w4a6"},
		{"pact:w4a4", Config{PACTM, 4, 4, 32}, "pact:w4a4"},
		{"lsq:w3a3", Config{LSQM, 3, 3, 32}, "lsq:w3a3"},
		{"dorefa:w2a2g6", Config{DoReFa, 2, 2, 6}, "dorefa:w2a2g6"},
		{"dorefa:w6a6", Config{DoReFa, 6, 6, 32}, "dorefa:w6a6"},
		{"DoReFa:W2A2G32", Config{DoReFa, 2, 2, 32}, "dorefa:w2a2"},
		{"dorefa:w32a32g32", Config{DoReFa, 32, 32, 32}, "dorefa:w32a32"},
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
	} {
		_, err := ParseConfig(tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseConfig(%q) error = %v, want it to contain %q", tc.text, err, tc.want)
		}
	}
}
