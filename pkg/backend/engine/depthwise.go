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

// The depthwise convolution of pkg/nn is one grouped ConvGeneral and its
// gradients are two more (pkg/nn/depthwise_op.go): the input gradient is a
// depthwise convolution again (input-dilated at stride 2), the filter
// gradient a convolution with one batch group per channel. These kernels
// take exactly those forms; any other grouped convolution stays stock.

// depthwiseKernel runs a grouped ConvGeneral with one group per channel and
// channel multiplier 1, NHWC, on kernels.Depthwise.
type depthwiseKernel struct {
	conv     kernels.Depthwise
	outShape shapes.Shape
	// element strides of the filter tensor's kh, kw and channel axes
	// (negative: read reversed, see reverse.go).
	sKH, sKW, sC int
	spatial      [2]int // the filter tensor's kh and kw axes
}

// flipped implements kernelFlipper.
func (k *depthwiseKernel) flipped(axes []int) kernel {
	sKH, sKW, ok := flipAxes(axes, k.spatial, k.sKH, k.sKW)
	if !ok {
		return nil
	}
	return &depthwiseKernel{conv: k.conv, outShape: k.outShape, sKH: sKH, sKW: sKW, sC: k.sC, spatial: k.spatial}
}

// depthwiseFilterKernel runs the filter gradient of a depthwise convolution
// on kernels.DepthwiseFilter.
type depthwiseFilterKernel struct {
	grad     kernels.DepthwiseFilter
	outShape shapes.Shape
}

// depthwiseRuns counts native depthwise kernel runs (tests check they ran).
var depthwiseRuns atomic.Int64

// convArgs are a recorded ConvGeneral's arguments.
type convArgs struct {
	xs, ks, out                  shapes.Shape
	axes                         compute.ConvolveAxesConfig
	strides, inputDil, kernelDil []int
	paddings                     [][2]int
	groups, batchGroups          int
}

func convArgsOf(b *builder, n *node) convArgs {
	a := convArgs{
		xs: b.slots[n.inputs[0]].shape, ks: b.slots[n.inputs[1]].shape, out: b.slots[n.outs[0]].shape,
		axes: n.args[2].(compute.ConvolveAxesConfig), groups: n.args[7].(int), batchGroups: n.args[8].(int),
	}
	a.strides, _ = n.args[3].([]int)
	a.paddings, _ = n.args[4].([][2]int)
	a.inputDil, _ = n.args[5].([]int)
	a.kernelDil, _ = n.args[6].([]int)
	return a
}

// at is v[i], or 1 when v is empty (an argument left at its default).
func at(v []int, i int) int {
	if len(v) == 0 {
		return 1
	}
	return v[i]
}

func (a convArgs) float32Rank4() bool {
	return a.xs.DType == dtypes.Float32 && a.ks.DType == dtypes.Float32 && a.xs.Rank() == 4 && a.ks.Rank() == 4 &&
		len(a.paddings) == 2
}

// depthwiseKernelFor covers the forward and input-gradient form: NHWC input
// and output, groups = channels, a kernel with one input channel, no kernel
// dilation; any kernel axis order, stride, padding and input dilation.
func depthwiseKernelFor(b *builder, n *node) kernel {
	a := convArgsOf(b, n)
	nhwc := []int{1, 2}
	if !a.float32Rank4() || a.batchGroups != 1 || a.groups < 2 || a.groups != a.xs.Dimensions[3] ||
		a.axes.InputBatch != 0 || a.axes.InputChannels != 3 || !slices.Equal(a.axes.InputSpatial, nhwc) ||
		a.axes.OutputBatch != 0 || a.axes.OutputChannels != 3 || !slices.Equal(a.axes.OutputSpatial, nhwc) ||
		a.ks.Dimensions[a.axes.KernelInputChannels] != 1 || a.ks.Dimensions[a.axes.KernelOutputChannels] != a.groups ||
		at(a.kernelDil, 0) != 1 || at(a.kernelDil, 1) != 1 {
		return nil
	}
	c := kernels.Depthwise{
		N: a.xs.Dimensions[0], H: a.xs.Dimensions[1], W: a.xs.Dimensions[2], C: a.groups,
		KH: a.ks.Dimensions[a.axes.KernelSpatial[0]], KW: a.ks.Dimensions[a.axes.KernelSpatial[1]],
		StrideH: at(a.strides, 0), StrideW: at(a.strides, 1), InDilH: at(a.inputDil, 0), InDilW: at(a.inputDil, 1),
		PadTop: a.paddings[0][0], PadBottom: a.paddings[0][1], PadLeft: a.paddings[1][0], PadRight: a.paddings[1][1],
	}
	if c.Validate() != nil {
		return nil
	}
	ks := a.ks.Strides()
	k := &depthwiseKernel{conv: c, outShape: shapes.Make(dtypes.Float32, c.N, c.OutH(), c.OutW(), c.C),
		sKH: ks[a.axes.KernelSpatial[0]], sKW: ks[a.axes.KernelSpatial[1]], sC: ks[a.axes.KernelOutputChannels],
		spatial: [2]int{a.axes.KernelSpatial[0], a.axes.KernelSpatial[1]}}
	if !a.out.Equal(k.outShape) {
		return nil
	}
	return k
}

func (k *depthwiseKernel) run(b *Backend, in []compute.Buffer) ([]compute.Buffer, error) {
	return runBinary(b, in, k.outShape, func(out, x, w []float32) {
		c := k.conv
		packed := w
		if k.sC != 1 || k.sKW != c.C || k.sKH != c.KW*c.C {
			// Element (0, 0, 0) of the filter as read: its far end along a
			// reversed axis.
			origin := max(0, -k.sKH*(c.KH-1)) + max(0, -k.sKW*(c.KW-1))
			packed = make([]float32, c.KH*c.KW*c.C)
			for ky := range c.KH {
				for kx := range c.KW {
					for ch := range c.C {
						packed[(ky*c.KW+kx)*c.C+ch] = w[origin+ky*k.sKH+kx*k.sKW+ch*k.sC]
					}
				}
			}
		}
		c.Forward(out, x, packed, runtime.GOMAXPROCS(0))
		depthwiseRuns.Add(1)
	})
}

// depthwiseFilterKernelFor covers the filter-gradient form pkg/nn writes:
// x [N,H,W,C] as the input with C as its batch (one batch group per channel)
// and N as its channels, dy [N,OH,OW,C] as the kernel (N in, C out), the
// output [KH,KW,C,1] or [KH,KW,1,C]; the forward stride is the kernel
// dilation, the forward's top/left padding the low padding.
func depthwiseFilterKernelFor(b *builder, n *node) kernel {
	a := convArgsOf(b, n)
	spatial, outSpatial := []int{1, 2}, []int{0, 1}
	if !a.float32Rank4() || a.groups != 1 || a.batchGroups < 2 ||
		a.axes.InputBatch != 3 || a.axes.InputChannels != 0 || !slices.Equal(a.axes.InputSpatial, spatial) ||
		a.axes.KernelInputChannels != 0 || a.axes.KernelOutputChannels != 3 || !slices.Equal(a.axes.KernelSpatial, spatial) ||
		!slices.Equal(a.axes.OutputSpatial, outSpatial) || a.axes.OutputBatch+a.axes.OutputChannels != 5 ||
		a.batchGroups != a.xs.Dimensions[3] || a.ks.Dimensions[3] != a.batchGroups || a.ks.Dimensions[0] != a.xs.Dimensions[0] ||
		at(a.strides, 0) != 1 || at(a.strides, 1) != 1 || at(a.inputDil, 0) != 1 || at(a.inputDil, 1) != 1 {
		return nil
	}
	g := kernels.DepthwiseFilter{
		N: a.xs.Dimensions[0], H: a.xs.Dimensions[1], W: a.xs.Dimensions[2], C: a.batchGroups,
		OH: a.ks.Dimensions[1], OW: a.ks.Dimensions[2],
		StrideH: at(a.kernelDil, 0), StrideW: at(a.kernelDil, 1),
		PadTop: a.paddings[0][0], PadLeft: a.paddings[1][0],
	}
	// The output's spatial size, as the convolution defines it.
	g.KH = a.xs.Dimensions[1] + a.paddings[0][0] + a.paddings[0][1] - (g.OH-1)*g.StrideH
	g.KW = a.xs.Dimensions[2] + a.paddings[1][0] + a.paddings[1][1] - (g.OW-1)*g.StrideW
	if g.Validate() != nil || a.out.Dimensions[0] != g.KH || a.out.Dimensions[1] != g.KW ||
		a.out.Dimensions[a.axes.OutputChannels] != g.C || a.out.Dimensions[a.axes.OutputBatch] != 1 {
		return nil
	}
	return &depthwiseFilterKernel{grad: g, outShape: a.out}
}

func (k *depthwiseFilterKernel) run(b *Backend, in []compute.Buffer) ([]compute.Buffer, error) {
	return runBinary(b, in, k.outShape, func(dw, x, dy []float32) {
		k.grad.Compute(dw, x, dy, runtime.GOMAXPROCS(0))
		depthwiseRuns.Add(1)
	})
}
