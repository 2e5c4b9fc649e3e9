package quant

import (
	"fmt"
	"slices"
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

// Config is the whole quantization of a network: a method and its bit
// widths for weights (W), activations (A) and, for DoReFa, gradients (G)
// (32 means full precision), and for PTQ the activation observer and
// whether weight scales are per output channel. It prints and parses as
// text, one function each way: "fp", "ptq:w4a6", "pact:w4a4", "lsq:w3a3",
// "dorefa:w2a2g6" (for DoReFa, G defaults to 32 when omitted), and PTQ
// variants after a slash: "ptq:w4a6/percentile", "ptq:w4a4/perchannel",
// "ptq:w4a4/perchannel/mse".
type Config struct {
	Method              Method
	WBits, ABits, GBits int
	// Observer is the PTQ activation observer, one of ObserverNames; ""
	// is min/max, the reference's.
	Observer string
	// PerChannel gives PTQ weights one scale per output channel instead
	// of the reference's one per tensor.
	PerChannel bool
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
	if c.PerChannel {
		s += "/" + perChannel
	}
	if c.Observer != "" {
		s += "/" + c.Observer
	}
	return s
}

// perChannel is the PTQ variant of per-channel weight scales.
const perChannel = "perchannel"

// PTQObserver is the config's PTQ activation observer: Observer's, min/max
// when it is empty.
func (c Config) PTQObserver() (Observer, error) {
	if c.Observer == "" {
		return MinMaxObserver{}, nil
	}
	return ParseObserver(c.Observer)
}

// ParseConfig reads a config from its text form; errors say what is wrong
// and what is accepted.
func ParseConfig(text string) (Config, error) {
	text = strings.TrimSpace(strings.ToLower(text))
	text, variants, hasVariants := strings.Cut(text, "/")
	c, err := parseBits(text)
	if err != nil || !hasVariants {
		return c, err
	}
	if c.Method != PTQ {
		return Config{}, fmt.Errorf("quant: %q: variants after %q apply to ptq only", text+"/"+variants, text)
	}
	for _, v := range strings.Split(variants, "/") {
		switch {
		case v == perChannel && !c.PerChannel:
			c.PerChannel = true
		case slices.Contains(ObserverNames, v) && c.Observer == "":
			c.Observer = v
		default:
			return Config{}, fmt.Errorf("quant: unknown or repeated PTQ variant %q in %q (valid: %s, and one observer of %s)",
				v, text+"/"+variants, perChannel, strings.Join(ObserverNames, ", "))
		}
	}
	return c, c.Validate()
}

// parseBits reads a config without its PTQ variants.
func parseBits(text string) (Config, error) {
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

// Validate checks every bit width against what its quantizer accepts, and
// that only PTQ has an observer or per-channel weights.
func (c Config) Validate() error {
	if c.Method != PTQ && (c.Observer != "" || c.PerChannel) {
		return fmt.Errorf("quant: %s: an observer and per-channel weights are PTQ settings", c.Method)
	}
	if c.Observer != "" {
		if _, err := ParseObserver(c.Observer); err != nil {
			return err
		}
	}
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
