package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/pkg/backend"
)

func randTensor(seed uint64, dims ...int) *tensors.Tensor {
	rng := rand.New(rand.NewPCG(seed, 3))
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64()*2 + 1)
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}

func flat(t *tensors.Tensor) []float64 {
	var out []float64
	for _, v := range tensors.MustCopyFlatData[float32](t) {
		out = append(out, float64(v))
	}
	return out
}

func near(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol*math.Max(1, math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %g, want %g", what, i, got[i], want[i])
		}
	}
}

// TestBatchNormPyTorchSemantics checks one training step's output and running
// statistics against PyTorch's formulas, then inference with them, on the
// engine (backend ops) and on the stock Go backend (plain ops).
func TestBatchNormPyTorchSemantics(t *testing.T) {
	ours, err := backend.TestEngine()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []compute.Backend{ours, gobackend.GetBackend()} {
		x := randTensor(1, 4, 2, 3, 2) // 24 values per channel
		xs := flat(x)
		// By hand: per channel mean, biased and unbiased variance.
		var mean, biased [2]float64
		for i, v := range xs {
			mean[i%2] += v / 24
		}
		for i, v := range xs {
			biased[i%2] += (v - mean[i%2]) * (v - mean[i%2]) / 24
		}
		store := model.NewStore()
		build := func(training bool) []float64 {
			exec, err := model.NewExec(b, store, func(scope *model.Scope, x *graph.Node) *graph.Node {
				scope.SetTraining(x.Graph(), training)
				return BatchNorm(scope.In("bn"), x).Done()
			})
			if err != nil {
				t.Fatal(err)
			}
			out, err := exec.Call(x)
			if err != nil {
				t.Fatal(err)
			}
			return flat(out[0])
		}
		y := build(true)
		var want []float64
		for i, v := range xs {
			want = append(want, (v-mean[i%2])/math.Sqrt(biased[i%2]+1e-5))
		}
		near(t, b.Name()+" training output", y, want, 1e-4)
		rm, _ := store.RootScope().In("bn").GetVariable("running_mean").Value()
		rv, _ := store.RootScope().In("bn").GetVariable("running_var").Value()
		near(t, b.Name()+" running mean", flat(rm), []float64{0.1 * mean[0], 0.1 * mean[1]}, 1e-5)
		near(t, b.Name()+" running var (unbiased)", flat(rv),
			[]float64{0.9 + 0.1*biased[0]*24/23, 0.9 + 0.1*biased[1]*24/23}, 1e-5)
		// Inference uses the running statistics.
		y = build(false)
		want = want[:0]
		for i, v := range xs {
			c := i % 2
			want = append(want, (v-0.1*mean[c])/math.Sqrt(0.9+0.1*biased[c]*24/23+1e-5))
		}
		near(t, b.Name()+" inference output", y, want, 1e-4)
	}
}

// TestDepthwiseMatchesGroupedConv compares the depthwise convolution and its
// own gradients (depthwise_op.go) with GoMLX's grouped convolution and
// GoMLX's gradient of it, on odd and even sizes, kernels 1, 3 and 5 and
// strides 1 and 2, on the stock Go backend.
func TestDepthwiseMatchesGroupedConv(t *testing.T) {
	be := gobackend.GetBackend()
	cases := []struct{ h, w, c, k, stride int }{
		{7, 6, 3, 3, 1}, {7, 6, 3, 3, 2}, {8, 8, 5, 3, 2}, {6, 9, 2, 5, 1}, {9, 7, 4, 5, 2},
		{5, 5, 3, 1, 1}, {6, 5, 3, 1, 2}, {4, 4, 17, 3, 2},
	}
	for i, c := range cases {
		x, w := randTensor(uint64(5+i), 2, c.h, c.w, c.c), randTensor(uint64(50+i), c.k, c.k, c.c)
		run := func(stock bool) [][]float64 {
			exec, err := graph.NewExec(be, func(x, w *graph.Node) []*graph.Node {
				var y *graph.Node
				if stock {
					p := c.k / 2
					y = graph.Convolve(x, graph.Reshape(w, c.k, c.k, 1, c.c)).StridePerAxis(c.stride, c.stride).
						PaddingPerDim([][2]int{{p, p}, {p, p}}).ChannelGroupCount(c.c).Done()
				} else {
					y = Depthwise(x, w, c.stride)
				}
				v := graph.Cos(graph.IotaLike(y, 1))
				return append([]*graph.Node{y}, graph.Gradient(graph.ReduceAllSum(graph.Mul(y, v)), x, w)...)
			})
			if err != nil {
				t.Fatal(err)
			}
			outs, err := exec.Call(x, w)
			if err != nil {
				t.Fatal(err)
			}
			var r [][]float64
			for _, o := range outs {
				r = append(r, flat(o))
			}
			return r
		}
		want, got := run(true), run(false)
		for j, what := range []string{"output", "grad x", "grad w"} {
			if len(got[j]) != len(want[j]) {
				t.Fatalf("%+v %s: %d values, want %d", c, what, len(got[j]), len(want[j]))
			}
			near(t, what, got[j], want[j], 1e-4)
		}
	}
}
