package engine

import (
	"runtime"
	"slices"
	"sync/atomic"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/mlsysrep/mlsysrep/pkg/backend/kernels"
)

// Max pooling (graph.MaxPool: SVHN Model A pools twice) is a ReduceWindow
// with Max, and its gradient a SelectAndScatterMax; the stock ops walk every
// window element through index arithmetic and took 77% of a Model A training
// step. These kernels take the channels-last 2-D form (window and stride 1
// on the batch and channel axes, no dilations); the gradient only when the
// windows do not overlap, where each input position receives at most one
// gradient and the result cannot depend on the order of additions.

// maxPoolKernel runs ReduceWindow (Max) on kernels.MaxPool.Forward.
type maxPoolKernel struct {
	pool     kernels.MaxPool
	outShape shapes.Shape
}

// maxPoolGradKernel runs SelectAndScatterMax on kernels.MaxPool.Grad.
type maxPoolGradKernel struct {
	pool     kernels.MaxPool
	outShape shapes.Shape
}

// maxPoolRuns counts native max pooling runs (tests check they ran).
var maxPoolRuns atomic.Int64

// maxPoolOf builds the pooling of a float32 NHWC operand from window
// dimensions, strides and paddings as GoMLX passes them (nil strides: the
// window; nil paddings: none), or reports false.
func maxPoolOf(x shapes.Shape, window, strides []int, paddings [][2]int) (kernels.MaxPool, bool) {
	if x.DType != dtypes.Float32 || x.Rank() != 4 || len(window) != 4 || window[0] != 1 || window[3] != 1 {
		return kernels.MaxPool{}, false
	}
	if strides == nil {
		strides = window
	}
	if paddings == nil {
		paddings = make([][2]int, 4)
	}
	if len(strides) != 4 || strides[0] != 1 || strides[3] != 1 || len(paddings) != 4 ||
		paddings[0] != [2]int{} || paddings[3] != [2]int{} {
		return kernels.MaxPool{}, false
	}
	p := kernels.MaxPool{
		N: x.Dimensions[0], H: x.Dimensions[1], W: x.Dimensions[2], C: x.Dimensions[3],
		KH: window[1], KW: window[2], StrideH: strides[1], StrideW: strides[2],
		PadTop: paddings[1][0], PadBottom: paddings[1][1], PadLeft: paddings[2][0], PadRight: paddings[2][1],
	}
	return p, p.Validate() == nil
}

// ones says whether v is nil or all ones (no dilation).
func ones(v []int) bool { return !slices.ContainsFunc(v, func(d int) bool { return d != 1 }) }

// maxPoolKernelFor covers ReduceWindow(x, Max, window, strides, nil or unit
// dilations, paddings) in the form maxPoolOf takes.
func maxPoolKernelFor(b *builder, n *node) kernel {
	if op, _ := n.args[1].(compute.ReduceOpType); op != compute.ReduceOpMax {
		return nil
	}
	window, _ := n.args[2].([]int)
	strides, _ := n.args[3].([]int)
	baseDil, _ := n.args[4].([]int)
	windowDil, _ := n.args[5].([]int)
	paddings, _ := n.args[6].([][2]int)
	p, ok := maxPoolOf(b.slots[n.inputs[0]].shape, window, strides, paddings)
	if !ok || !ones(baseDil) || !ones(windowDil) {
		return nil
	}
	out := shapes.Make(dtypes.Float32, p.N, p.OutH(), p.OutW(), p.C)
	if !b.slots[n.outs[0]].shape.Equal(out) {
		return nil
	}
	return &maxPoolKernel{pool: p, outShape: out}
}

func (k *maxPoolKernel) run(b *Backend, in []compute.Buffer) ([]compute.Buffer, error) {
	x, err := flat32(in[0])
	if err != nil {
		return nil, err
	}
	out, flat, err := b.pool.get(b, k.outShape)
	if err != nil {
		return nil, err
	}
	k.pool.Forward(flat, x, runtime.GOMAXPROCS(0))
	maxPoolRuns.Add(1)
	return []compute.Buffer{out}, nil
}

// maxPoolGradKernelFor covers SelectAndScatterMax(x, dy, window, strides,
// paddings) in the form maxPoolOf takes, with disjoint windows.
func maxPoolGradKernelFor(b *builder, n *node) kernel {
	window, _ := n.args[2].([]int)
	strides, _ := n.args[3].([]int)
	paddings, _ := n.args[4].([][2]int)
	x, dy := b.slots[n.inputs[0]].shape, b.slots[n.inputs[1]].shape
	p, ok := maxPoolOf(x, window, strides, paddings)
	if !ok || !p.Disjoint() || !dy.Equal(shapes.Make(dtypes.Float32, p.N, p.OutH(), p.OutW(), p.C)) ||
		!b.slots[n.outs[0]].shape.Equal(x) {
		return nil
	}
	return &maxPoolGradKernel{pool: p, outShape: x}
}

func (k *maxPoolGradKernel) run(b *Backend, in []compute.Buffer) ([]compute.Buffer, error) {
	return runBinary(b, in, k.outShape, func(dx, x, dy []float32) {
		k.pool.Grad(dx, x, dy, runtime.GOMAXPROCS(0))
		maxPoolRuns.Add(1)
	})
}
