package engine

import (
	"runtime"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/mlsysrep/mlsysrep/pkg/backend/kernels"
)

// bnKernel runs BatchNormForTraining or BatchNormGradient on
// kernels.BatchNorm, for float32 tensors whose feature axis is the last one
// (NHWC activations).
type bnKernel struct {
	bn   kernels.BatchNorm
	grad bool
}

// bnKernelFor covers both ops' nodes: arguments (operand, scale, offset,
// epsilon, featureAxis) for training, (operand, scale, mean, variance,
// gradOutput, epsilon, featureAxis) for the gradient.
func bnKernelFor(b *builder, n *node) kernel {
	x := b.slots[n.inputs[0]].shape
	epsilon, _ := n.args[len(n.args)-2].(float32)
	axis, _ := n.args[len(n.args)-1].(int)
	if x.DType != dtypes.Float32 || x.Rank() < 1 || axis != x.Rank()-1 {
		return nil
	}
	for _, s := range n.inputs {
		if b.slots[s].shape.DType != dtypes.Float32 {
			return nil
		}
	}
	c := x.Dimensions[axis]
	k := &bnKernel{bn: kernels.BatchNorm{Rows: x.Size() / c, C: c, Epsilon: epsilon}, grad: n.op == "BatchNormGradient"}
	if k.bn.Validate() != nil {
		return nil
	}
	return k
}

func (k *bnKernel) run(b *Backend, in []compute.Buffer) ([]compute.Buffer, error) {
	flats := make([][]float32, len(in))
	for i, buf := range in {
		var err error
		if flats[i], err = flat32(buf); err != nil {
			return nil, err
		}
	}
	full, err := in[0].Shape()
	if err != nil {
		return nil, err
	}
	vec, err := in[1].Shape()
	if err != nil {
		return nil, err
	}
	outs := make([]compute.Buffer, 3)
	data := make([][]float32, 3)
	for i := range outs {
		shape := vec
		if i == 0 {
			shape = full
		}
		buf, flat, err := b.pool.get(b, shape)
		if err != nil {
			return nil, err
		}
		outs[i], data[i] = buf, flat
	}
	workers := runtime.GOMAXPROCS(0)
	if k.grad { // operand, scale, mean, variance, gradOutput -> dx, dScale, dOffset
		k.bn.Grad(data[0], data[1], data[2], flats[0], flats[1], flats[2], flats[3], flats[4], workers)
	} else { // operand, scale, offset -> normalized, mean, variance
		k.bn.Train(data[0], data[1], data[2], flats[0], flats[1], flats[2], workers)
	}
	bnRuns.Add(1)
	return outs, nil
}
