package hoststat

import (
	"runtime"
	"strings"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     CPUTimes
		err      string
	}{
		{name: "kernel 2.6.33+ with guest fields",
			in:   "cpu  2423612 3536784 134224 1922511 1830 0 52267 143847 7 9\ncpu0 1 2 3 4 5 6 7 8 0 0\n",
			want: CPUTimes{Busy: 2423612 + 3536784 + 134224 + 0 + 52267, Idle: 1922511 + 1830, Steal: 143847}},
		{name: "old kernel without steal", in: "cpu 10 20 30 40 50 60 70\n",
			want: CPUTimes{Busy: 10 + 20 + 30 + 60 + 70, Idle: 40 + 50}},
		{name: "no trailing newline", in: "cpu 1 1 1 1 1 1 1 5",
			want: CPUTimes{Busy: 5, Idle: 2, Steal: 5}},
		{name: "per-cpu line first", in: "cpu0 1 2 3 4 5\n", err: "aggregate cpu line"},
		{name: "too short", in: "cpu 1 2\n", err: "aggregate cpu line"},
		{name: "empty", in: "", err: "reading /proc/stat"},
		{name: "not a number", in: "cpu 1 2 x 4 5\n", err: "cpu field 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseProcStat(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestStealSince(t *testing.T) {
	then := CPUTimes{Busy: 100, Idle: 50, Steal: 10}
	for _, tc := range []struct {
		name string
		now  CPUTimes
		want float64
	}{
		{"a quarter stolen", CPUTimes{Busy: 200, Idle: 100, Steal: 60}, 50.0 / 200},
		{"none stolen", CPUTimes{Busy: 300, Idle: 50, Steal: 10}, 0},
		{"no time passed", then, 0},
		{"counters went back (reboot)", CPUTimes{Busy: 5, Idle: 5, Steal: 1}, 0},
	} {
		if got := tc.now.StealSince(then); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestStealMeter reads the real host: on Linux a fraction in [0, 1] comes
// back; elsewhere the meter reports that it cannot measure.
func TestStealMeter(t *testing.T) {
	var m StealMeter
	if f, ok := m.Fraction(); ok || f != 0 {
		t.Errorf("an unstarted meter gave %v, %v; want 0, false", f, ok)
	}
	m.Start()
	f, ok := m.Fraction()
	if ok != (runtime.GOOS == "linux") {
		t.Fatalf("measured = %v on %s", ok, runtime.GOOS)
	}
	if f < 0 || f > 1 {
		t.Errorf("steal fraction %v outside [0, 1]", f)
	}
}
