package engine

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
	"github.com/mlsysrep/mlsysrep/pkg/backend/kernels"
)

// pointwiseKernel runs a 1x1 convolution with stride 1 and no padding
// (MobileNetV2's expansions and projections, forward and input gradient) on
// kernels.Pointwise, which reads the input in place, where Conv2D.Forward
// first packs it into 16-channel blocks. On its assembly kernels it is as
// fast or faster on every MobileNetV2 width 0.5 batch 96 shape (AVX2, two
// runs, ms against Conv2D's): 16 -> 16 at 32x32 0.40-0.54 against
// 0.67-0.84, 72 -> 16 at 16x16 0.46-0.54 against 0.82-1.06, from 16 -> 96
// to 640 -> 160 within 10% either way.
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

// asPointwise gives convolution c as a product when it is one: 1x1, stride
// 1, no padding, no input dilation, and Pointwise not switched off.
func asPointwise(c kernels.Conv2D) (kernels.Pointwise, bool) {
	if listed(OffEnvVar, pointwiseOff) || c.KH != 1 || c.KW != 1 || c.StrideH != 1 || c.StrideW != 1 || c.PadTop != 0 || c.PadBottom != 0 ||
		c.PadLeft != 0 || c.PadRight != 0 || c.InDilH > 1 || c.InDilW > 1 {
		return kernels.Pointwise{}, false
	}
	return kernels.Pointwise{Pixels: c.N * c.H * c.W, C: c.C, O: c.O}, true
}

// pointwiseFor returns the kernel for a convolution convKernelFor built,
// when it is such a product.
func pointwiseFor(k *convKernel) *pointwiseKernel {
	pw, ok := asPointwise(k.conv)
	if !ok {
		return nil
	}
	return &pointwiseKernel{pw: pw, sCI: k.sCI, sCO: k.sCO, outShape: k.outShape, spatial: k.spatial}
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
// pointwiseFor would run forward on kernels.Pointwise.BackwardFilter, which
// reads x and dy in place where Conv2D.BackwardFilter packs both into
// 16-channel blocks, when it has fewer than 16 input or output channels or
// at least pointwiseFilterPixels pixels. Its fixed chunks of 1024 pixels
// are the units the workers share: with fewer than four, one core waits
// (MobileNetV2's 4x4 layers at batch 96 have 1.5 chunks, and there
// Conv2D's kernel is as fast: 80 -> 480 1.07-1.62 ms against 1.31-1.56).
// From 8x8 on Pointwise is faster (AVX2, two runs, ms against Conv2D's):
// 16 -> 96 at 16x16 0.66-0.96 against 1.03-1.42, 288 -> 48 at 8x8
// 1.49-1.79 against 1.87-2.36, 16 -> 16 at 32x32 0.51-0.76 against
// 1.11-1.12.
type pointwiseFilterKernel struct {
	pw       kernels.Pointwise
	outShape shapes.Shape
}

// pointwiseFilterOff is the name MLSYSREP_ENGINE_OFF takes to run these
// kernel gradients alone on Conv2D.BackwardFilter ("Pointwise" turns off
// the forward and input gradient too).
const pointwiseFilterOff = "PointwiseFilter"

// pointwiseFilterPixels is the pixels from which every 1x1 kernel gradient
// runs on Pointwise: four of its chunks.
const pointwiseFilterPixels = 4 * 1024

// pointwiseFilterFor tells whether a kernel gradient's forward convolution
// is such a product, and gives it.
func pointwiseFilterFor(c kernels.Conv2D) (kernels.Pointwise, bool) {
	pw, ok := asPointwise(c)
	if !ok || listed(OffEnvVar, pointwiseFilterOff) || (pw.C >= 16 && pw.O >= 16 && pw.Pixels < pointwiseFilterPixels) {
		return kernels.Pointwise{}, false
	}
	return pw, true
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
