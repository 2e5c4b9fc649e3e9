package engine

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
	"github.com/mlsysrep/mlsysrep/pkg/backend/kernels"
)

// pointwiseKernel runs a 1x1 convolution with stride 1 and no padding whose
// input or output has fewer than 16 channels (MobileNetV2's 12- and
// 8-channel projections and the expansions from them, forward and input
// gradient) on kernels.Pointwise, which reads the input in place: there
// Conv2D.Forward's packing and 16-channel blocks cost more than the
// product. BenchmarkPointwise against BenchmarkConv2DForward (AVX2, batch
// 96, 32x32): 12 -> 72 2.5 against 3.2 ms, 8 -> 48 1.4-1.5 against 2.0-2.3,
// 72 -> 12 3.7-4.2 against 4.3-4.7; from 16 channels on both sides Conv2D
// is faster (96 -> 16 at 16x16: 1.0-1.3 against 0.8-0.9).
type pointwiseKernel struct {
	pw       kernels.Pointwise
	sCI, sCO int // element strides of the kernel tensor's channel axes
	outShape shapes.Shape
	spatial  [2]int    // the kernel tensor's kh and kw axes (size 1: reading them reversed changes nothing)
	packed   sync.Pool // *[]float32 of pw.PackedSize()
}

// pointwiseOff is the name MLSYSREP_ENGINE_OFF takes to run these
// convolutions on Conv2D instead, to compare.
const pointwiseOff = "Pointwise"

// pointwiseFor returns the kernel for a convolution convKernelFor built,
// when it is such a product.
func pointwiseFor(k *convKernel) *pointwiseKernel {
	c := k.conv
	if listed(OffEnvVar, pointwiseOff) || c.KH != 1 || c.KW != 1 || c.StrideH != 1 || c.StrideW != 1 || c.PadTop != 0 || c.PadBottom != 0 ||
		c.PadLeft != 0 || c.PadRight != 0 || c.InDilH > 1 || c.InDilW > 1 || (c.C >= 16 && c.O >= 16) {
		return nil
	}
	return &pointwiseKernel{pw: kernels.Pointwise{Pixels: c.N * c.H * c.W, C: c.C, O: c.O},
		sCI: k.sCI, sCO: k.sCO, outShape: k.outShape, spatial: k.spatial}
}

// flipped implements kernelFlipper: reversing the 1x1 spatial axes reads
// the same kernel.
func (k *pointwiseKernel) flipped(axes []int) kernel {
	if _, _, ok := flipAxes(axes, k.spatial, 0, 0); !ok {
		return nil
	}
	return &pointwiseKernel{pw: k.pw, sCI: k.sCI, sCO: k.sCO, outShape: k.outShape, spatial: k.spatial}
}

// pointwiseRuns counts pointwise runs (tests check the kernel is chosen).
var pointwiseRuns atomic.Int64

func (k *pointwiseKernel) run(b *Backend, in []compute.Buffer) ([]compute.Buffer, error) {
	return runBinary(b, in, k.outShape, func(out, x, w []float32) {
		withPacked(&k.packed, k.pw.PackedSize(), func(packed []float32) {
			k.pw.Pack(packed, w, k.sCI, k.sCO)
			k.pw.Forward(out, x, packed, runtime.GOMAXPROCS(0))
		})
		convRuns.Add(1)
		pointwiseRuns.Add(1)
	})
}

// pointwiseFilterKernel runs the kernel gradient of a 1x1 convolution that
// pointwiseFor would run forward (stride 1, no padding, fewer than 16 input
// or output channels) on kernels.Pointwise.BackwardFilter, which reads x and
// dy in place where Conv2D.BackwardFilter packs both into 16-channel blocks.
type pointwiseFilterKernel struct {
	pw       kernels.Pointwise
	outShape shapes.Shape
}

// pointwiseFilterOff is the name MLSYSREP_ENGINE_OFF takes to run these
// kernel gradients alone on Conv2D.BackwardFilter ("Pointwise" turns off
// the forward and input gradient too).
const pointwiseFilterOff = "PointwiseFilter"

// pointwiseFilterFor tells whether a kernel gradient's forward convolution
// is such a product, and gives it.
func pointwiseFilterFor(c kernels.Conv2D) (kernels.Pointwise, bool) {
	if listed(OffEnvVar, pointwiseOff) || listed(OffEnvVar, pointwiseFilterOff) || c.KH != 1 || c.KW != 1 || c.StrideH != 1 || c.StrideW != 1 || c.PadTop != 0 ||
		c.PadBottom != 0 || c.PadLeft != 0 || c.PadRight != 0 || (c.C >= 16 && c.O >= 16) {
		return kernels.Pointwise{}, false
	}
	return kernels.Pointwise{Pixels: c.N * c.H * c.W, C: c.C, O: c.O}, true
}

// pointwiseFilterRuns counts its runs (tests check the kernel is chosen).
var pointwiseFilterRuns atomic.Int64

func (k *pointwiseFilterKernel) run(b *Backend, in []compute.Buffer) ([]compute.Buffer, error) {
	return runBinary(b, in, k.outShape, func(dw, x, dy []float32) {
		k.pw.BackwardFilter(dw, x, dy, runtime.GOMAXPROCS(0))
		convRuns.Add(1)
		pointwiseFilterRuns.Add(1)
	})
}
