package engine

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/mlsysrep/mlsysrep/pkg/backend/purego"
)

// TestBatchNormInferenceMatchesStock runs BatchNormForInference on engine v2
// (native) and on engine v1 over channel counts around the vector widths,
// with zeros of both signs, NaN, infinities and a zero variance among the
// values, and requires v1's bits (a NaN's payload aside).
func TestBatchNormInferenceMatchesStock(t *testing.T) {
	v1, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	v2 := mustNew(t, "")
	for _, dims := range [][]int{{2, 3, 3, 72}, {3, 5, 5}, {4, 16}, {1, 2, 2, 1}, {2, 2, 2, 9}} {
		c := dims[len(dims)-1]
		rng := rand.New(rand.NewPCG(uint64(c), 3))
		n := 1
		for _, d := range dims {
			n *= d
		}
		xs := make([]float32, n)
		special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1e-38}
		for i := range xs {
			xs[i] = float32(rng.NormFloat64() * 3)
			if i < len(special) {
				xs[i] = special[i]
			}
		}
		vec := func(lo, spread float64) []float32 {
			v := make([]float32, c)
			for i := range v {
				v[i] = float32(lo + spread*rng.Float64())
			}
			return v
		}
		scale, offset, mean, variance := vec(-1, 2), vec(-0.5, 1), vec(-1, 2), vec(0, 4)
		variance[0] = 0 // rsqrt(epsilon)
		run := func(b compute.Backend) []float32 {
			exec, err := graph.NewExec(b, func(x, s, o, m, v *graph.Node) *graph.Node {
				return graph.InternalBatchNormForInference(x, s, o, m, v, 1e-5, len(dims)-1)
			})
			if err != nil {
				t.Fatal(err)
			}
			out, err := exec.Call(tensors.FromFlatDataAndDimensions(slices.Clone(xs), dims...),
				tensors.FromFlatDataAndDimensions(scale, c), tensors.FromFlatDataAndDimensions(offset, c),
				tensors.FromFlatDataAndDimensions(mean, c), tensors.FromFlatDataAndDimensions(variance, c))
			if err != nil {
				t.Fatal(err)
			}
			return tensors.MustCopyFlatData[float32](out[0])
		}
		want := run(v1)
		before := bnInferenceRuns.Load()
		got := run(v2)
		if bnInferenceRuns.Load() == before {
			t.Fatalf("%v: the native inference batch norm did not run", dims)
		}
		for i := range want {
			if g, w := got[i], want[i]; math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
				t.Errorf("%v: element %d (x=%v) = %v on v2, %v on v1", dims, i, xs[i], g, w)
				break
			}
		}
	}
}
