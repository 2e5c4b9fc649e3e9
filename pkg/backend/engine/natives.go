package engine

import (
	"os"
	"strings"
)

// natives maps an op to the function that gives its native kernel for one
// recorded node, or nil when no kernel covers that node (then the op runs in
// a stock segment).
var natives = map[string]func(b *builder, n *node) kernel{
	"ConvGeneral":          convKernelFor,
	"BatchNormForTraining": bnKernelFor,
	"BatchNormGradient":    bnKernelFor,
	"FusedActivation":      reluKernelFor,
	"FusedActivationVJP":   reluGradKernelFor,
}

// OffEnvVar lists ops whose native kernels are switched off
// (comma-separated op names, e.g. MLSYSREP_ENGINE_OFF=ConvGeneral), to
// compare a kernel with the stock op it replaces in a full run.
const OffEnvVar = "MLSYSREP_ENGINE_OFF"

// nativeFor returns the kernel for a node, or nil.
func nativeFor(b *builder, n *node) kernel {
	kernelFor := natives[n.op]
	if kernelFor == nil || !b.backend.native {
		return nil
	}
	for _, off := range strings.Split(os.Getenv(OffEnvVar), ",") {
		if strings.TrimSpace(off) == n.op {
			return nil
		}
	}
	return kernelFor(b, n)
}
