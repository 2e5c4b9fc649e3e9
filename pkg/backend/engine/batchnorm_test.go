package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/mlsysrep/mlsysrep/pkg/backend/purego"
)

// TestBatchNormMatchesStock runs the batch-norm training op and its
// gradient on engine v2 (native) and on the v1 engine (primitive ops).
func TestBatchNormMatchesStock(t *testing.T) {
	v1, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(ExperimentalEnvVar, "BatchNormForTraining")
	v2 := mustNew(t, "")
	rng := rand.New(rand.NewPCG(5, 6))
	for _, dims := range [][]int{{1, 1, 1, 1}, {2, 3, 3, 5}, {4, 8, 8, 16}, {3, 5, 7, 130}, {6, 17}} {
		t.Run(fmt.Sprint(dims), func(t *testing.T) {
			c := dims[len(dims)-1]
			x, dy := randomTensor(rng, dims...).Value(), randomTensor(rng, dims...).Value()
			scale, offset := randomTensor(rng, c).Value(), randomTensor(rng, c).Value()
			run := func(b compute.Backend) [][]float32 {
				// Tensors bind to the backend they first run on: fresh ones each.
				exec, err := graph.NewExec(b, func(x, scale, offset, dy *graph.Node) []*graph.Node {
					y, mean, variance := graph.InternalBatchNormForTraining(x, scale, offset, 1e-3, -1)
					dx, dScale, dOffset := graph.InternalBatchNormGradient(x, scale, mean, variance, dy, 1e-3, -1)
					return []*graph.Node{y, mean, variance, dx, dScale, dOffset}
				})
				if err != nil {
					t.Fatal(err)
				}
				outs, err := exec.Call(tensors.MustFromAnyValue(x), tensors.MustFromAnyValue(scale), tensors.MustFromAnyValue(offset),
					tensors.MustFromAnyValue(dy))
				if err != nil {
					t.Fatal(err)
				}
				res := make([][]float32, len(outs))
				for i, o := range outs {
					res[i] = tensors.MustCopyFlatData[float32](o)
				}
				return res
			}
			before := bnRuns.Load()
			want, got := run(v1), run(v2)
			if bnRuns.Load()-before != 2 {
				t.Fatalf("%d native batch norms ran, want 2", bnRuns.Load()-before)
			}
			for i, name := range []string{"normalized", "mean", "variance", "input gradient", "scale gradient", "offset gradient"} {
				tol := 1e-5
				if dims[0]*dims[1] == 1 && len(dims) == 4 && dims[2]*dims[3] == 1 && (i == 3 || i == 4) {
					tol = 1 // one element per channel: these are rounding noise around 0
				}
				if e := relErr(got[i], want[i]); e > tol {
					t.Errorf("%s: relative error %.3g > %g (got %v, v1 %v)", name, e, tol, got[i][:min(4, len(got[i]))], want[i][:min(4, len(want[i]))])
				}
			}
		})
	}
}
