package quant

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

func TestQuantizeUnit(t *testing.T) {
	for _, tc := range []struct {
		bits int
		x    []float64
		want []float64
	}{
		// Ties at x*(2^k-1) = .5 go to the even integer: 0.5*1 -> 0, 0.5*3 = 1.5 -> 2, 0.5*7 = 3.5 -> 4.
		{1, []float64{0, 0.25, 0.5, 0.75, 1}, []float64{0, 0, 0, 1, 1}},
		{2, []float64{0, 0.1, 0.5, 0.9, 1}, []float64{0, 0, 2. / 3, 1, 1}},
		{3, []float64{0, 0.5, 0.3, 1}, []float64{0, 4. / 7, 2. / 7, 1}},
		{8, []float64{0, 0.5, 1. / 255, 1}, []float64{0, 128. / 255, 1. / 255, 1}},
		{32, []float64{-0.3, 0.123456, 1.7}, []float64{-0.3, 0.123456, 1.7}},
	} {
		n := len(tc.x)
		got := valueAndGrads(t, func(in []*graph.Node) *graph.Node { return QuantizeUnit(in[0], tc.bits) }, vec(tc.x...), ones(n))
		assertClose(t, "QuantizeUnit value", got[0], tc.want, 1e-6)
		assertClose(t, "QuantizeUnit STE gradient", got[1], ones64(n), 0)
	}
}

func ones64(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

func TestDoReFaWeight(t *testing.T) {
	w := []float64{-1, 0, 0.5, 2, -0.1}
	// By hand, k = 2: t = tanh(w), u = t/(2 max|t|) + 1/2, w_q = 2 round(3u)/3 - 1.
	maxT := math.Tanh(2)
	var want2 []float64
	for _, x := range w {
		u := math.Tanh(x)/(2*maxT) + 0.5
		want2 = append(want2, 2*math.RoundToEven(3*u)/3-1)
	}
	got := run(t, func(in []*graph.Node) []*graph.Node { return []*graph.Node{DoReFaWeight(in[0], 2)} }, vec(w...))
	assertClose(t, "DoReFaWeight k=2", got[0], want2, 1e-6)
	// Spot values: w=2 maps to 1 (the max), w=0 to u=1/2 -> round(1.5)=2 -> 1/3.
	assertClose(t, "DoReFaWeight k=2 spot", []float64{got[0][3], got[0][1]}, []float64{1, 1. / 3}, 1e-6)

	// k = 1: sign(w) * E|w| with E|w| = (2+1+0+3)/4 = 1.5, straight-through gradient.
	got = valueAndGrads(t, func(in []*graph.Node) *graph.Node { return DoReFaWeight(in[0], 1) }, vec(-2, 1, 0, 3), ones(4))
	assertClose(t, "DoReFaWeight k=1", got[0], []float64{-1.5, 1.5, 0, 1.5}, 1e-6)
	assertClose(t, "DoReFaWeight k=1 gradient", got[1], []float64{1, 1, 1, 1}, 0)

	got = valueAndGrads(t, func(in []*graph.Node) *graph.Node { return DoReFaWeight(in[0], 32) }, vec(w...), vec(1, 2, 3, 4, 5))
	assertClose(t, "DoReFaWeight k=32", got[0], w, 1e-7)
	assertClose(t, "DoReFaWeight k=32 gradient", got[1], []float64{1, 2, 3, 4, 5}, 0)
}

func TestDoReFaActivation(t *testing.T) {
	x := vec(-0.5, 0, 0.5, 1, 1.5, 0.2)
	got := valueAndGrads(t, func(in []*graph.Node) *graph.Node { return DoReFaActivation(in[0], 2) }, x, ones(6))
	assertClose(t, "DoReFaActivation k=2", got[0], []float64{0, 0, 2. / 3, 1, 1, 1. / 3}, 1e-6)
	// Gradient 1 on the closed interval [0, 1], 0 outside.
	assertClose(t, "DoReFaActivation gradient", got[1], []float64{0, 1, 1, 1, 0, 1}, 0)
	got = valueAndGrads(t, func(in []*graph.Node) *graph.Node { return DoReFaActivation(in[0], 32) }, x, ones(6))
	assertClose(t, "DoReFaActivation k=32", got[0], []float64{-0.5, 0, 0.5, 1, 1.5, 0.2}, 1e-7)
	assertClose(t, "DoReFaActivation k=32 gradient", got[1], ones64(6), 0)
}

func TestPACT(t *testing.T) {
	x := vec(-1, 0, 0.5, 1, 2, 3)
	v := vec(1, 2, 3, 4, 5, 6)
	for _, tc := range []struct {
		bits int
		want []float64
	}{
		// alpha = 2, k = 2: y*3/2 = [0 0 .75 1.5 3 3] -> round-even [0 0 1 2 3 3] -> *2/3.
		{2, []float64{0, 0, 2. / 3, 4. / 3, 2, 2}},
		{32, []float64{0, 0, 0.5, 1, 2, 2}},
	} {
		got := valueAndGrads(t, func(in []*graph.Node) *graph.Node { return PACT(in[0], in[1], tc.bits) }, x, tensors.FromScalar(float32(2)), v)
		assertClose(t, "PACT value", got[0], tc.want, 1e-6)
		// dy/dx = 1 on [0, alpha] (both ends included).
		assertClose(t, "PACT dx", got[1], []float64{0, 2, 3, 4, 5, 0}, 0)
		// dy/dalpha = 1 where x >= alpha: v[4] + v[5] = 5 + 6.
		assertClose(t, "PACT dalpha", got[2], []float64{11}, 0)
	}
}

// TestPACTFiniteDifferences checks PACT's gradients where the function is
// smooth (k = 32, no element at a kink).
func TestPACTFiniteDifferences(t *testing.T) {
	xs := []float64{-0.7, 0.3, 1.1, 2.6, 3.3}
	alpha := 2.0
	f := func(xs []float64, a float64) float64 {
		s := 0.0
		for i, x := range xs {
			s += float64(i+1) * math.Min(math.Max(x, 0), a)
		}
		return s
	}
	got := valueAndGrads(t, func(in []*graph.Node) *graph.Node { return PACT(in[0], in[1], 32) },
		vec(xs...), tensors.FromScalar(float32(alpha)), vec(1, 2, 3, 4, 5))
	const h = 1e-3
	for i := range xs {
		xp, xm := append([]float64{}, xs...), append([]float64{}, xs...)
		xp[i] += h
		xm[i] -= h
		fd := (f(xp, alpha) - f(xm, alpha)) / (2 * h)
		assertClose(t, "PACT dx vs finite difference", []float64{got[1][i]}, []float64{fd}, 1e-6)
	}
	fd := (f(xs, alpha+h) - f(xs, alpha-h)) / (2 * h)
	assertClose(t, "PACT dalpha vs finite difference", got[2], []float64{fd}, 1e-6)
}

func TestLSQ(t *testing.T) {
	// Signed, k = 3: Qn = 4, Qp = 3, step 1.
	v := []float64{-5, -4, -0.5, 0.5, 1.5, 2.5, 3, 4}
	got := valueAndGrads(t, func(in []*graph.Node) *graph.Node { return LSQ(in[0], in[1], 3, true) },
		vec(v...), tensors.FromScalar(float32(1)), ones(len(v)))
	assertClose(t, "LSQ signed value", got[0], []float64{-4, -4, 0, 0, 2, 2, 3, 3}, 1e-6)
	assertClose(t, "LSQ signed dv", got[1], []float64{0, 1, 1, 1, 1, 1, 1, 0}, 0)
	// ds = g * sum(inside: round(v/s) - v/s; below: -Qn; above: Qp), g = 1/sqrt(Qp*N).
	// Per element: v=-5 below: -4; -4: 0; -0.5: 0.5; 0.5: -0.5; 1.5: 0.5; 2.5: -0.5; 3: 0; v=4 above: 3.
	sum := -4.0 + 0 + 0.5 - 0.5 + 0.5 - 0.5 + 0 + 3
	assertClose(t, "LSQ signed ds", got[2], []float64{sum / math.Sqrt(3*8)}, 1e-6)

	// Unsigned, k = 2: Qn = 0, Qp = 3, step 0.5; v/s = [-1 0 0.5 1.25 3 4].
	v = []float64{-0.5, 0, 0.25, 0.625, 1.5, 2}
	got = valueAndGrads(t, func(in []*graph.Node) *graph.Node { return LSQ(in[0], in[1], 2, false) },
		vec(v...), tensors.FromScalar(float32(0.5)), ones(len(v)))
	assertClose(t, "LSQ unsigned value", got[0], []float64{0, 0, 0, 0.5, 1.5, 1.5}, 1e-6)
	assertClose(t, "LSQ unsigned dv", got[1], []float64{0, 1, 1, 1, 1, 0}, 0)
	// Per element: v/s=-1 below: -Qn = 0; 0: 0; 0.5: -0.5; 1.25: -0.25; 3: 0; 4 above: 3.
	sum = 0 + 0 - 0.5 - 0.25 + 0 + 3
	assertClose(t, "LSQ unsigned ds", got[2], []float64{sum / math.Sqrt(3*6)}, 1e-6)

	// N counts every element, batch included: a [4, 3] input gives g = 1/sqrt(Qp*12).
	v2 := tensors.FromFlatDataAndDimensions([]float32{0.2, 0.4, 0.6, 0.8, 1, 1.2, 1.4, 1.6, 1.8, 2, 2.2, 2.4}, 4, 3)
	got = run(t, func(in []*graph.Node) []*graph.Node {
		y := LSQ(in[0], in[1], 2, false)
		return graph.Gradient(graph.ReduceAllSum(y), in[1])
	}, v2, tensors.FromScalar(float32(1)))
	sum = 0
	for _, x := range []float64{0.2, 0.4, 0.6, 0.8, 1, 1.2, 1.4, 1.6, 1.8, 2, 2.2, 2.4} {
		sum += math.RoundToEven(float64(float32(x))) - float64(float32(x))
	}
	assertClose(t, "LSQ ds with batch", got[0], []float64{sum / math.Sqrt(3*12)}, 1e-5)

	got = valueAndGrads(t, func(in []*graph.Node) *graph.Node { return LSQ(in[0], in[1], 32, true) },
		vec(-5, 0.3), tensors.FromScalar(float32(1)), vec(2, 3))
	assertClose(t, "LSQ k=32", got[0], []float64{-5, 0.3}, 1e-7)
	assertClose(t, "LSQ k=32 dv", got[1], []float64{2, 3}, 0)
	assertClose(t, "LSQ k=32 ds", got[2], []float64{0}, 0)
}

func TestFakeQuantAffine(t *testing.T) {
	// scale 0.5, zero point 2, range [0, 7]: x/s = [-4 -2 -0.5 0 0.5 1.5 5 6],
	// round-even [-4 -2 0 0 0 2 5 6], +zp [-2 0 2 2 2 4 7 8], clamp, -zp, *s.
	x := vec(-2, -1, -0.25, 0, 0.25, 0.75, 2.5, 3)
	got := valueAndGrads(t, func(in []*graph.Node) *graph.Node {
		return FakeQuantAffine(in[0], in[1], in[2], 0, 7)
	}, x, tensors.FromScalar(float32(0.5)), tensors.FromScalar(float32(2)), ones(8))
	assertClose(t, "FakeQuantAffine value", got[0], []float64{-1, -1, 0, 0, 0, 1, 2.5, 2.5}, 1e-6)
	assertClose(t, "FakeQuantAffine mask", got[1], []float64{0, 1, 1, 1, 1, 1, 1, 0}, 0)
	assertClose(t, "FakeQuantAffine no scale gradient", got[2], []float64{0}, 0)

	// Per-channel scales broadcast over a [2, 3] input (channels last).
	xs := tensors.FromFlatDataAndDimensions([]float32{0.3, 0.3, 0.3, -1, 1, 10}, 2, 3)
	scales := tensors.FromFlatDataAndDimensions([]float32{0.1, 0.2, 1}, 1, 3)
	got = run(t, func(in []*graph.Node) []*graph.Node {
		zp := graph.ZerosLike(in[1])
		return []*graph.Node{FakeQuantAffine(in[0], in[1], zp, -3, 3)}
	}, xs, scales)
	// 0.3/0.1 = 3 -> 0.3; 0.3/0.2 = 1.5 -> 2 -> 0.4; 0.3/1 -> 0; -1/0.1 -> -3 clamp -> -0.3; 1/0.2 = 5 -> 3 -> 0.6; 10 -> 3.
	assertClose(t, "FakeQuantAffine per-channel", got[0], []float64{0.3, 0.4, 0, -0.3, 0.6, 3}, 1e-6)
}

func TestBadBitsPanic(t *testing.T) {
	for _, tc := range []struct {
		want string
		fn   func(x *graph.Node)
	}{
		{"quant.QuantizeUnit: bits must be 1..8 or 32, got 9", func(x *graph.Node) { QuantizeUnit(x, 9) }},
		{"quant.QuantizeUnit: bits must be 1..8 or 32, got 0", func(x *graph.Node) { QuantizeUnit(x, 0) }},
		{"quant.DoReFaWeight: bits must be 1..8 or 32, got 16", func(x *graph.Node) { DoReFaWeight(x, 16) }},
		{"quant.DoReFaActivation: bits must be 1..8 or 32, got -1", func(x *graph.Node) { DoReFaActivation(x, -1) }},
		{"quant.DoReFaGradient: bits must be 1..16 or 32, got 17", func(x *graph.Node) { DoReFaGradient(x, 17, x) }},
		{"quant.PACT: bits must be 1..8 or 32, got 31", func(x *graph.Node) { PACT(x, x, 31) }},
		{"quant.LSQ: bits must be 2..8 or 32, got 1", func(x *graph.Node) { LSQ(x, x, 1, true) }},
		{"quant.LSQ: bits must be 1..8 or 32, got 9", func(x *graph.Node) { LSQ(x, x, 9, false) }},
		{"quant.FakeQuantAffine: qmin (5) > qmax (4)", func(x *graph.Node) { FakeQuantAffine(x, x, x, 5, 4) }},
	} {
		g := graph.NewGraph(testBackend(), "bad-bits")
		x := graph.Const(g, []float32{0.5})
		assertPanics(t, tc.want, func() { tc.fn(x) })
	}
	// Valid widths at the edges do not panic.
	g := graph.NewGraph(testBackend(), "edges")
	x := graph.Const(g, []float32{0.5})
	DoReFaGradient(x, 16, x)
	LSQ(x, graph.Const(g, float32(1)), 2, true)
	LSQ(x, graph.Const(g, float32(1)), 1, false)
}
