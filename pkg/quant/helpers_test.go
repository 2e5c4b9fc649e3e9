package quant

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/mlsysrep/mlsysrep/pkg/backend"
)

// engine runs the quantizer tests: the project's engine, or the one
// MLSYSREP_TEST_ENGINE names (a test-only dependency; pkg/quant itself depends
// on GoMLX only), whose broadcasting avoids the Go backend's partial SIMD
// loads (see purego/broadcast.go).
var engine = sync.OnceValue(func() compute.Backend {
	b, err := backend.TestEngine()
	if err != nil {
		panic(err)
	}
	return b
})

func testBackend() compute.Backend { return engine() }

// flat returns a tensor's values as float64.
func flat(t *tensors.Tensor) []float64 {
	var out []float64
	for _, v := range tensors.MustCopyFlatData[float32](t) {
		out = append(out, float64(v))
	}
	return out
}

func vec(values ...float64) *tensors.Tensor {
	f := make([]float32, len(values))
	for i, v := range values {
		f[i] = float32(v)
	}
	return tensors.FromFlatDataAndDimensions(f, len(f))
}

// run builds fn on the inputs and returns every output as float64 slices.
func run(t *testing.T, fn func(inputs []*graph.Node) []*graph.Node, inputs ...*tensors.Tensor) [][]float64 {
	t.Helper()
	exec, err := graph.NewExec(testBackend(), fn)
	if err != nil {
		t.Fatal(err)
	}
	args := make([]any, len(inputs))
	for i, in := range inputs {
		args[i] = in
	}
	outs, err := exec.Call(args...)
	if err != nil {
		t.Fatal(err)
	}
	var res [][]float64
	for _, o := range outs {
		res = append(res, flat(o))
	}
	return res
}

// valueAndGrads returns f(x...) and the gradients of sum(f * cotangent) with
// respect to every input; the cotangent is the last input.
func valueAndGrads(t *testing.T, f func(in []*graph.Node) *graph.Node, inputs ...*tensors.Tensor) [][]float64 {
	t.Helper()
	return run(t, func(in []*graph.Node) []*graph.Node {
		args, v := in[:len(in)-1], in[len(in)-1]
		y := f(args)
		return append([]*graph.Node{y}, graph.Gradient(graph.ReduceAllSum(graph.Mul(y, v)), args...)...)
	}, inputs...)
}

func ones(n int) *tensors.Tensor {
	v := make([]float64, n)
	for i := range v {
		v[i] = 1
	}
	return vec(v...)
}

func assertClose(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d values %v, want %d %v", what, len(got), got, len(want), want)
		return
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol || math.IsNaN(got[i]) {
			t.Errorf("%s: element %d = %.7g, want %.7g (all: %v)", what, i, got[i], want[i], got)
			return
		}
	}
}

// assertPanics checks fn panics with a message containing want.
func assertPanics(t *testing.T, want string, fn func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("no panic, want one containing %q", want)
			return
		}
		if msg := fmt.Sprint(r); !strings.Contains(msg, want) {
			t.Errorf("panic %q, want it to contain %q", msg, want)
		}
	}()
	fn()
}
