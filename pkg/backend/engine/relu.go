package engine

import (
	"runtime"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/mlsysrep/mlsysrep/pkg/backend/kernels"
)

// reluKernel runs FusedActivation (ReLU, float32) on kernels.Relu.
type reluKernel struct{}

func reluKernelFor(b *builder, n *node) kernel {
	cfg, _ := n.args[1].(compute.ActivationConfig)
	if cfg.Type != compute.ActivationRelu || b.slots[n.inputs[0]].shape.DType != dtypes.Float32 {
		return nil
	}
	return reluKernel{}
}

func (reluKernel) run(b *Backend, in []compute.Buffer) ([]compute.Buffer, error) {
	x, err := flat32(in[0])
	if err != nil {
		return nil, err
	}
	shape, err := in[0].Shape()
	if err != nil {
		return nil, err
	}
	out, flat, err := b.pool.get(b, shape)
	if err != nil {
		return nil, err
	}
	kernels.Relu(flat, x, runtime.GOMAXPROCS(0))
	reluRuns.Add(1)
	return []compute.Buffer{out}, nil
}

// reluGradKernel runs FusedActivationVJP (ReLU, float32): its inputs are
// the activation's output y and/or input x (either tells where the gradient
// passes) and the output gradient, in that order.
type reluGradKernel struct{}

func reluGradKernelFor(b *builder, n *node) kernel {
	cfg, _ := n.args[3].(compute.ActivationConfig)
	if cfg.Type != compute.ActivationRelu || len(n.inputs) < 2 {
		return nil
	}
	for _, s := range n.inputs {
		if b.slots[s].shape.DType != dtypes.Float32 {
			return nil
		}
	}
	if len(n.inputs) == 3 && n.args[0] != nil {
		// GoMLX gives y and x; the Go backend then reads only y (x > 0
		// exactly where y > 0, NaN included). Dropping x lets x's buffer
		// go sooner and a fused program take the gradient with two
		// operands (reluOpOf); replayed on engine v1, the op reads y alone
		// as before.
		n.args[1] = nil
		n.inputs = []int{n.inputs[0], n.inputs[2]}
	}
	return reluGradKernel{}
}

func (reluGradKernel) run(b *Backend, in []compute.Buffer) ([]compute.Buffer, error) {
	ref, err := flat32(in[0]) // y if given, else x
	if err != nil {
		return nil, err
	}
	dOut, err := flat32(in[len(in)-1])
	if err != nil {
		return nil, err
	}
	shape, err := in[len(in)-1].Shape()
	if err != nil {
		return nil, err
	}
	out, flat, err := b.pool.get(b, shape)
	if err != nil {
		return nil, err
	}
	kernels.ReluGrad(flat, ref, dOut, runtime.GOMAXPROCS(0))
	reluRuns.Add(1)
	return []compute.Buffer{out}, nil
}
