package engine

import (
	"runtime"
	"sync/atomic"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/mlsysrep/mlsysrep/pkg/backend/kernels"
)

// bnInferenceKernel runs BatchNormForInference (the evaluation pass of
// every model) for float32 tensors whose feature axis is the last one, with
// engine v1's arithmetic to the bit: per channel a = scale * rsqrt(variance +
// epsilon) and b = offset - mean * a from a small v1 executable (the ops v1
// emits for them), then out = x * a + b, the product rounded before the
// add, as one fused element-wise program reading a and b per channel. Engine
// v1 materializes the broadcast a and b and makes two passes over x.
type bnInferenceKernel struct {
	rows, c int
	epsilon float32
	shape   shapes.Shape
}

// bnInferenceRuns counts native inference batch-norm runs (tests check
// the kernel ran).
var bnInferenceRuns atomic.Int64

// bnInferenceKernelFor covers nodes with arguments (operand, scale, offset,
// mean, variance, epsilon, featureAxis).
func bnInferenceKernelFor(b *builder, n *node) kernel {
	x := b.slots[n.inputs[0]].shape
	epsilon, _ := n.args[5].(float32)
	axis, _ := n.args[6].(int)
	if x.DType != dtypes.Float32 || x.Rank() < 2 || axis != x.Rank()-1 || x.Dimensions[axis] < 1 {
		return nil
	}
	c := x.Dimensions[axis]
	for _, s := range n.inputs[1:] {
		if v := b.slots[s].shape; v.DType != dtypes.Float32 || v.Rank() != 1 || v.Dimensions[0] != c {
			return nil
		}
	}
	return &bnInferenceKernel{rows: x.Size() / c, c: c, epsilon: epsilon, shape: x}
}

func (k *bnInferenceKernel) run(b *Backend, in []compute.Buffer) ([]compute.Buffer, error) {
	factors, err := b.bnInferenceFactors(k.c, k.epsilon)
	if err != nil {
		return nil, err
	}
	// in: operand, scale, offset, mean, variance.
	ab, err := factors.Execute([]compute.Buffer{in[4], in[1], in[3], in[2]}, []bool{false, false, false, false}, 0)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, buf := range ab {
			_ = buf.Finalize()
		}
	}()
	x, err := flat32(in[0])
	if err != nil {
		return nil, err
	}
	a, err := flat32(ab[0])
	if err != nil {
		return nil, err
	}
	off, err := flat32(ab[1])
	if err != nil {
		return nil, err
	}
	out, flat, err := b.pool.get(b, k.shape)
	if err != nil {
		return nil, err
	}
	perChannel := kernels.Spread{Count: k.c, Every: 1}
	prog := kernels.Program{Size: k.rows * k.c, NumInputs: 3, Scalar: []bool{false, false, false},
		Spread:   []kernels.Spread{{}, perChannel, perChannel},
		Code:     []kernels.Instruction{{Op: kernels.OpMul, Args: [3]int{0, 1}}, {Op: kernels.OpAdd, Args: [3]int{3, 2}}},
		TailFrom: k.rows * k.c}
	prog.Run(flat, [][]float32{x, a, off}, runtime.GOMAXPROCS(0))
	bnInferenceRuns.Add(1)
	return []compute.Buffer{out}, nil
}

// bnInferenceFactors returns the executable computing, for c channels,
// a = scale * rsqrt(variance + epsilon) and b = offset - mean * a from
// (variance, scale, mean, offset), compiled on engine v1 on first use and
// kept by the backend.
func (b *Backend) bnInferenceFactors(c int, epsilon float32) (compute.Executable, error) {
	return b.cachedFactors(bnFactorKey{c: c, epsilon: epsilon, inference: true}, func() (compute.Executable, error) {
		return compileBNInferenceFactors(b.inner, c, epsilon)
	})
}

// compileBNInferenceFactors builds bnInferenceFactors' executable with the
// ops package purego's BatchNormForInference emits for a and b.
func compileBNInferenceFactors(v1 compute.Backend, c int, epsilon float32) (compute.Executable, error) {
	builder := v1.Builder("BatchNormInferenceFactors")
	fn := builder.Main()
	vec := shapes.Make(dtypes.Float32, c)
	var params [4]compute.Value
	for i, name := range []string{"variance", "scale", "mean", "offset"} {
		p, err := fn.Parameter(name, vec, nil)
		if err != nil {
			return nil, err
		}
		params[i] = p
	}
	variance, scale, mean, offset := params[0], params[1], params[2], params[3]
	eps, err := fn.Constant([]float32{epsilon})
	if err == nil {
		eps, err = fn.BroadcastInDim(eps, vec, nil)
	}
	var sum, rstd, a, ma, off compute.Value
	if err == nil {
		sum, err = fn.Add(variance, eps)
	}
	if err == nil {
		rstd, err = fn.Rsqrt(sum)
	}
	if err == nil {
		a, err = fn.Mul(scale, rstd)
	}
	if err == nil {
		ma, err = fn.Mul(mean, a)
	}
	if err == nil {
		off, err = fn.Sub(offset, ma)
	}
	if err == nil {
		err = fn.Return([]compute.Value{a, off}, nil)
	}
	if err != nil {
		return nil, err
	}
	return builder.Compile()
}
