package engine

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

// Broadcasts: GoMLX writes the gradient of a mean over some axes (ResNet-18's
// global average pooling) as a BroadcastInDim of the pooled gradient back to
// the feature map's shape, [N, C] to [N, H, W, C]. A fused program reads a
// broadcast operand itself only when its kept axes are consecutive
// (kernels.Spread), so this one ran as a stock op, which walks every output
// element through index arithmetic: 1.7 ms for 1 MB in a ResNet-18 width 1/4
// batch 128 training step, more than any element-wise pass of that size.
// broadcastKernel copies the operand's contiguous runs (or repeats one
// value) instead. Broadcasts of one value and small outputs stay stock:
// fusion folds the first into its programs (scalarSource), and a native step
// for the second would split the stock segment around it for little.

// broadcastRuns counts native broadcast runs (tests check they ran).
var broadcastRuns atomic.Int64

// broadcastKernel runs BroadcastInDim of a float32 operand as runs: the
// output, seen as outer x inner elements, takes its inner run from the
// operand at offset sum(index[a] * stride[a]) over the outer axes a (copied
// when runStride is 1, one value repeated when it is 0).
type broadcastKernel struct {
	outShape  shapes.Shape
	outer     []int // the outer axes' sizes (after merging), outermost first
	strides   []int // the operand's stride along each outer axis (0: broadcast)
	inner     int   // elements of one run
	runStride int   // 1: a run is a copy of consecutive operand elements; 0: one value repeated
}

// broadcastKernelFor covers BroadcastInDim(x, outShape, axes) of a float32
// operand of more than one element into an output of at least
// minFusedSize elements.
func broadcastKernelFor(b *builder, n *node) kernel {
	if len(n.inputs) != 1 || len(n.outs) != 1 || n.outs[0] < 0 || len(n.args) < 3 {
		return nil
	}
	axes, ok := n.args[2].([]int)
	if !ok {
		return nil
	}
	in, out := b.slots[n.inputs[0]].shape, b.slots[n.outs[0]].shape
	if in.DType != dtypes.Float32 || out.DType != dtypes.Float32 || in.IsDynamic() || out.IsDynamic() ||
		in.Size() < 2 || out.Size() < minFusedSize {
		return nil
	}
	k, ok := newBroadcastKernel(in.Dimensions, out, axes)
	if !ok {
		return nil
	}
	return k
}

// newBroadcastKernel plans the broadcast of an operand of dimensions inDims
// into out, operand axis i going to output axis axes[i] (of the same size,
// or of size 1 in the operand). ok is false when axes do not make a valid
// broadcast.
func newBroadcastKernel(inDims []int, out shapes.Shape, axes []int) (*broadcastKernel, bool) {
	if len(axes) != len(inDims) {
		return nil, false
	}
	rank := out.Rank()
	stride := make([]int, rank) // the operand's stride per output axis; 0 where broadcast
	s := 1
	for i := len(inDims) - 1; i >= 0; i-- {
		a := axes[i]
		if a < 0 || a >= rank || (i+1 < len(axes) && a >= axes[i+1]) {
			return nil, false // out of range, repeated or out of order
		}
		switch d := inDims[i]; {
		case d == out.Dimensions[a]:
			if d > 1 {
				stride[a] = s
			}
		case d != 1:
			return nil, false
		}
		s *= inDims[i]
	}
	// Merge each axis into the next inner one while the pair is one run of
	// the operand: stride[a] == stride[a+1]*dims[a+1] (0 == 0 for two
	// broadcast axes). Size-1 axes merge into anything.
	var dims, strides []int
	for a := range rank {
		d, st := out.Dimensions[a], stride[a]
		if d == 1 {
			continue
		}
		if l := len(dims) - 1; l >= 0 && strides[l] == st*d {
			dims[l] *= d
			strides[l] = st
			continue
		}
		dims, strides = append(dims, d), append(strides, st)
	}
	k := &broadcastKernel{outShape: out, inner: 1}
	if l := len(dims) - 1; l >= 0 && strides[l] <= 1 {
		k.inner, k.runStride = dims[l], strides[l]
		dims, strides = dims[:l], strides[:l]
	}
	k.outer, k.strides = dims, strides
	return k, true
}

func (k *broadcastKernel) run(b *Backend, in []compute.Buffer) ([]compute.Buffer, error) {
	x, err := flat32(in[0])
	if err != nil {
		return nil, err
	}
	out, flat, err := b.pool.get(b, k.outShape)
	if err != nil {
		return nil, err
	}
	k.apply(flat, x, runtime.GOMAXPROCS(0))
	broadcastRuns.Add(1)
	return []compute.Buffer{out}, nil
}

// broadcastChunk is the fewest output elements a worker takes: smaller
// broadcasts run on one goroutine.
const broadcastChunk = 1 << 16

// apply writes the broadcast of x into out, the runs split over workers.
func (k *broadcastKernel) apply(out, x []float32, workers int) {
	runs := len(out) / k.inner
	workers = max(1, min(workers, len(out)/broadcastChunk, runs))
	if workers == 1 {
		k.runs(out, x, 0, runs)
		return
	}
	per := (runs + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { k.runs(out, x, w*per, min(runs, (w+1)*per)) })
	}
	wg.Wait()
}

// runs writes output runs [lo, hi).
func (k *broadcastKernel) runs(out, x []float32, lo, hi int) {
	if lo >= hi {
		return
	}
	// The outer index of run lo, and the operand offset it reads.
	idx := make([]int, len(k.outer))
	off, r := 0, lo
	for a := len(k.outer) - 1; a >= 0; a-- {
		idx[a] = r % k.outer[a]
		r /= k.outer[a]
		off += idx[a] * k.strides[a]
	}
	for run := lo; run < hi; run++ {
		dst := out[run*k.inner : (run+1)*k.inner]
		if k.runStride == 1 {
			copy(dst, x[off:off+k.inner])
		} else {
			v := x[off]
			for i := range dst {
				dst[i] = v
			}
		}
		// Next outer index, odometer style.
		for a := len(k.outer) - 1; a >= 0; a-- {
			idx[a]++
			off += k.strides[a]
			if idx[a] < k.outer[a] {
				break
			}
			off -= idx[a] * k.strides[a]
			idx[a] = 0
		}
	}
}
