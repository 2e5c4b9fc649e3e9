package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestProfiler(t *testing.T) {
	t.Setenv(pprofEnv, "")
	if addr, err := startProfiler(); addr != "" || err != nil {
		t.Fatalf("unset: got %q, %v; want nothing started", addr, err)
	}

	t.Setenv(pprofEnv, "127.0.0.1:0")
	addr, err := startProfiler()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(body) == 0 {
		t.Errorf("GET /debug/pprof/cmdline: status %d, %d bytes", resp.StatusCode, len(body))
	}

	t.Setenv(pprofEnv, "not-an-address")
	if err := run([]string{"backend"}); err == nil || !strings.Contains(err.Error(), pprofEnv) {
		t.Errorf("bad address: got %v, want an error naming %s", err, pprofEnv)
	}
}
