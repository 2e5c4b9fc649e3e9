package quant

import (
	"fmt"
	"strconv"
	"strings"
)

// Method names a quantization method.
type Method string

// The methods of the reference experiments.
const (
	FP     Method = "fp"     // full precision: no quantizer anywhere
	PTQ    Method = "ptq"    // post-training fake quantization with observers
	DoReFa Method = "dorefa" // DoReFa-Net: weights, activations and gradients
	PACTM  Method = "pact"   // PACT activations with DoReFa weights
	LSQM   Method = "lsq"    // learned step size quantization
)

// Config says which quantizer goes where: a method and its bit widths for
// weights (W), activations (A) and, for DoReFa, gradients (G). 32 means full
// precision. It prints and parses as text: "fp", "ptq:w4a6", "pact:w4a4",
// "lsq:w3a3", "dorefa:w2a2g6" (for DoReFa, G defaults to 32 when omitted).
type Config struct {
	Method              Method
	WBits, ABits, GBits int
}

// String formats the config as ParseConfig reads it.
func (c Config) String() string {
	if c.Method == FP || c.Method == "" {
		return string(FP)
	}
	s := fmt.Sprintf("%s:w%da%d", c.Method, c.WBits, c.ABits)
	if c.Method == DoReFa && c.GBits != FullPrecision {
		s += fmt.Sprintf("g%d", c.GBits)
	}
	return s
}

// ParseConfig reads a config from its text form; errors say what is wrong
// and what is accepted.
func ParseConfig(text string) (Config, error) {
	text = strings.TrimSpace(strings.ToLower(text))
	name, spec, hasSpec := strings.Cut(text, ":")
	c := Config{Method: Method(name), WBits: FullPrecision, ABits: FullPrecision, GBits: FullPrecision}
	switch c.Method {
	case FP:
		if hasSpec {
			return Config{}, fmt.Errorf("quant: %q: fp takes no bit widths", text)
		}
		return c, nil
	case PTQ, DoReFa, PACTM, LSQM:
	default:
		return Config{}, fmt.Errorf("quant: unknown method %q in %q: valid methods are fp, ptq, dorefa, pact, lsq", name, text)
	}
	if !hasSpec || spec == "" {
		return Config{}, fmt.Errorf("quant: %q needs bit widths, e.g. %s:w4a4", text, name)
	}
	seen := map[byte]bool{}
	for rest := spec; rest != ""; {
		key := rest[0]
		end := 1
		for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
			end++
		}
		bits, err := strconv.Atoi(rest[1:end])
		if err != nil || seen[key] {
			return Config{}, fmt.Errorf("quant: cannot read bit widths %q in %q: want w<bits>a<bits> (g<bits> for dorefa)", spec, text)
		}
		seen[key] = true
		switch {
		case key == 'w':
			c.WBits = bits
		case key == 'a':
			c.ABits = bits
		case key == 'g' && c.Method == DoReFa:
			c.GBits = bits
		default:
			return Config{}, fmt.Errorf("quant: unexpected %q in %q: %s takes w<bits>a<bits>%s", string(key), text, name,
				map[bool]string{true: " and optionally g<bits>", false: ""}[c.Method == DoReFa])
		}
		rest = rest[end:]
	}
	if !seen['w'] || !seen['a'] {
		return Config{}, fmt.Errorf("quant: %q needs both w<bits> and a<bits>", text)
	}
	return c, c.Validate()
}

// Validate checks every bit width against what its quantizer accepts.
func (c Config) Validate() error {
	w, a := unitBits, unitBits
	switch c.Method {
	case FP, "":
		return nil
	case PTQ:
		// PTQ weights are symmetric with 2^(w-1)-1 levels each side: w >= 2.
		w, a = signedBits, unitBits
	case LSQM:
		w = signedBits
	}
	check := func(r bitsRange, what string, bits int) error {
		if !r.valid(bits) {
			return fmt.Errorf("quant: %s %s: bits must be %s, got %d", c.Method, what, r, bits)
		}
		return nil
	}
	if err := check(w, "weights", c.WBits); err != nil {
		return err
	}
	if err := check(a, "activations", c.ABits); err != nil {
		return err
	}
	if c.Method == DoReFa {
		return check(gradientBits, "gradients", c.GBits)
	}
	return nil
}

// MustParseConfig is ParseConfig for notebooks and tests: it panics on error.
func MustParseConfig(text string) Config {
	c, err := ParseConfig(text)
	if err != nil {
		panic(err)
	}
	return c
}
