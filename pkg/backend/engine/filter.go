package engine

import (
	"runtime"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
	"github.com/mlsysrep/mlsysrep/pkg/backend/kernels"
)

// filterKernel runs the kernel gradient of an NHWC convolution on
// kernels.Conv2D.BackwardFilter.
//
// GoMLX writes the kernel gradient of y = conv(x, w) as another ConvGeneral:
// x [N,H,W,C] is its input with batch and channel axes swapped (C is its
// "batch", N its "channels"), dy [N,OH,OW,O] its kernel (N in, O out), the
// output [KH,KW,C,O] (C "batch", O channels, KH,KW spatial); the forward
// stride becomes its kernel dilation and the forward kernel dilation its
// stride; its paddings are the forward's low paddings, the high ones trimmed
// to what the output needs.
type filterKernel struct {
	conv     kernels.Conv2D // the forward convolution
	outShape shapes.Shape
}

func filterKernelFor(b *builder, n *node) kernel {
	a := convArgsOf(b, n)
	xs, dys, out, axes := a.xs, a.ks, a.out, a.axes
	strides, paddings, inputDil, kernelDil := a.strides, a.paddings, a.inputDil, a.kernelDil
	if !a.float32Rank4() || a.groups != 1 || a.batchGroups != 1 {
		return nil
	}
	spatial := []int{1, 2}
	if axes.InputBatch != 3 || axes.InputChannels != 0 || !slices.Equal(axes.InputSpatial, spatial) ||
		axes.KernelInputChannels != 0 || axes.KernelOutputChannels != 3 || !slices.Equal(axes.KernelSpatial, spatial) ||
		axes.OutputBatch != 2 || axes.OutputChannels != 3 || !slices.Equal(axes.OutputSpatial, []int{0, 1}) {
		return nil
	}
	for _, d := range inputDil {
		if d != 1 {
			return nil
		}
	}
	oh, ow := dys.Dimensions[1], dys.Dimensions[2]
	c := kernels.Conv2D{
		N: xs.Dimensions[0], H: xs.Dimensions[1], W: xs.Dimensions[2], C: xs.Dimensions[3],
		KH: out.Dimensions[0], KW: out.Dimensions[1], O: dys.Dimensions[3],
		StrideH: at(kernelDil, 0), StrideW: at(kernelDil, 1),
		DilH: at(strides, 0), DilW: at(strides, 1),
		PadTop: paddings[0][0], PadLeft: paddings[1][0],
	}
	// The high paddings that make the forward output OH x OW.
	c.PadBottom = (oh-1)*c.StrideH + c.DilH*(c.KH-1) + 1 - c.H - c.PadTop
	c.PadRight = (ow-1)*c.StrideW + c.DilW*(c.KW-1) + 1 - c.W - c.PadLeft
	if dys.Dimensions[0] != c.N || out.Dimensions[2] != c.C || out.Dimensions[3] != c.O ||
		c.Validate() != nil || c.OutH() != oh || c.OutW() != ow {
		return nil
	}
	if pw, ok := pointwiseFilterFor(c); ok {
		return &pointwiseFilterKernel{pw: pw, outShape: out}
	}
	return &filterKernel{conv: c, outShape: out}
}

func (k *filterKernel) run(b *Backend, in []compute.Buffer) ([]compute.Buffer, error) {
	return runBinary(b, in, k.outShape, func(dw, x, dy []float32) {
		k.conv.BackwardFilter(dw, x, dy, runtime.GOMAXPROCS(0))
		convRuns.Add(1)
	})
}
