package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/mlsysrep/mlsysrep/pkg/backend/purego"
)

func randomTensor(rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

type convCase struct {
	batch, size, in, out, kernel, stride, dilation int
	pads                                           [2][2]int
}

func (c convCase) String() string {
	return fmt.Sprintf("n%d_s%d_c%d-%d_k%d_st%d_d%d_p%v", c.batch, c.size, c.in, c.out, c.kernel, c.stride, c.dilation, c.pads)
}

// convAndGradients computes the convolution and the gradients of
// sum(conv * v) with respect to input and kernel, on one backend.
func convAndGradients(t *testing.T, backend compute.Backend, c convCase, x, k, v []float32) [3][]float32 {
	t.Helper()
	exec, err := graph.NewExec(backend, func(x, k, v *graph.Node) []*graph.Node {
		y := graph.Convolve(x, k).StridePerAxis(c.stride, c.stride).DilationPerAxis(c.dilation, c.dilation).
			PaddingPerDim([][2]int{c.pads[0], c.pads[1]}).Done()
		grads := graph.Gradient(graph.ReduceAllSum(graph.Mul(y, v)), x, k)
		return []*graph.Node{y, grads[0], grads[1]}
	})
	if err != nil {
		t.Fatal(err)
	}
	outSize := func(pad [2]int) int {
		return (c.size+pad[0]+pad[1]-c.dilation*(c.kernel-1)-1)/c.stride + 1
	}
	oh, ow := outSize(c.pads[0]), outSize(c.pads[1])
	outs, err := exec.Call(
		tensors.FromFlatDataAndDimensions(x, c.batch, c.size, c.size, c.in),
		tensors.FromFlatDataAndDimensions(k, c.kernel, c.kernel, c.in, c.out),
		tensors.FromFlatDataAndDimensions(v[:c.batch*oh*ow*c.out], c.batch, oh, ow, c.out))
	if err != nil {
		t.Fatal(err)
	}
	var res [3][]float32
	for i := range res {
		res[i] = tensors.MustCopyFlatData[float32](outs[i])
	}
	return res
}

// TestConvMatchesStock runs convolutions and their gradients on engine v2
// (native kernel) and on the v1 engine, over randomized shapes.
func TestConvMatchesStock(t *testing.T) {
	v1, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	v2 := mustNew(t, "")
	cases := []convCase{
		{batch: 1, size: 5, in: 1, out: 1, kernel: 3, stride: 1, dilation: 1, pads: [2][2]int{{1, 1}, {1, 1}}},
		{batch: 3, size: 8, in: 3, out: 16, kernel: 3, stride: 1, dilation: 1, pads: [2][2]int{{1, 1}, {1, 1}}},
		{batch: 2, size: 9, in: 17, out: 31, kernel: 3, stride: 2, dilation: 1, pads: [2][2]int{{1, 1}, {1, 1}}},
		{batch: 2, size: 7, in: 33, out: 130, kernel: 1, stride: 1, dilation: 1},
		{batch: 1, size: 6, in: 130, out: 17, kernel: 1, stride: 2, dilation: 1},
		{batch: 2, size: 10, in: 16, out: 16, kernel: 3, stride: 1, dilation: 2, pads: [2][2]int{{2, 2}, {2, 2}}},
		{batch: 1, size: 8, in: 5, out: 7, kernel: 3, stride: 1, dilation: 1, pads: [2][2]int{{0, 1}, {1, 0}}},
		{batch: 2, size: 9, in: 64, out: 64, kernel: 5, stride: 1, dilation: 1, pads: [2][2]int{{2, 2}, {2, 2}}},
		{batch: 1, size: 6, in: 8, out: 8, kernel: 3, stride: 1, dilation: 1},
		// 1x1 with stride 1: kernels.Pointwise for the forward and the
		// input gradient, and with fewer than 16 channels on a side or
		// 4096 pixels for the kernel gradient too.
		{batch: 4, size: 32, in: 16, out: 24, kernel: 1, stride: 1, dilation: 1},
		{batch: 2, size: 6, in: 12, out: 72, kernel: 1, stride: 1, dilation: 1},
		{batch: 3, size: 5, in: 72, out: 12, kernel: 1, stride: 1, dilation: 1},
		{batch: 1, size: 7, in: 5, out: 7, kernel: 1, stride: 1, dilation: 1},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			x := randomTensor(rng, c.batch*c.size*c.size*c.in).Value().([]float32)
			k := randomTensor(rng, c.kernel*c.kernel*c.in*c.out).Value().([]float32)
			v := randomTensor(rng, c.batch*c.size*c.size*c.out).Value().([]float32)
			want := convAndGradients(t, v1, c, x, k, v)
			stockOps := recordStockOps(t)
			before, pointwiseBefore, filterBefore := convRuns.Load(), pointwiseRuns.Load(), pointwiseFilterRuns.Load()
			got := convAndGradients(t, v2, c, x, k, v)
			if slices.Contains(*stockOps, "Reverse") {
				t.Errorf("the kernel's Reverse ran in a stock segment (%v): the input gradient should read the kernel reversed", *stockOps)
			}
			if ran := convRuns.Load() - before; ran != 3 {
				t.Errorf("%d native convolutions ran, want 3 (forward, input gradient, kernel gradient)", ran)
			}
			wantPointwise, wantFilter := int64(0), int64(0)
			if c.kernel == 1 && c.stride == 1 {
				wantPointwise = 2 // the forward and the input gradient
				if c.in < 16 || c.out < 16 || c.batch*c.size*c.size >= 4096 {
					wantFilter = 1
				}
			}
			if ran := pointwiseRuns.Load() - pointwiseBefore; ran != wantPointwise {
				t.Errorf("%d pointwise products ran, want %d", ran, wantPointwise)
			}
			if ran := pointwiseFilterRuns.Load() - filterBefore; ran != wantFilter {
				t.Errorf("%d pointwise kernel gradients ran, want %d", ran, wantFilter)
			}
			for i, name := range []string{"output", "input gradient", "kernel gradient"} {
				if e := relErr(got[i], want[i]); e > 1e-5 {
					t.Errorf("%s: relative error %.3g > 1e-5", name, e)
				}
			}
		})
	}
}

// relErr is max |a-b| / max |b|.
func relErr(a, b []float32) float64 {
	var diff, scale float64
	for i := range b {
		diff = math.Max(diff, math.Abs(float64(a[i])-float64(b[i])))
		scale = math.Max(scale, math.Abs(float64(b[i])))
	}
	if len(a) != len(b) {
		return math.Inf(1)
	}
	return diff / math.Max(scale, 1e-30)
}
