package quant

import (
	"strings"
	"testing"
)

// TestParseObserver: every listed name parses to an observer whose String
// begins with that name (one spelling everywhere), and an unknown name is an
// error that lists the valid ones.
func TestParseObserver(t *testing.T) {
	for _, name := range ObserverNames {
		o, err := ParseObserver(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.HasPrefix(o.String(), name) {
			t.Errorf("observer %q prints as %q", name, o.String())
		}
	}
	if _, err := ParseObserver("ema-minmax"); err == nil || !strings.Contains(err.Error(), "valid: minmax, ema, percentile, mse") {
		t.Errorf("unknown observer: %v", err)
	}
	if o, _ := ParseObserver("percentile"); o.(PercentileObserver).Percentile != 99.99 {
		t.Errorf("percentile observer %+v, want the tables' 99.99th", o)
	}
}
