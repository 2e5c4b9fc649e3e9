// Package docker holds the container images' build files; its test checks
// that the versions they pin match go.mod and the Makefile.
package docker

import (
	"os"
	"regexp"
	"testing"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// find returns the first submatch of re in text, failing the test if absent.
func find(t *testing.T, what, text, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("%s: no match for %s", what, re)
	}
	return m[1]
}

func TestPinnedVersionsMatch(t *testing.T) {
	gomod := read(t, "../go.mod")
	makefile := read(t, "../Makefile")
	want := map[string]string{
		"GO_VERSION":    find(t, "Makefile", makefile, `(?m)^export GOTOOLCHAIN := go(\S+)$`),
		"GOMLX_VERSION": find(t, "go.mod", gomod, `(?m)^\s*github\.com/gomlx/gomlx (v\S+)`),
		"GONB_VERSION":  find(t, "go.mod", gomod, `(?m)^\s*github\.com/janpfeifer/gonb (v\S+)`),
	}
	if v := find(t, "go.mod", gomod, `(?m)^go (\S+)$`); v != want["GO_VERSION"] {
		t.Errorf("go.mod says go %s, the Makefile's GOTOOLCHAIN go%s", v, want["GO_VERSION"])
	}
	for _, file := range []string{"Dockerfile", "Dockerfile.cuda"} {
		text := read(t, file)
		for arg, v := range want {
			if got := find(t, file, text, `(?m)^ARG `+arg+`=(\S+)$`); got != v {
				t.Errorf("%s pins %s=%s, want %s", file, arg, got, v)
			}
		}
		// Base images are pinned to a version tag, not "latest".
		if base := find(t, file, text, `(?m)^FROM (\S+)`); regexp.MustCompile(`:latest$|^[^:]+$`).MatchString(base) {
			t.Errorf("%s: base image %q is not pinned", file, base)
		}
	}
}
