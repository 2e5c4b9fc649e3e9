package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// gradQuantExec returns an exec mapping (x, noise, v) to the gradient that
// DoReFaGradient passes back for the incoming gradient v, and its forward value.
func gradQuantExec(t *testing.T, bits int) *graph.Exec {
	t.Helper()
	exec, err := graph.NewExec(testBackend(), func(x, noise, v *graph.Node) []*graph.Node {
		y := DoReFaGradient(x, bits, noise)
		return []*graph.Node{y, graph.Gradient(graph.ReduceAllSum(graph.Mul(y, v)), x)[0]}
	})
	if err != nil {
		t.Fatal(err)
	}
	return exec
}

// byHand is PROTOCOL section 4's formula for one sample.
func byHand(g, u []float64, bits int) []float64 {
	n := float64(int(1)<<bits - 1)
	m := 0.0
	for _, x := range g {
		m = math.Max(m, math.Abs(x))
	}
	out := make([]float64, len(g))
	if m == 0 {
		return out
	}
	for i, x := range g {
		arg := math.Min(math.Max(x/(2*m)+0.5+u[i]/n, 0), 1)
		out[i] = 2 * m * (math.RoundToEven(arg*n)/n - 0.5)
	}
	return out
}

func TestDoReFaGradientZeroNoise(t *testing.T) {
	// Two samples of 4; the second is all zeros (m = 0 -> gradient 0).
	g := []float64{0.3, -1.2, 0.05, 0.9, 0, 0, 0, 0}
	x := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3, 4, 5, 6, 7, 8}, 2, 4)
	zero := tensors.FromFlatDataAndDimensions(make([]float32, 8), 2, 4)
	gt := tensors.FromFlatDataAndDimensions(toF32(g), 2, 4)
	for _, bits := range []int{2, 4, 8} {
		outs, err := gradQuantExec(t, bits).Call(x, zero, gt)
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, "DoReFaGradient forward is the identity", flat(outs[0]), []float64{1, 2, 3, 4, 5, 6, 7, 8}, 0)
		want := append(byHand(g[:4], make([]float64, 4), bits), byHand(g[4:], make([]float64, 4), bits)...)
		assertClose(t, "DoReFaGradient zero noise", flat(outs[1]), want, 1e-6)
	}
	// k = 2 spot check: m = 1.2, g/(2m)+1/2 = [0.625 0 0.521 0.875] -> *3 round -> [2 0 2 3]/3.
	outs, _ := gradQuantExec(t, 2).Call(x, zero, gt)
	assertClose(t, "DoReFaGradient k=2 spot", flat(outs[1])[:4], []float64{2.4 * (2./3 - 0.5), -1.2, 2.4 * (2./3 - 0.5), 1.2}, 1e-6)
}

func toF32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// TestDoReFaGradientNoise checks that with uniform noise the quantized
// gradient is unbiased (its mean over many draws approaches the true
// gradient) and that each sample takes at most 2^k distinct values.
func TestDoReFaGradientNoise(t *testing.T) {
	const bits, draws = 2, 3000
	g := []float64{0.3, -1.2, 0.05, 0.9, 0.6, -0.45, 0.2, 0.0}
	x := tensors.FromFlatDataAndDimensions(make([]float32, 8), 1, 8)
	gt := tensors.FromFlatDataAndDimensions(toF32(g), 1, 8)
	exec := gradQuantExec(t, bits)
	rng := rand.New(rand.NewPCG(11, 12))
	mean := make([]float64, 8)
	for range draws {
		u := make([]float32, 8)
		for i := range u {
			u[i] = float32(rng.Float64() - 0.5)
		}
		outs, err := exec.Call(x, tensors.FromFlatDataAndDimensions(u, 1, 8), gt)
		if err != nil {
			t.Fatal(err)
		}
		q := flat(outs[1])
		levels := map[float32]bool{}
		for i, v := range q {
			mean[i] += v / draws
			levels[float32(v)] = true
		}
		if len(levels) > 1<<bits {
			t.Fatalf("one sample took %d distinct values, want at most %d: %v", len(levels), 1<<bits, q)
		}
	}
	// Each value's noise-induced spread is at most one level (2m/3 = 0.8), so
	// the standard error of the mean is below 0.8/sqrt(3000) ~ 0.015.
	assertClose(t, "DoReFaGradient is unbiased", mean, g, 0.06)
}
