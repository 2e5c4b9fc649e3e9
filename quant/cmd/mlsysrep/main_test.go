package main

import (
	"errors"
	"strings"
	"testing"
)

func TestRunErrors(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		want      string
		wantUsage bool
	}{
		{nil, "no command given", true},
		{[]string{"train-everything"}, `unknown command "train-everything"`, true},
		{[]string{"demo", "-preset", "huge"}, `unknown preset "huge"`, true},
		{[]string{"demo", "-preset", "tiny", "-data", "imagenet"}, `unknown -data "imagenet"`, true},
		{[]string{"demo", "-backend", "tpu"}, `unknown backend "tpu"`, false},
		{[]string{"backend", "-backend", "tpu"}, `unknown backend "tpu"`, false},
	} {
		err := run(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			continue
		}
		if errors.Is(err, errUsage) != tc.wantUsage {
			t.Errorf("run(%q): usage error = %v, want %v", tc.args, errors.Is(err, errUsage), tc.wantUsage)
		}
	}
}

// TestDemoTiny runs the demo end to end on synthetic data.
func TestDemoTiny(t *testing.T) {
	if err := run([]string{"demo", "-preset", "tiny", "-data", "synthetic"}); err != nil {
		t.Fatal(err)
	}
}
