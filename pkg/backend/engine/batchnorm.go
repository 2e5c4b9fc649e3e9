package engine

import (
	"runtime"
	"sync/atomic"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/mlsysrep/mlsysrep/pkg/backend/kernels"
)

// bnKernel runs BatchNormForTraining or BatchNormGradient on
// kernels.BatchNorm, for float32 tensors whose feature axis is the last one
// (NHWC activations).
//
// The training forward has two forms. By default it is engine v1's
// arithmetic, bit for bit: statistics summed row after row in float32
// (BatchNorm.SequentialStats), the per-channel factor
// a = scale * rsqrt(variance + epsilon) computed by a small stock executable
// (the same Rsqrt executor v1 runs), and (x - mean) * a + offset. With
// MLSYSREP_ENGINE_EXPERIMENTAL=BatchNormForTraining it is BatchNorm.Train,
// whose statistics are accurate (float64 totals of short float32 runs) but
// whose training runs are therefore not v1's (see ExperimentalEnvVar).
type bnKernel struct {
	bn   kernels.BatchNorm
	grad bool
	// exact selects the v1-exact forward.
	exact bool
	// statsOnly (the training forward) leaves the normalized output to the
	// fused programs that read it (batchnorm_epilogue.go): the node's
	// outputs are then the mean, the variance and the factor a.
	statsOnly bool
}

// bnKernelFor covers both ops' nodes: arguments (operand, scale, offset,
// epsilon, featureAxis) for training, (operand, scale, mean, variance,
// gradOutput, epsilon, featureAxis) for the gradient.
func bnKernelFor(b *builder, n *node) kernel {
	x := b.slots[n.inputs[0]].shape
	epsilon, _ := n.args[len(n.args)-2].(float32)
	axis, _ := n.args[len(n.args)-1].(int)
	// Rank 2 at least: engine v1 reduces a rank-1 operand over every axis.
	if x.DType != dtypes.Float32 || x.Rank() < 2 || axis != x.Rank()-1 || x.Dimensions[axis] < 1 {
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
	k.exact = !k.grad && !listed(ExperimentalEnvVar, n.op)
	return k
}

// bnFactorKey names a compiled factor executable.
type bnFactorKey struct {
	c         int
	epsilon   float32
	inference bool // the inference factors (batchnorm_inference.go)
}

// bnFactor returns the executable computing a = scale * rsqrt(variance +
// epsilon) for c channels, compiled on first use and kept by the backend
// (one per channel count and epsilon: a handful per model).
func (b *Backend) bnFactor(c int, epsilon float32) (compute.Executable, error) {
	return b.cachedFactors(bnFactorKey{c: c, epsilon: epsilon}, func() (compute.Executable, error) {
		return compileBNFactor(b.inner, c, epsilon)
	})
}

// cachedFactors returns the batch-norm factor executable of key, compiled
// by compile on first use and kept by the backend.
func (b *Backend) cachedFactors(key bnFactorKey, compile func() (compute.Executable, error)) (compute.Executable, error) {
	b.factorsMu.Lock()
	defer b.factorsMu.Unlock()
	if exec := b.factors[key]; exec != nil {
		return exec, nil
	}
	exec, err := compile()
	if err != nil {
		return nil, err
	}
	if b.factors == nil {
		b.factors = make(map[bnFactorKey]compute.Executable)
	}
	b.factors[key] = exec
	return exec, nil
}

// compileBNFactor compiles, on the v1 engine, a = scale * rsqrt(variance +
// epsilon) for C channels with the ops v1's BatchNormForTraining emits for
// it (package purego), so that a is v1's to the bit on every kernel path.
func compileBNFactor(v1 compute.Backend, c int, epsilon float32) (compute.Executable, error) {
	builder := v1.Builder("BatchNormFactor")
	fn := builder.Main()
	vec := shapes.Make(dtypes.Float32, c)
	variance, err := fn.Parameter("variance", vec, nil)
	if err != nil {
		return nil, err
	}
	scale, err := fn.Parameter("scale", vec, nil)
	if err != nil {
		return nil, err
	}
	eps, err := fn.Constant([]float32{epsilon})
	if err == nil {
		eps, err = fn.BroadcastInDim(eps, vec, nil)
	}
	var sum, rstd, a compute.Value
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
		err = fn.Return([]compute.Value{a}, nil)
	}
	if err != nil {
		return nil, err
	}
	return builder.Compile()
}

func (k *bnKernel) run(b *Backend, in []compute.Buffer) ([]compute.Buffer, error) {
	flats := make([][]float32, len(in))
	for i, buf := range in {
		var err error
		if flats[i], err = flat32(buf); err != nil {
			return nil, err
		}
	}
	if k.statsOnly {
		vec, err := in[1].Shape()
		if err != nil {
			return nil, err
		}
		return k.stats(b, flats, in[1], vec)
	}
	outs, data, err := b.bnOutputs(in[0], in[1])
	if err != nil {
		return nil, err
	}
	workers := runtime.GOMAXPROCS(0)
	switch {
	case k.grad: // operand, scale, mean, variance, gradOutput -> dx, dScale, dOffset
		k.bn.Grad(data[0], data[1], data[2], flats[0], flats[1], flats[2], flats[3], flats[4], workers)
	case !k.exact: // operand, scale, offset -> normalized, mean, variance
		k.bn.Train(data[0], data[1], data[2], flats[0], flats[1], flats[2], workers)
	default:
		if err := k.exactForward(b, data, flats, outs[2], in[1], workers); err != nil {
			for _, buf := range outs {
				b.pool.put(buf)
			}
			return nil, err
		}
	}
	bnRuns.Add(1)
	return outs, nil
}

// bnOutputs returns pooled buffers for a batch norm's three outputs (one
// of x's shape, two of the per-channel vector's) and their storage.
func (b *Backend) bnOutputs(x, vector compute.Buffer) ([]compute.Buffer, [][]float32, error) {
	full, err := x.Shape()
	if err != nil {
		return nil, nil, err
	}
	vec, err := vector.Shape()
	if err != nil {
		return nil, nil, err
	}
	outs := make([]compute.Buffer, 0, 3)
	data := make([][]float32, 3)
	for i, shape := range []shapes.Shape{full, vec, vec} {
		buf, flat, err := b.pool.get(b, shape)
		if err != nil {
			for _, o := range outs {
				b.pool.put(o)
			}
			return nil, nil, err
		}
		outs, data[i] = append(outs, buf), flat
	}
	return outs, data, nil
}

// bnStatsRuns counts the batch norms that left their output to the
// programs reading it (tests check the rewrite took place).
var bnStatsRuns atomic.Int64

// stats is the training forward without its output pass: the mean, the
// variance and a = scale * rsqrt(variance + epsilon), each per channel,
// for the programs that normalize as they read (batchnorm_epilogue.go).
// The v1-exact form takes v1's statistics and v1's factor; the accurate
// one (ExperimentalEnvVar) BatchNorm.Train's, whose one pass over x
// replaces the v1 form's two.
func (k *bnKernel) stats(b *Backend, flats [][]float32, scale compute.Buffer, vec shapes.Shape) ([]compute.Buffer, error) {
	outs := make([]compute.Buffer, 0, 3)
	fail := func(err error) ([]compute.Buffer, error) {
		for _, buf := range outs {
			b.pool.put(buf)
		}
		return nil, err
	}
	data := make([][]float32, 3)
	for i := range data {
		buf, flat, err := b.pool.get(b, vec)
		if err != nil {
			return fail(err)
		}
		outs, data[i] = append(outs, buf), flat
	}
	if !k.exact {
		k.bn.Stats(data[0], data[1], flats[0], runtime.GOMAXPROCS(0))
		k.bn.Factor(data[2], flats[1], data[1])
		bnRuns.Add(1)
		bnStatsRuns.Add(1)
		return outs, nil
	}
	factor, err := b.bnFactor(k.bn.C, k.bn.Epsilon)
	if err != nil {
		return fail(err)
	}
	k.bn.SequentialStats(data[0], data[1], flats[0], runtime.GOMAXPROCS(0))
	res, err := factor.Execute([]compute.Buffer{outs[1], scale}, []bool{false, false}, 0)
	if err != nil {
		return fail(err)
	}
	defer func() { _ = res[0].Finalize() }()
	a, err := flat32(res[0])
	if err != nil {
		return fail(err)
	}
	copy(data[2], a)
	bnRuns.Add(1)
	bnStatsRuns.Add(1)
	return outs, nil
}

// exactForward is the v1-exact training forward: the statistics into
// data[1] and data[2], then a from the factor executable (given the
// variance buffer and the scale), then the normalized output into data[0].
func (k *bnKernel) exactForward(b *Backend, data, flats [][]float32, variance, scale compute.Buffer, workers int) error {
	factor, err := b.bnFactor(k.bn.C, k.bn.Epsilon)
	if err != nil {
		return err
	}
	k.bn.SequentialStats(data[1], data[2], flats[0], workers)
	res, err := factor.Execute([]compute.Buffer{variance, scale}, []bool{false, false}, 0)
	if err != nil {
		return err
	}
	defer func() { _ = res[0].Finalize() }()
	a, err := flat32(res[0])
	if err != nil {
		return err
	}
	k.bn.Normalize(data[0], flats[0], data[1], a, flats[2], workers)
	return nil
}
