package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/mlsysrep/mlsysrep/pkg/backend/purego"
)

type maxPoolCase struct {
	batch, h, w, c int
	kh, kw, sh, sw int
	pads           [][2]int // per spatial axis; nil: none
}

func (c maxPoolCase) String() string {
	return fmt.Sprintf("n%d_%dx%d_c%d_k%dx%d_s%dx%d_p%v", c.batch, c.h, c.w, c.c, c.kh, c.kw, c.sh, c.sw, c.pads)
}

func (c maxPoolCase) disjoint() bool { return c.sh >= c.kh && c.sw >= c.kw }

// maxPoolAndGradient computes graph.MaxPool and the gradient of sum(y * v)
// with respect to its input, on one backend.
func maxPoolAndGradient(t *testing.T, backend compute.Backend, c maxPoolCase, x []float32) [2][]float32 {
	t.Helper()
	exec, err := graph.NewExec(backend, func(x *graph.Node) []*graph.Node {
		pool := graph.MaxPool(x).WindowPerAxis(c.kh, c.kw).StridePerAxis(c.sh, c.sw)
		if c.pads != nil {
			pool = pool.PaddingPerDim(c.pads)
		}
		y := pool.Done()
		// v: a fixed pattern with signed zeros and repeats, the same on
		// every backend.
		v := graph.Sub(graph.Mod(graph.Iota(x.Graph(), y.Shape(), 3), graph.Scalar(x.Graph(), y.DType(), 5)),
			graph.Scalar(x.Graph(), y.DType(), 2))
		v = graph.Mul(v, graph.Scalar(x.Graph(), y.DType(), -0.75))
		return []*graph.Node{y, graph.Gradient(graph.ReduceAllSum(graph.Mul(y, v)), x)[0]}
	})
	if err != nil {
		t.Fatal(err)
	}
	outs, err := exec.Call(tensors.FromFlatDataAndDimensions(append([]float32(nil), x...), c.batch, c.h, c.w, c.c))
	if err != nil {
		t.Fatal(err)
	}
	return [2][]float32{tensors.MustCopyFlatData[float32](outs[0]), tensors.MustCopyFlatData[float32](outs[1])}
}

// TestMaxPoolMatchesStock runs max pooling and its gradient on engine v2
// (native: the forward always, the gradient where windows are disjoint) and
// on the v1 engine, bit for bit: values drawn from a few levels, so windows
// have ties, with NaN, -Inf and both zeros planted.
func TestMaxPoolMatchesStock(t *testing.T) {
	v1, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	v2 := mustNew(t, "")
	cases := []maxPoolCase{
		{2, 36, 36, 48, 2, 2, 2, 2, nil}, // SVHN Model A's first pool
		{3, 9, 7, 17, 2, 2, 2, 2, nil},   // odd sizes: the last row and column are in no window
		{1, 5, 6, 3, 3, 2, 3, 2, [][2]int{{1, 0}, {0, 3}}},
		{2, 4, 4, 130, 1, 1, 1, 1, nil},
		{1, 6, 6, 5, 2, 2, 3, 3, nil},                      // strides wider than windows: some inputs in no window
		{2, 7, 8, 9, 3, 3, 2, 2, [][2]int{{1, 1}, {1, 1}}}, // overlapping: the gradient stays stock
		{1, 5, 5, 16, 3, 3, 1, 1, [][2]int{{1, 1}, {1, 1}}},
	}
	rng := rand.New(rand.NewPCG(5, 17))
	levels := []float32{-2, -1, -0.5, 0, float32(math.Copysign(0, -1)), 0.5, 1, 3}
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			x := make([]float32, c.batch*c.h*c.w*c.c)
			for i := range x {
				x[i] = levels[rng.IntN(len(levels))]
			}
			for range len(x)/50 + 1 {
				x[rng.IntN(len(x))] = float32(math.NaN())
				x[rng.IntN(len(x))] = float32(math.Inf(-1))
			}
			want := maxPoolAndGradient(t, v1, c, x)
			before := maxPoolRuns.Load()
			got := maxPoolAndGradient(t, v2, c, x)
			wantRuns := int64(1)
			if c.disjoint() {
				wantRuns = 2
			}
			if ran := maxPoolRuns.Load() - before; ran != wantRuns {
				t.Errorf("%d native max pooling kernels ran, want %d", ran, wantRuns)
			}
			for k, name := range []string{"output", "input gradient"} {
				if len(got[k]) != len(want[k]) {
					t.Fatalf("%s: %d values, v1 %d", name, len(got[k]), len(want[k]))
				}
				bad := 0
				for i := range want[k] {
					if math.Float32bits(got[k][i]) != math.Float32bits(want[k][i]) {
						if bad++; bad <= 5 {
							t.Errorf("%s[%d] = %v, v1 %v", name, i, got[k][i], want[k][i])
						}
					}
				}
				if bad > 5 {
					t.Errorf("%s: %d values differ in all", name, bad)
				}
			}
		})
	}
}

// TestMaxPoolOtherFormsStayStock: pooling the kernels do not take (1-D, a
// window over the channels) is left to the stock op, with its results, and
// building the graph does not fail.
func TestMaxPoolOtherFormsStayStock(t *testing.T) {
	v1, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	v2 := mustNew(t, "")
	xs := []float32{3, -1, 4, 1, -5, 9, 2, 6, -5, 3, 5, 8}
	for name, build := range map[string]func(x *graph.Node) *graph.Node{
		"1-D":                func(x *graph.Node) *graph.Node { return graph.MaxPool(x).Window(2).Done() },
		"window on channels": func(x *graph.Node) *graph.Node { return graph.MaxPool(x).FullShape().WindowPerAxis(1, 1, 2).Done() },
	} {
		t.Run(name, func(t *testing.T) {
			run := func(b compute.Backend) []float32 {
				exec, err := graph.NewExec(b, build)
				if err != nil {
					t.Fatal(err)
				}
				outs, err := exec.Call(tensors.FromFlatDataAndDimensions(append([]float32(nil), xs...), 2, 3, 2))
				if err != nil {
					t.Fatal(err)
				}
				return tensors.MustCopyFlatData[float32](outs[0])
			}
			want := run(v1)
			before := maxPoolRuns.Load()
			got := run(v2)
			if ran := maxPoolRuns.Load() - before; ran != 0 {
				t.Errorf("%d native max pooling kernels ran on a form they do not take", ran)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("v2 %v, v1 %v", got, want)
			}
		})
	}
}
