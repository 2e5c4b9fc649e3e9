package engine

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/mlsysrep/mlsysrep/pkg/backend/purego"
)

// TestReluMatchesStock: ReLU and its gradient on engine v2 (native) give the
// v1 engine's bits, NaN and -0 included.
func TestReluMatchesStock(t *testing.T) {
	v1, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	x, v := make([]float32, 3*5*7*19), make([]float32, 3*5*7*19)
	for i := range x {
		x[i], v[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	x[0], x[20], x[21] = float32(math.NaN()), float32(math.Copysign(0, -1)), 0
	run := func(b compute.Backend) [2][]float32 {
		exec, err := graph.NewExec(b, func(x, v *graph.Node) []*graph.Node {
			y := activation.Relu(x)
			return []*graph.Node{y, graph.Gradient(graph.ReduceAllSum(graph.Mul(y, v)), x)[0]}
		})
		if err != nil {
			t.Fatal(err)
		}
		outs, err := exec.Call(tensors.FromFlatDataAndDimensions(x, 3, 5, 7, 19), tensors.FromFlatDataAndDimensions(v, 3, 5, 7, 19))
		if err != nil {
			t.Fatal(err)
		}
		return [2][]float32{tensors.MustCopyFlatData[float32](outs[0]), tensors.MustCopyFlatData[float32](outs[1])}
	}
	before := reluRuns.Load()
	want, got := run(v1), run(mustNew(t, ""))
	if reluRuns.Load()-before != 2 {
		t.Fatalf("%d native ReLU kernels ran, want 2 (forward and gradient)", reluRuns.Load()-before)
	}
	for k, name := range []string{"relu", "relu gradient"} {
		for i := range want[k] {
			if math.Float32bits(got[k][i]) != math.Float32bits(want[k][i]) {
				t.Errorf("%s[%d] (x=%v) = %v, v1 %v", name, i, x[i], got[k][i], want[k][i])
			}
		}
	}
}
