package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/mlsysrep/mlsysrep/pkg/backend/purego"
)

// broadcastCase broadcasts an operand of dimensions in to out: with
// ExpandAndBroadcast when expanded names new axes, else BroadcastToDims
// (size-1 axes of the operand spread). Both become one BroadcastInDim.
type broadcastCase struct {
	in, out  []int
	expanded []int
}

func (c broadcastCase) String() string { return fmt.Sprintf("%v_to_%v_new%v", c.in, c.out, c.expanded) }

// broadcastOn runs the case's broadcast, and the broadcast times a tensor of
// its output shape (a fused program reading the native output), on one
// backend.
func broadcastOn(t *testing.T, backend compute.Backend, c broadcastCase, x, y []float32) [2][]float32 {
	t.Helper()
	exec, err := graph.NewExec(backend, func(x, y *graph.Node) []*graph.Node {
		var b *graph.Node
		if c.expanded != nil {
			b = graph.ExpandAndBroadcast(x, c.out, c.expanded)
		} else {
			b = graph.BroadcastToDims(x, c.out...)
		}
		return []*graph.Node{b, graph.Mul(b, y)}
	})
	if err != nil {
		t.Fatal(err)
	}
	outs, err := exec.Call(tensors.FromFlatDataAndDimensions(append([]float32(nil), x...), c.in...),
		tensors.FromFlatDataAndDimensions(append([]float32(nil), y...), c.out...))
	if err != nil {
		t.Fatal(err)
	}
	return [2][]float32{tensors.MustCopyFlatData[float32](outs[0]), tensors.MustCopyFlatData[float32](outs[1])}
}

// TestBroadcastMatchesStock runs BroadcastInDim natively on engine v2 and as
// the v1 engine's stock op, bit for bit (NaN and both zeros planted), on
// the average-pooling gradient's [N, C] -> [N, H, W, C], per-channel and
// per-example spreads, new inner and outer axes, and a kept axis between
// two broadcast ones.
func TestBroadcastMatchesStock(t *testing.T) {
	defer func(size int) { minFusedSize = size }(minFusedSize)
	minFusedSize = 2 // small cases run natively too
	v1, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	v2 := mustNew(t, "")
	cases := []broadcastCase{
		{in: []int{6, 16}, out: []int{6, 4, 4, 16}, expanded: []int{1, 2}}, // global average pooling's gradient
		{in: []int{1, 1, 1, 5}, out: []int{3, 4, 2, 5}},                    // per channel
		{in: []int{3, 1, 1, 1}, out: []int{3, 4, 2, 5}},                    // per example
		{in: []int{2, 1, 7}, out: []int{2, 3, 7}},                          // a kept axis on each side
		{in: []int{1, 6, 1}, out: []int{4, 6, 3}},                          // kept between two broadcast axes
		{in: []int{5, 7}, out: []int{5, 2, 7, 3}, expanded: []int{1, 3}},   // new axes between and inside
		{in: []int{9}, out: []int{4, 9}, expanded: []int{0}},               // a new outer axis
		{in: []int{9}, out: []int{9, 4}, expanded: []int{1}},               // a new inner axis: runs of one value
	}
	rng := rand.New(rand.NewPCG(3, 9))
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			x := make([]float32, prod(c.in))
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			x[0] = float32(math.NaN())
			if len(x) > 2 {
				x[1], x[2] = float32(math.Copysign(0, -1)), 0
			}
			y := make([]float32, prod(c.out))
			for i := range y {
				y[i] = float32(rng.NormFloat64())
			}
			before := broadcastRuns.Load()
			got := broadcastOn(t, v2, c, x, y)
			if broadcastRuns.Load() == before {
				t.Fatal("the native broadcast did not run")
			}
			want := broadcastOn(t, v1, c, x, y)
			for k, name := range []string{"broadcast", "broadcast * y"} {
				if !slices.EqualFunc(got[k], want[k], func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
					t.Errorf("%s: native %v, stock %v", name, got[k], want[k])
				}
			}
		})
	}
}

// TestBroadcastKernelPlan checks how runs are found: axes merged into one
// run where the operand is contiguous, and the plans that are refused.
func TestBroadcastKernelPlan(t *testing.T) {
	for _, c := range []struct {
		in, out, axes    []int
		ok               bool
		outer, strides   []int
		inner, runStride int
	}{
		{in: []int{128, 128}, out: []int{128, 4, 4, 128}, axes: []int{0, 3}, ok: true,
			outer: []int{128, 16}, strides: []int{128, 0}, inner: 128, runStride: 1},
		{in: []int{1, 1, 1, 16}, out: []int{8, 2, 2, 16}, axes: []int{0, 1, 2, 3}, ok: true,
			outer: []int{32}, strides: []int{0}, inner: 16, runStride: 1},
		{in: []int{8, 1}, out: []int{8, 5}, axes: []int{0, 1}, ok: true,
			outer: []int{8}, strides: []int{1}, inner: 5, runStride: 0},
		{in: []int{3, 4}, out: []int{3, 4}, axes: []int{0, 1}, ok: true,
			outer: nil, strides: nil, inner: 12, runStride: 1},
		{in: []int{3, 4}, out: []int{4, 3}, axes: []int{1, 0}, ok: false}, // a transposition
		{in: []int{3}, out: []int{4, 5}, axes: []int{0}, ok: false},       // 3 into 4
		{in: []int{3}, out: []int{4, 3}, axes: []int{2}, ok: false},       // no such axis
		{in: []int{3, 1}, out: []int{3, 5}, axes: []int{0}, ok: false},    // an axis too few
	} {
		k, ok := newBroadcastKernel(c.in, shapes.Make(dtypes.Float32, c.out...), c.axes)
		if ok != c.ok {
			t.Errorf("%v -> %v along %v: ok = %v, want %v", c.in, c.out, c.axes, ok, c.ok)
			continue
		}
		if !ok {
			continue
		}
		if !slices.Equal(k.outer, c.outer) || !slices.Equal(k.strides, c.strides) || k.inner != c.inner || k.runStride != c.runStride {
			t.Errorf("%v -> %v along %v: outer %v strides %v inner %d runStride %d, want %v %v %d %d",
				c.in, c.out, c.axes, k.outer, k.strides, k.inner, k.runStride, c.outer, c.strides, c.inner, c.runStride)
		}
	}
}

func prod(dims []int) int {
	p := 1
	for _, d := range dims {
		p *= d
	}
	return p
}
