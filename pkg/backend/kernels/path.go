package kernels

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

// EnvPath is the environment variable that overrides the kernel path chosen
// from the CPU's features: "avx512", "avx2" or "generic". It is read once,
// when the package is initialised.
const EnvPath = "MLSYSREP_KERNELS"

// kernelSet is one implementation path: its micro-kernels and tile sizes.
type kernelSet struct {
	name    string
	maxP    int        // widest tile with a 32-wide block: the length of tiles32
	halves  bool       // each call covers 16 output channels; a 32-wide block takes two
	tiles16 []tileFunc // kernels for 16-wide weight blocks, by tile width P-1
	tiles32 []tileFunc // kernels for 32-wide weight blocks, by tile width P-1

	// Weight-gradient kernels (BackwardFilter), by tile rows R-1 (a table's
	// length is its tallest tile); halves applies to them too.
	filter16 []filterFunc // kernels for 16-wide output-gradient blocks
	filter32 []filterFunc // kernels for 32-wide output-gradient blocks
}

// pathInfo is one known path and, when this binary and CPU cannot run it,
// the reason.
type pathInfo struct {
	name    string
	set     *kernelSet
	missing string // why set is nil
}

var (
	paths   []pathInfo // every known path, best first
	current atomic.Pointer[kernelSet]
	envErr  error
)

func init() {
	paths = append(simdPaths(), pathInfo{name: "generic", set: genericKernels()})
	current.Store(best())
	if env := os.Getenv(EnvPath); env != "" {
		if err := SetPath(env); err != nil {
			envErr = fmt.Errorf("%s=%q ignored, using %q: %w", EnvPath, env, Path(), err)
			fmt.Fprintf(os.Stderr, "mlsysrep: %v\n", envErr)
		}
	}
}

func best() *kernelSet {
	for _, p := range paths {
		if p.set != nil {
			return p.set
		}
	}
	panic("unreachable: the generic path is always available")
}

// Path returns the name of the kernel path in use: "avx512", "avx2" or
// "generic".
func Path() string { return current.Load().name }

// Paths returns the paths this binary can run on this CPU, best first.
func Paths() []string {
	var names []string
	for _, p := range paths {
		if p.set != nil {
			names = append(names, p.name)
		}
	}
	return names
}

// SetPath switches every later kernel call to the named path ("avx512",
// "avx2" or "generic"; "auto" picks the best one available). It returns an
// error, and changes nothing, for an unknown name or a path this binary or
// CPU cannot run. Calls already running finish on their path.
func SetPath(name string) error {
	if name == "auto" {
		current.Store(best())
		return nil
	}
	var known []string
	for _, p := range paths {
		if p.name != name {
			known = append(known, p.name)
			continue
		}
		if p.set == nil {
			return fmt.Errorf("kernels: path %q is not available: %s", name, p.missing)
		}
		current.Store(p.set)
		return nil
	}
	return fmt.Errorf("kernels: unknown path %q (known: %s, auto)", name, strings.Join(known, ", "))
}

// EnvError returns why the MLSYSREP_KERNELS setting was ignored, or nil if
// it was unset or honoured. The problem is also printed to standard error
// once, at start-up.
func EnvError() error { return envErr }

// tileWidth is the widest tile the path has for every one of a
// convolution's output blocks: tiles16's length when all of them are 16
// wide (16 or fewer output channels), maxP otherwise.
func (ks *kernelSet) tileWidth(blocks []oBlock) int {
	for _, b := range blocks {
		if b.width != 16 {
			return ks.maxP
		}
	}
	return len(ks.tiles16)
}
