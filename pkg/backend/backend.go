// Package backend chooses the compute engine that runs mlsysrep's graphs and
// says which in one line.
//
// The choice, in order:
//
//  1. the name passed to Select, else the GOMLX_BACKEND environment variable;
//  2. else XLA/PJRT, when one of its plugins is installed (CUDA before CPU);
//  3. else mlsysrep's pure-Go engine ("purego"), which needs nothing installed.
//
// Names: "purego" (our engine: engine v2, the graph executor with native
// kernels of package engine, also named "purego:v2"; "purego:v1" is the
// engine it replaced, kept selectable for A/B comparisons, and
// "purego:v2-nonative" is engine v2 with its kernels off), "go" (GoMLX's stock Go backend, with its slow direct
// convolution), "xla" (the first XLA plugin found), "xla:cpu",
// "xla:cuda", or "xla:/absolute/path/to/plugin.so". Nothing is ever
// downloaded here: XLA plugins are installed on request with InstallXLA (the
// runner's setup-xla command, `make setup-xla`).
package backend

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	"github.com/mlsysrep/mlsysrep/pkg/backend/engine"
	"github.com/mlsysrep/mlsysrep/pkg/backend/purego"
)

// EnvVar is the environment variable that names the backend (GoMLX's own).
const EnvVar = compute.ConfigEnvVar

// Names lists the backend names Select accepts (XLA names only when this
// binary was built with XLA support).
func Names() []string {
	names := []string{purego.BackendName, purego.BackendName + ":v1", purego.BackendName + ":v2",
		purego.BackendName + ":v2-nonative", gobackend.BackendName}
	if xlaBuiltIn {
		names = append(names, "xla", "xla:cpu", "xla:cuda", "xla:/path/to/plugin.so")
	}
	return names
}

// Select returns the backend to use and a one-line description of the
// choice, for the terminal or a notebook. name may be "" (then GOMLX_BACKEND,
// then auto-detection decide). Unknown names, or XLA without a plugin, are
// errors that say what exists and how to install it.
func Select(name string) (compute.Backend, string, error) {
	source := "requested"
	if name == "" {
		if env, ok := os.LookupEnv(EnvVar); ok && env != "" {
			name, source = env, "from "+EnvVar
		}
	}
	if name == "" {
		source = "auto"
		if plugin := bestXLAPlugin(); plugin != "" {
			name = "xla:" + plugin
		} else {
			name = purego.BackendName
		}
	}
	kind, config, _ := strings.Cut(name, ":")
	var (
		b   compute.Backend
		err error
	)
	switch kind {
	case purego.BackendName:
		b, err = newPurego(config)
	case gobackend.BackendName:
		b, err = gobackend.New(config)
	case "xla":
		b, err = newXLA(config)
	default:
		return nil, "", fmt.Errorf("unknown backend %q: valid names are %s", name, strings.Join(Names(), ", "))
	}
	if err != nil {
		return nil, "", err
	}
	return b, describe(b, name, source), nil
}

// BenchEnvVar names the engines the benchmarks compare, comma-separated,
// e.g. MLSYSREP_BENCH_ENGINES=purego:v1,purego:v2.
const BenchEnvVar = "MLSYSREP_BENCH_ENGINES"

// BenchEngines returns the engines named by BenchEnvVar, else by defaults
// (the same form), with their names.
func BenchEngines(defaults string) ([]string, []compute.Backend, error) {
	list := os.Getenv(BenchEnvVar)
	if list == "" {
		list = defaults
	}
	var names []string
	var backends []compute.Backend
	for _, name := range strings.Split(list, ",") {
		b, _, err := Select(strings.TrimSpace(name))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", BenchEnvVar, err)
		}
		names, backends = append(names, strings.TrimSpace(name)), append(backends, b)
	}
	return names, backends, nil
}

// TestEnvVar names the engine the project's model, quantizer and training
// tests run on (default "purego"), so that a new engine is tested by the same
// tests: `MLSYSREP_TEST_ENGINE=purego:v1 go test ./pkg/quant/ ./models/...`.
const TestEnvVar = "MLSYSREP_TEST_ENGINE"

// TestEngine returns the engine named by TestEnvVar.
func TestEngine() (compute.Backend, error) {
	name := os.Getenv(TestEnvVar)
	if name == "" {
		name = purego.BackendName
	}
	b, _, err := Select(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", TestEnvVar, err)
	}
	return b, nil
}

// MustSelect is Select for notebooks and tests: it panics with the error.
func MustSelect(name string) (compute.Backend, string) {
	b, line, err := Select(name)
	if err != nil {
		panic(err)
	}
	return b, line
}

// newPurego makes engine v2 ("" and "v2", the default since it trains
// every benchmarked model faster, or "v2-nonative") or engine v1 ("v1",
// "directconv").
func newPurego(config string) (compute.Backend, error) {
	switch config {
	case "", "v2":
		return engine.New("")
	case "v2-nonative":
		return engine.New("nonative")
	case "v1":
		return purego.New("")
	case "directconv":
		return purego.New(config)
	}
	return nil, fmt.Errorf("purego: unknown configuration %q (valid: purego, purego:v1, purego:v2, purego:v2-nonative, purego:directconv)", config)
}

func describe(b compute.Backend, name, source string) string {
	line := fmt.Sprintf("backend: %s (%s) - %s", name, source, b.Description())
	if warning := simdWarning(); warning != "" && !strings.HasPrefix(name, "xla") {
		line += " - " + warning
	}
	return line
}

// simdWarning is non-empty when this binary runs the Go kernels without SIMD
// on a CPU that has it: everything works, 15x+ slower on matrix work.
func simdWarning() string {
	if runtime.GOARCH == "amd64" && !simdBuilt {
		return "WARNING: built without GOEXPERIMENT=simd, matrix work is 15x+ slower (rebuild with GOEXPERIMENT=simd, see README)"
	}
	return ""
}

// sortedKeys returns the keys of a map in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// RecordName is how results records name a backend: our engines say which
// they are (a record must tell engine v1's numbers from v2's), other backends
// keep their name. Records written while engine v1 was the default purego
// name it "purego (mlsysrep pure-Go engine)".
func RecordName(b compute.Backend) string {
	switch b := b.(type) {
	case *purego.Backend:
		return "purego:v1 (mlsysrep engine v1)"
	case *engine.Backend:
		return b.RecordName()
	}
	return b.Name()
}
