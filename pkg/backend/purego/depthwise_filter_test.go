package purego

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
)

// TestDepthwiseGradientsMatchDirect runs nn.Depthwise and its two gradients
// (a depthwise convolution and the batch-grouped filter gradient, which
// lowerDepthwiseFilter takes) on engine v1 and on the Go backend's direct
// convolution, at strides 1 and 2, kernels 1, 3 and 5, odd sizes.
func TestDepthwiseGradientsMatchDirect(t *testing.T) {
	ours, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ n, h, w, c, k, stride int }{
		{2, 7, 6, 5, 3, 1}, {2, 8, 8, 4, 3, 2}, {1, 9, 7, 3, 5, 2}, {3, 5, 6, 6, 1, 2}, {2, 6, 6, 17, 3, 1},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("n%d_%dx%d_c%d_k%d_s%d", c.n, c.h, c.w, c.c, c.k, c.stride), func(t *testing.T) {
			run := func(be compute.Backend) [][]float32 {
				exec, err := graph.NewExec(be, func(x, w *graph.Node) []*graph.Node {
					y := nn.Depthwise(x, w, c.stride)
					v := graph.Cos(graph.IotaLike(y, 1))
					return append([]*graph.Node{y}, graph.Gradient(graph.ReduceAllSum(graph.Mul(y, v)), x, w)...)
				})
				if err != nil {
					t.Fatal(err)
				}
				rng := rand.New(rand.NewPCG(uint64(i), 7)) // the same inputs on both backends
				outs, err := exec.Call(randomTensor(rng, c.n, c.h, c.w, c.c), randomTensor(rng, c.k, c.k, c.c))
				if err != nil {
					t.Fatal(err)
				}
				var flat [][]float32
				for _, o := range outs {
					flat = append(flat, tensors.MustCopyFlatData[float32](o))
				}
				return flat
			}
			want := run(gobackend.GetBackend())
			got := run(ours)
			for j, what := range []string{"output", "grad input", "grad filter"} {
				if err := closeEnough(got[j], want[j], 1e-4); err != nil {
					t.Errorf("%s: %v", what, err)
				}
			}
		})
	}
}
