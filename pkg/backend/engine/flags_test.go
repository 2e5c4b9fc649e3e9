package engine

import (
	"math"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/mlsysrep/mlsysrep/pkg/backend/purego"
)

// TestFlagPlans: a graph choosing a scalar with Where on a boolean parameter
// (LSQ's step_initialized) gives engine v1's bits for either value of the
// flag, and with the flag true it does not compute the other branch (the
// fused |x| and its sum).
func TestFlagPlans(t *testing.T) {
	defer func(size int) { minFusedSize = size }(minFusedSize)
	minFusedSize = 2
	build := func(flag, step, x *graph.Node) *graph.Node {
		initial := graph.MulScalar(graph.ReduceAllMean(graph.Abs(x)), 2)
		s := graph.Where(flag, step, initial)
		return graph.Mul(graph.Round(graph.Div(x, s)), s)
	}
	xs := []float32{-1.5, 0.25, 3, 2.5, -0.75, 4, 1, -2}
	run := func(b compute.Backend, flag bool) ([]float32, int64) {
		exec, err := graph.NewExec(b, build)
		if err != nil {
			t.Fatal(err)
		}
		var out []float32
		before := fusedRuns.Load()
		for range 2 { // the second execution reuses the compiled plans
			outs, err := exec.Call(tensors.FromScalar(flag), tensors.FromScalar(float32(0.5)), tensors.FromValue(xs))
			if err != nil {
				t.Fatal(err)
			}
			out = tensors.MustCopyFlatData[float32](outs[0])
		}
		return out, fusedRuns.Load() - before
	}
	v1, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	v2 := mustNew(t, "")
	var runs [2]int64
	for i, flag := range []bool{false, true} {
		want, _ := run(v1, flag)
		got, n := run(v2, flag)
		runs[i] = n
		for j := range want {
			if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
				t.Errorf("flag %v: element %d is %v on v2, %v on v1", flag, j, got[j], want[j])
			}
		}
	}
	// Flag false: the |x| tree and the quantizer's tree, per execution;
	// flag true: the quantizer's alone.
	if runs[0] != 4 || runs[1] != 2 {
		t.Errorf("fused programs run in two executions: %d with the flag false, %d with it true; want 4 and 2", runs[0], runs[1])
	}
}
