package report

import "testing"

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		s    float64
		want string
	}{{0, "0 s"}, {59, "59 s"}, {59.7, "1 min"}, {60, "1 min"}, {3569, "59 min"}, {3590, "1 h 00 min"}, {3600, "1 h 00 min"}, {7140, "1 h 59 min"}, {90000, "25 h 00 min"}} {
		if got := FormatDuration(tc.s); got != tc.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tc.s, got, tc.want)
		}
	}
}

func TestEpochs(t *testing.T) {
	for n, want := range map[int]string{1: "1 epoch", 2: "2 epochs", 14: "14 epochs"} {
		if got := Epochs(n); got != want {
			t.Errorf("Epochs(%d) = %q, want %q", n, got, want)
		}
	}
}
