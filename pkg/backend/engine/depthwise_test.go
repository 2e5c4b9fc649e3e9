package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/mlsysrep/mlsysrep/pkg/backend/purego"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
)

type depthwiseCase struct{ batch, h, w, c, k, stride int }

func (c depthwiseCase) String() string {
	return fmt.Sprintf("n%d_%dx%d_c%d_k%d_s%d", c.batch, c.h, c.w, c.c, c.k, c.stride)
}

// depthwiseAndGradients computes nn.Depthwise and the gradients of
// sum(y * v) with respect to its input and filter, on one backend.
func depthwiseAndGradients(t *testing.T, backend compute.Backend, c depthwiseCase, x, w, v *tensors.Tensor) [3][]float32 {
	t.Helper()
	exec, err := graph.NewExec(backend, func(x, w, v *graph.Node) []*graph.Node {
		y := nn.Depthwise(x, w, c.stride)
		grads := graph.Gradient(graph.ReduceAllSum(graph.Mul(y, v)), x, w)
		return []*graph.Node{y, grads[0], grads[1]}
	})
	if err != nil {
		t.Fatal(err)
	}
	// A tensor is bound to the first backend that uses it: give each its own.
	fresh := func(t *tensors.Tensor) *tensors.Tensor {
		return tensors.FromFlatDataAndDimensions(tensors.MustCopyFlatData[float32](t), t.Shape().Dimensions...)
	}
	outs, err := exec.Call(fresh(x), fresh(w), fresh(v))
	if err != nil {
		t.Fatal(err)
	}
	var res [3][]float32
	for i := range res {
		res[i] = tensors.MustCopyFlatData[float32](outs[i])
	}
	return res
}

// TestDepthwiseMatchesStock runs the depthwise convolution and both its
// gradients on engine v2 (native kernels: all three must run) and on the v1
// engine, over odd and even sizes, channel counts around the vector widths,
// kernels 1, 3 and 5 and strides 1 and 2. (With one channel a depthwise
// convolution is an ordinary one, and runs on the ordinary kernels.)
func TestDepthwiseMatchesStock(t *testing.T) {
	v1, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	v2 := mustNew(t, "")
	cases := []depthwiseCase{
		{1, 5, 5, 2, 3, 1}, {2, 8, 8, 16, 3, 1}, {2, 8, 8, 24, 3, 2}, {3, 7, 9, 17, 3, 2},
		{2, 6, 6, 130, 3, 1}, {1, 9, 7, 33, 5, 2}, {2, 6, 5, 8, 5, 1}, {2, 7, 7, 9, 1, 2},
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			o := func(size int) int { return (size+2*(c.k/2)-c.k)/c.stride + 1 }
			x := randomTensor(rng, c.batch, c.h, c.w, c.c)
			w := randomTensor(rng, c.k, c.k, c.c)
			v := randomTensor(rng, c.batch, o(c.h), o(c.w), c.c)
			want := depthwiseAndGradients(t, v1, c, x, w, v)
			stockOps := recordStockOps(t)
			before := depthwiseRuns.Load()
			got := depthwiseAndGradients(t, v2, c, x, w, v)
			if slices.Contains(*stockOps, "Reverse") {
				t.Errorf("the kernel's Reverse ran in a stock segment (%v): the input gradient should read the kernel reversed", *stockOps)
			}
			if ran := depthwiseRuns.Load() - before; ran != 3 {
				t.Errorf("%d native depthwise kernels ran, want 3 (forward, input gradient, filter gradient)", ran)
			}
			for i, name := range []string{"output", "input gradient", "filter gradient"} {
				if e := relErr(got[i], want[i]); e > 1e-5 {
					t.Errorf("%s: relative error %.3g > 1e-5", name, e)
				}
			}
		})
	}
}
