package engine

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/mlsysrep/mlsysrep/pkg/backend/kernels"
	"github.com/mlsysrep/mlsysrep/pkg/backend/purego"
)

// Name is the configuration that selects this engine: "purego:v2".
const Name = "v2"

// Backend is engine v2. It is a compute.Backend whose buffers are the v1
// engine's, re-labelled: GoMLX tensors remember which backend made them.
type Backend struct {
	inner compute.Backend // the v1 engine: buffers, stock segments, fallback.
	// native switches native kernels on; off, every graph is one stock
	// segment (for A/B comparisons and tests).
	native bool
	pool   bufferPool // dead buffers, reused for native outputs
	// factors are the batch-norm forward's small v1 executables (batchnorm.go).
	factorsMu sync.Mutex
	factors   map[bnFactorKey]compute.Executable
}

var _ compute.Backend = (*Backend)(nil)

// New creates the engine. config is "" (native kernels on) or "nonative"
// (record and plan, but run every op on the v1 engine).
func New(config string) (*Backend, error) {
	if config != "" && config != "nonative" {
		return nil, fmt.Errorf("purego:v2: unknown configuration %q (valid: \"\", \"nonative\")", config)
	}
	inner, err := purego.New("")
	if err != nil {
		return nil, err
	}
	return &Backend{inner: inner, native: config == ""}, nil
}

// Native says whether native kernels are on.
func (b *Backend) Native() bool { return b.native }

// RecordName names the engine and every setting that changes its float
// results, for results records: the kernel path (paths sum in other orders)
// and the kernels switched off with OffEnvVar.
func (b *Backend) RecordName() string {
	if !b.native {
		return "purego:v2-nonative (mlsysrep engine v2, native kernels off)"
	}
	name := "purego:v2 (mlsysrep engine v2, " + kernels.Path() + " kernels"
	if on := strings.TrimSpace(os.Getenv(ExperimentalEnvVar)); on != "" {
		name += ", experimental: " + on
	}
	if off := strings.TrimSpace(os.Getenv(OffEnvVar)); off != "" {
		name += ", off: " + off
	}
	return name + ")"
}

// Name implements compute.Backend: the user-facing engine name stays purego.
func (b *Backend) Name() string { return purego.BackendName }

// String implements compute.Backend.
func (b *Backend) String() string { return purego.BackendName }

// Description implements compute.Backend.
func (b *Backend) Description() string {
	kernelsOn := "native kernels " + kernels.Path()
	if !b.native {
		kernelsOn = "native kernels off"
	}
	// The v1 engine's description ends with the CPU count.
	return fmt.Sprintf("mlsysrep engine v2 (graph executor, %s) over %s", kernelsOn, b.inner.Description())
}

// NumDevices implements compute.Backend.
func (b *Backend) NumDevices() int { return b.inner.NumDevices() }

// DeviceDescription implements compute.Backend.
func (b *Backend) DeviceDescription(d compute.DeviceNum) string { return b.inner.DeviceDescription(d) }

// Capabilities implements compute.Backend: the v1 engine's.
func (b *Backend) Capabilities() compute.Capabilities { return b.inner.Capabilities() }

// Builder implements compute.Backend.
func (b *Backend) Builder(name string) compute.Builder {
	return &builder{backend: b, shadow: b.inner.Builder(name), name: name, slotOf: map[compute.Value]int{}}
}

// Finalize implements compute.Backend.
func (b *Backend) Finalize() { b.inner.Finalize() }

// IsFinalized implements compute.Backend.
func (b *Backend) IsFinalized() bool { return b.inner.IsFinalized() }
