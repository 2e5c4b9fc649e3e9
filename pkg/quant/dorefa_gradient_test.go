package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
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

// TestDoReFaGradientLayerNoise checks the noise that DoReFaGradientLayer
// (the layer the models place) draws, through its gradient statistics; the
// tests above give the pure function its noise, so a layer that drew it
// shifted (U[0, 1)) or scaled (U[-1/4, 1/4)) would pass them.
//
// With n = 2^k - 1 and z = (g/(2m) + 1/2) n, the noise u/n, u ~ U[-1/2, 1/2),
// rounds z stochastically (PROTOCOL section 4): each draw is one of the two
// levels around z, 2m (floor(z)/n - 1/2) or 2m (ceil(z)/n - 1/2), the upper
// one with probability frac(z), so the mean is g. Every row of the batch is
// one draw (the maximum m is per sample); the rows alternate scales 1 and
// 1/4, so the levels are per sample too. Over N draws the mean's standard
// error is (2m/n) sqrt(f (1-f) / N), f = frac(z); the tolerance is 5 of them
// (a wrong draw from a 5-sigma tail for one seed in millions). Against it,
// noise U[0, 1) biases the mean by m/n (90 standard errors at f = 0.5 here)
// and puts draws above ceil(z); noise U[-1/4, 1/4) rounds z = 0.2 + i down
// always (a bias of 0.2 (2m/n), 28 standard errors) and never reaches the
// upper level.
func TestDoReFaGradientLayerNoise(t *testing.T) {
	const bits, rows = 2, 4096
	n := levels(bits)
	// z for each column: the ends (m itself, either sign), and fractions
	// 0.2, 0.35, 0.5, 0.8 inside the grid.
	zs := []float64{0, 3, 0.2, 1.35, 2.5, 1.8}
	g := make([]float64, len(zs))
	for j, z := range zs {
		g[j] = 2*z/n - 1 // m = 1
	}
	cols := len(g)
	incoming := make([]float32, rows*cols)
	for i := range rows {
		for j := range cols {
			incoming[i*cols+j] = float32(g[j] * rowScale(i))
		}
	}
	store := model.NewStore()
	store.SetRNGStateFromSeed(17)
	x := tensors.FromFlatDataAndDimensions(make([]float32, rows*cols), rows, cols)
	v := tensors.FromFlatDataAndDimensions(incoming, rows, cols)
	exec, err := model.NewExec(testBackend(), store, func(scope *model.Scope, x, v *graph.Node) *graph.Node {
		scope.SetTraining(x.Graph(), true)
		y := DoReFaGradientLayer(scope.In("gradient"), x).Bits(bits).Done()
		return graph.Gradient(graph.ReduceAllSum(graph.Mul(y, v)), x)[0]
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Call(x, v)
	if err != nil {
		t.Fatal(err)
	}
	q := flat(out[0])
	for j, z := range zs {
		lo, hi := math.Floor(z), math.Ceil(z)
		level := func(k float64) float64 { return 2 * (k/n - 0.5) } // at m = 1
		mean, upper := 0.0, 0
		for i := range rows {
			s := rowScale(i)
			got := q[i*cols+j] / s // back to m = 1
			switch {
			case math.Abs(got-level(hi)) < 1e-5:
				upper++
			case math.Abs(got-level(lo)) < 1e-5:
			default:
				t.Fatalf("column %d (z = %g), row %d: gradient %g is neither level around z, %g nor %g",
					j, z, i, got*s, level(lo)*s, level(hi)*s)
			}
			mean += got / rows
		}
		f := z - lo
		tol := max(5*(2/n)*math.Sqrt(f*(1-f)/rows), 1e-6)
		t.Logf("z = %g: mean %.4f, want %.4f within %.4f; %d of %d draws at the upper level", z, mean, g[j], tol, upper, rows)
		if math.Abs(mean-g[j]) > tol {
			t.Errorf("column %d (z = %g): mean quantized gradient %.4f, want %.4f within %.4f (5 standard errors)", j, z, mean, g[j], tol)
		}
		if f > 0 && (upper == 0 || upper == rows) {
			t.Errorf("column %d (z = %g): %d of %d draws at the upper level: the noise does not span one level", j, z, upper, rows)
		}
	}
}

// rowScale is the scale of row i's incoming gradient: 1 and 1/4 alternately.
func rowScale(i int) float64 { return 1 / float64(1+3*(i%2)) }
