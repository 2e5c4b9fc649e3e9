package main

import (
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on the default mux
	"os"
)

// pprofEnv names the variable that, set to a host:port, makes the runner
// serve Go's profiler there while it works: a run that slows down after
// hours can then be profiled in place
// (go tool pprof http://localhost:6060/debug/pprof/profile?seconds=30).
const pprofEnv = "MLSYSREP_PPROF"

// startProfiler serves net/http/pprof on the address in MLSYSREP_PPROF, if
// set, says where on stderr and returns the address it listens on ("" when
// unset). A bad address is an error before any work.
func startProfiler() (string, error) {
	addr := os.Getenv(pprofEnv)
	if addr == "" {
		return "", nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("%s=%s: %w", pprofEnv, addr, err)
	}
	fmt.Fprintf(os.Stderr, "profiler: http://%s/debug/pprof/\n", ln.Addr())
	go func() { _ = http.Serve(ln, nil) }()
	return ln.Addr().String(), nil
}
