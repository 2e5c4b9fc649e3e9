package engine

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/mlsysrep/mlsysrep/pkg/backend/kernels"
)

// convKernel runs a 2-D convolution with batch-first, channels-last input and
// output (the layout the models use) on kernels.Conv2D. The kernel tensor may
// have its axes in any order: GoMLX's input gradient at stride 1 is such a
// convolution with the kernel's channel axes swapped, so it runs here too.
type convKernel struct {
	conv     kernels.Conv2D
	outShape shapes.Shape
	// element strides of the kernel tensor's kh, kw, input and output
	// channel axes, for packing (negative: read reversed, see reverse.go).
	sKH, sKW, sCI, sCO int
	spatial            [2]int    // the kernel tensor's kh and kw axes
	packed             sync.Pool // *[]float32 of conv.PackedSize()
}

// flipped implements kernelFlipper.
func (k *convKernel) flipped(axes []int) kernel {
	sKH, sKW, ok := flipAxes(axes, k.spatial, k.sKH, k.sKW)
	if !ok {
		return nil
	}
	return &convKernel{conv: k.conv, outShape: k.outShape, sKH: sKH, sKW: sKW, sCI: k.sCI, sCO: k.sCO, spatial: k.spatial}
}

// convKernelFor covers ConvGeneral with 2 spatial axes, float32, no groups,
// NHWC input and output; any kernel axis order, stride, padding, kernel and
// input dilation (GoMLX's input gradient of a strided convolution). The
// kernel gradient, a ConvGeneral with its own axis layout, goes to
// filterKernelFor; depthwise convolutions and their gradients to
// depthwiseKernelFor and depthwiseFilterKernelFor.
func convKernelFor(b *builder, n *node) kernel {
	if k := filterKernelFor(b, n); k != nil {
		return k
	}
	if k := depthwiseKernelFor(b, n); k != nil {
		return k
	}
	if k := depthwiseFilterKernelFor(b, n); k != nil {
		return k
	}
	a := convArgsOf(b, n)
	xs, ks, axes := a.xs, a.ks, a.axes
	if xs.DType != dtypes.Float32 || ks.DType != dtypes.Float32 || xs.Rank() != 4 || ks.Rank() != 4 ||
		a.groups != 1 || a.batchGroups != 1 {
		return nil
	}
	nhwc := []int{1, 2}
	if axes.InputBatch != 0 || axes.InputChannels != 3 || !slices.Equal(axes.InputSpatial, nhwc) ||
		axes.OutputBatch != 0 || axes.OutputChannels != 3 || !slices.Equal(axes.OutputSpatial, nhwc) {
		return nil
	}
	c := kernels.Conv2D{
		N: xs.Dimensions[0], H: xs.Dimensions[1], W: xs.Dimensions[2], C: xs.Dimensions[3],
		KH: ks.Dimensions[axes.KernelSpatial[0]], KW: ks.Dimensions[axes.KernelSpatial[1]],
		O:       ks.Dimensions[axes.KernelOutputChannels],
		StrideH: at(a.strides, 0), StrideW: at(a.strides, 1),
		DilH: at(a.kernelDil, 0), DilW: at(a.kernelDil, 1),
		InDilH: at(a.inputDil, 0), InDilW: at(a.inputDil, 1),
	}
	if p := a.paddings; len(p) == 2 {
		c.PadTop, c.PadBottom, c.PadLeft, c.PadRight = p[0][0], p[0][1], p[1][0], p[1][1]
	}
	if ks.Dimensions[axes.KernelInputChannels] != c.C || c.Validate() != nil {
		return nil
	}
	kstrides := make([]int, 4)
	stride := 1
	for axis := 3; axis >= 0; axis-- {
		kstrides[axis] = stride
		stride *= ks.Dimensions[axis]
	}
	k := &convKernel{conv: c,
		outShape: shapes.Make(dtypes.Float32, c.N, c.OutH(), c.OutW(), c.O),
		sKH:      kstrides[axes.KernelSpatial[0]], sKW: kstrides[axes.KernelSpatial[1]],
		sCI: kstrides[axes.KernelInputChannels], sCO: kstrides[axes.KernelOutputChannels],
		spatial: [2]int{axes.KernelSpatial[0], axes.KernelSpatial[1]},
	}
	if out := b.slots[n.outs[0]].shape; !out.Equal(k.outShape) {
		return nil // not the convolution this kernel computes: leave it to the stock op.
	}
	if p := pointwiseFor(k); p != nil {
		return p
	}
	return k
}

func (k *convKernel) run(b *Backend, in []compute.Buffer) ([]compute.Buffer, error) {
	return runBinary(b, in, k.outShape, func(out, x, w []float32) {
		withPacked(&k.packed, k.conv.PackedSize(), func(packed []float32) {
			k.conv.PackWeights(packed, w, k.sKH, k.sKW, k.sCI, k.sCO, runtime.GOMAXPROCS(0))
			k.conv.Forward(out, x, packed, runtime.GOMAXPROCS(0))
		})
		convRuns.Add(1)
	})
}

// withPacked runs f with a packed-weights buffer of size floats taken from
// pool (a kernel's own, so every buffer in it has that size) and put back
// for the next call.
func withPacked(pool *sync.Pool, size int, f func(packed []float32)) {
	packed, _ := pool.Get().(*[]float32)
	if packed == nil {
		p := make([]float32, size)
		packed = &p
	}
	defer pool.Put(packed)
	f(*packed)
}

// runBinary runs a kernel of two float32 inputs and one output of the given
// shape, taken from the pool.
func runBinary(b *Backend, in []compute.Buffer, shape shapes.Shape, kernel func(out, x, y []float32)) ([]compute.Buffer, error) {
	x, err := flat32(in[0])
	if err != nil {
		return nil, err
	}
	y, err := flat32(in[1])
	if err != nil {
		return nil, err
	}
	out, flat, err := b.pool.get(b, shape)
	if err != nil {
		return nil, err
	}
	kernel(flat, x, y)
	return []compute.Buffer{out}, nil
}

// convRuns, bnRuns and reluRuns count native kernel runs (tests check the
// kernels really ran).
var convRuns, bnRuns, reluRuns atomic.Int64

// flat32 is a buffer's float32 storage, without a copy.
func flat32(buf compute.Buffer) ([]float32, error) {
	data, err := buf.Data()
	if err != nil {
		return nil, err
	}
	return data.([]float32), nil
}
