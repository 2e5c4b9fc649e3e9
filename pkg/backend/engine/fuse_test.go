package engine

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/mlsysrep/mlsysrep/pkg/backend/kernels"
	"github.com/mlsysrep/mlsysrep/pkg/backend/purego"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
)

// quantizerGraph applies every quantizer of pkg/quant (forward and
// straight-through gradients), ReLU6 and tensor Min and Max to x, the chains
// fusion takes, and
// returns the results and the gradients with respect to x, the PACT alpha
// and the LSQ step.
func quantizerGraph(x, alpha, step, noise *graph.Node) []*graph.Node {
	g := x.Graph()
	relu6 := graph.Min(graph.Max(x, graph.ScalarZero(g, x.DType())), graph.Scalar(g, x.DType(), 6))
	outs := []*graph.Node{
		quant.DoReFaActivation(x, 3),
		quant.DoReFaWeight(x, 4),
		quant.PACT(x, alpha, 4),
		quant.LSQ(x, step, 3, true),
		quant.DoReFaGradient(x, 6, noise),
		relu6,
		quant.FakeQuantAffine(x, graph.Scalar(g, x.DType(), 0.05), graph.Scalar(g, x.DType(), 3), 0, 15),
		// Min and Max of two tensors, a broadcast zero among them (a tensor
		// to the Go backend, unlike a scalar): NaN and zeros of both signs
		// in x meet both operand orders.
		graph.Max(x, noise),
		graph.Min(noise, x),
		graph.Max(graph.ZerosLike(x), x),
		graph.Min(x, graph.ZerosLike(x)),
		// ReLU (GoMLX's FusedActivation) after a residual add, and read by
		// a multiply: its gradient mask meets the output gradient's tree.
		graph.MulScalar(activation.Relu(graph.Add(x, noise)), 3),
	}
	var loss *graph.Node
	for i, o := range outs {
		term := graph.ReduceAllSum(graph.Mul(o, graph.Cos(graph.AddScalar(x, float64(i)))))
		if loss == nil {
			loss = term
		} else {
			loss = graph.Add(loss, term)
		}
	}
	return append(outs, graph.Gradient(loss, x, alpha, step)...)
}

// TestFusionMatchesStock runs the quantizers, ReLU6 and their gradients on
// engine v2 (element-wise trees fused: they must run) and on engine v1, and
// requires every result bit for bit: fusion must not change one rounding
// decision. (A NaN may differ in its sign and payload bits: where two NaNs
// meet in an add of the gradient, x86 keeps the first operand's, and the Go
// backend's last partial vector reads some operands in the other order.) The input holds values on the quantization grids' edges, halves,
// zeros of both signs, values past the clipping ranges, NaN and infinities.
func TestFusionMatchesStock(t *testing.T) {
	v1, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	v2 := mustNew(t, "")
	defer func(size int) { minFusedSize = size }(minFusedSize)
	minFusedSize = 2 // fuse small tensors too, as the bigger ones are
	// The Go backend's loops differ with the size; remainders mod 16 below
	// and above 8 tell 8-float (AVX2) from 16-float (AVX-512) vectors apart.
	for _, n := range []int{1<<14 + 37, 3*1024 + 37, 1<<12 + 13, 29, 21, 5} {
		fusionMatchesStock(t, v1, v2, n)
	}
}

func fusionMatchesStock(t *testing.T, v1, v2 compute.Backend, n int) {
	rng := rand.New(rand.NewPCG(13, uint64(n)))
	xs, ns := make([]float32, n), make([]float32, n)
	special := []float32{0, float32(math.Copysign(0, -1)), 0.5, -0.5, 1, -1, 6, 6.5, 0.25, 1.0 / 7, 0.125, 10, -10,
		float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	for i := range xs {
		xs[i] = float32(rng.NormFloat64() * 3)
		// The specials in the first vectors; NaN and zeros of both signs
		// (where Min and Max return one operand or the other) all over the
		// last 32 elements, whatever the vector length; the specials again
		// before them.
		j := n - 1 - i
		switch {
		case i < len(special):
			xs[i] = special[i]
		case j < 32:
			xs[i] = special[[]int{0, 1, 13}[j%3]]
		case j < 32+len(special):
			xs[i] = special[j-32]
		}
		ns[i] = float32(rng.Float64() - 0.5)
	}
	run := func(backend compute.Backend) [][]float32 {
		exec, err := graph.NewExec(backend, func(x, alpha, step, noise *graph.Node) []*graph.Node {
			return quantizerGraph(x, alpha, step, noise)
		})
		if err != nil {
			t.Fatal(err)
		}
		outs, err := exec.Call(tensors.FromFlatDataAndDimensions(slices.Clone(xs), n),
			tensors.FromScalar(float32(2.5)), tensors.FromScalar(float32(0.3)),
			tensors.FromFlatDataAndDimensions(slices.Clone(ns), n))
		if err != nil {
			t.Fatal(err)
		}
		var res [][]float32
		for _, o := range outs {
			res = append(res, tensors.MustCopyFlatData[float32](o))
		}
		return res
	}
	want := run(v1)
	before, relusBefore := fusedRuns.Load(), reluRuns.Load()
	got := run(v2)
	if fusedRuns.Load() == before {
		t.Fatal("no fused element-wise program ran")
	}
	if n >= minFusedSize && n > 1 && reluRuns.Load() != relusBefore {
		t.Errorf("size %d: %d ReLU ops ran alone, want all in fused programs", n, reluRuns.Load()-relusBefore)
	}
	t.Logf("size %d: %d fused programs ran", n, fusedRuns.Load()-before)
	for i := range want {
		for j := range want[i] {
			if g, w := got[i][j], want[i][j]; math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
				t.Errorf("size %d, result %d, element %d (x=%v): %v on v2, %v on v1", n, i, j, xs[min(j, n-1)], got[i][j], want[i][j])
				break
			}
		}
	}
}

// TestFusionComputesEachOpOnce: a value read by two trees is either
// computed once (its own tree), or recomputed in both trees and not on its
// own, as recomputable's count of the tensors it reads decides; never
// absorbed into a tree and also left for a stock segment to compute again
// for its other reader, which gives the same bits and so passes every value
// test.
func TestFusionComputesEachOpOnce(t *testing.T) {
	defer func(size int) { minFusedSize = size }(minFusedSize)
	minFusedSize = 2
	v2 := mustNew(t, "")
	var counted []int // per plan: element-wise ops in fused programs and in stock segments
	compiledHook = func(p *plan) {
		n := 0
		for _, st := range p.steps {
			if k, ok := st.native.(*fusedKernel); ok {
				n += len(k.prog.Code)
			}
			for _, op := range st.ops {
				if _, elementwise := elementOps[op]; elementwise && st.native == nil {
					n++
				}
			}
		}
		counted = append(counted, n)
	}
	defer func() { compiledHook = nil }()
	for _, c := range []struct {
		name string
		// y is read by both outputs' trees, the second of which reads x
		y func(x, u, v, w *graph.Node) *graph.Node
		// element-wise ops run: y's, the outputs' (AddScalar; Mul, Sub, Neg)
		want int
	}{
		// Computed from x alone: recomputed (two reads of x; stored: a
		// read, a write and two reads), so its two ops run twice.
		{"recomputed", func(x, u, v, w *graph.Node) *graph.Node { return graph.MulScalar(graph.Abs(x), 2) }, 2*2 + 4},
		// From four tensors: 2 x 4 reads recomputed, 4 + 1 + 2 stored.
		{"stored", func(x, u, v, w *graph.Node) *graph.Node {
			return graph.Add(graph.Mul(x, u), graph.Mul(v, w))
		}, 3 + 4},
	} {
		counted = nil
		exec, err := graph.NewExec(v2, func(x, u, v, w *graph.Node) []*graph.Node {
			y := c.y(x, u, v, w)
			return []*graph.Node{graph.AddScalar(y, 1), graph.Mul(y, graph.Sub(x, graph.Neg(x)))}
		})
		if err != nil {
			t.Fatal(err)
		}
		in := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3, 4, 5, 6}, 6)
		if _, err := exec.Call(in, in, in, in); err != nil {
			t.Fatal(err)
		}
		if len(counted) != 1 || counted[0] != c.want {
			t.Errorf("%s: element-wise ops run per plan: %v, want [%d]", c.name, counted, c.want)
		}
	}
}

// TestFusionRecomputesChains: a value read by several trees and computed
// by a cheap op (LSQ's x / step) or a chain of element-wise ops (LSQ's
// clipping mask: x / step, two comparisons, two Wheres) is recomputed in
// each tree that reads it, up to maxRecomputedOps ops, and not on its own;
// a longer chain is stored by a program of its own. Either way each result
// has engine v1's bits.
func TestFusionRecomputesChains(t *testing.T) {
	defer func(size int) { minFusedSize = size }(minFusedSize)
	minFusedSize = 2
	mask := func(x, s *graph.Node) *graph.Node {
		g := x.Graph()
		z := graph.Div(x, s)
		one, zero := graph.Scalar(g, x.DType(), 1), graph.ScalarZero(g, x.DType())
		return graph.Where(graph.GreaterOrEqual(z, zero), graph.Where(graph.LessOrEqual(z, graph.Scalar(g, x.DType(), 2)), one, zero), zero)
	}
	readTwice := func(value func(x, s *graph.Node) *graph.Node) func(x, s *graph.Node) []*graph.Node {
		return func(x, s *graph.Node) []*graph.Node {
			v := value(x, s)
			return []*graph.Node{graph.Mul(v, x), graph.Sub(graph.Round(graph.Div(x, s)), v)}
		}
	}
	for _, c := range []struct {
		name  string
		build func(x, s *graph.Node) []*graph.Node
		// programs: per plan; with: those computing op
		op             kernels.ElementOp
		programs, with int
	}{
		{"x / step recomputed", func(x, s *graph.Node) []*graph.Node {
			z := graph.Div(x, s)
			zero := graph.ScalarZero(x.Graph(), x.DType())
			return []*graph.Node{graph.Mul(graph.Round(z), s), graph.Where(graph.GreaterOrEqual(z, zero), z, graph.Neg(z))}
		}, kernels.OpDiv, 2, 2},
		{"mask recomputed", readTwice(mask), kernels.OpGreaterEqual, 2, 2},
		// Two ops more than maxRecomputedOps: the mask's own program.
		{"longer chain stored", readTwice(func(x, s *graph.Node) *graph.Node {
			return graph.Abs(graph.Neg(mask(x, s)))
		}), kernels.OpGreaterEqual, 3, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			stockOps := recordStockOps(t)
			recordStock := compiledHook
			var programs, with []int
			compiledHook = func(p *plan) {
				recordStock(p)
				n, w := 0, 0
				for _, st := range p.steps {
					if k, ok := st.native.(*fusedKernel); ok {
						n++
						if slices.ContainsFunc(k.prog.Code, func(ins kernels.Instruction) bool { return ins.Op == c.op }) {
							w++
						}
					}
				}
				programs, with = append(programs, n), append(with, w)
			}
			xs := []float32{-1.5, 0, float32(math.Copysign(0, -1)), 0.5, float32(math.NaN()), 1, -4.25, 5, float32(math.Inf(1)), 0.49}
			run := func(b compute.Backend) [][]float32 {
				return execFlat(t, b, c.build, tensors.FromFlatDataAndDimensions(slices.Clone(xs), 2, 5), tensors.FromScalar(float32(0.5)))
			}
			v1, err := purego.New("")
			if err != nil {
				t.Fatal(err)
			}
			want := run(v1)
			programs, with, *stockOps = nil, nil, nil
			got := run(mustNew(t, ""))
			if !slices.Equal(programs, []int{c.programs}) || !slices.Equal(with, []int{c.with}) {
				t.Errorf("per plan %v fused programs, %v of them with a %v; want [%d] and [%d]", programs, with, c.op, c.programs, c.with)
			}
			if slices.ContainsFunc(*stockOps, func(op string) bool { _, elementwise := elementOps[op]; return elementwise }) {
				t.Errorf("element-wise ops ran in stock segments: %v", *stockOps)
			}
			for i := range want {
				for j := range want[i] {
					if g, w := got[i][j], want[i][j]; math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
						t.Errorf("output %d, element %d (x=%v): %v on v2, %v on v1", i, j, xs[j], g, w)
					}
				}
			}
		})
	}
}

// TestFusionTakesBroadcastScalars: a tree whose operands are broadcasts of
// scalars (how GoMLX passes Where its constant branches) reads the scalars
// and leaves no BroadcastInDim to a stock segment, with v1's bits.
func TestFusionTakesBroadcastScalars(t *testing.T) {
	defer func(size int) { minFusedSize = size }(minFusedSize)
	minFusedSize = 2
	stockOps := recordStockOps(t)
	build := func(x, s *graph.Node) []*graph.Node {
		g := x.Graph()
		full := graph.BroadcastToDims(s, x.Shape().Dimensions...)
		w := graph.Where(graph.GreaterThan(x, graph.ScalarZero(g, x.DType())), full,
			graph.BroadcastToDims(graph.Scalar(g, x.DType(), -2), x.Shape().Dimensions...))
		return []*graph.Node{graph.Mul(w, x)}
	}
	xs := []float32{-1, 0, float32(math.Copysign(0, -1)), 2, float32(math.NaN()), 3, -4, 5}
	run := func(b compute.Backend) []float32 {
		return execFlat(t, b, build, tensors.FromFlatDataAndDimensions(slices.Clone(xs), 2, 4), tensors.FromScalar(float32(0.75)))[0]
	}
	v1, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	want := run(v1)
	before := fusedRuns.Load()
	got := run(mustNew(t, ""))
	if fusedRuns.Load()-before != 1 {
		t.Errorf("%d fused programs ran, want 1", fusedRuns.Load()-before)
	}
	if slices.Contains(*stockOps, "BroadcastInDim") {
		t.Errorf("a BroadcastInDim stayed in a stock segment: %v", *stockOps)
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Errorf("element %d (x=%v): %v on v2, %v on v1", i, xs[i], got[i], want[i])
		}
	}
}

// TestFusionTakesRandomBits: GoMLX's RandomUniform turns random bits into
// floats with ConvertDType, a scale, Abs and a Min; the tree takes the
// conversion too (no stock step is left for it) and gives v1's bits, on
// values around float32's rounding steps and at the tensor's end.
func TestFusionTakesRandomBits(t *testing.T) {
	defer func(size int) { minFusedSize = size }(minFusedSize)
	minFusedSize = 2
	stockOps := recordStockOps(t)
	bits := []uint32{0, 1, 1<<24 + 1, 1<<25 + 6, 1<<31 - 1, 1 << 31, 1<<32 - 129, 1<<32 - 128, 1<<32 - 1}
	for i := range 40 {
		bits = append(bits, uint32(i)*2654435761)
	}
	run := func(b compute.Backend) []float32 {
		exec, err := graph.NewExec(b, func(x *graph.Node) *graph.Node {
			v := graph.MulScalar(graph.ConvertDType(x, dtypes.Float32), 1.0/float64(1<<32))
			return graph.MinScalar(graph.Abs(v), float64(math.Nextafter32(1, 0)))
		})
		if err != nil {
			t.Fatal(err)
		}
		outs, err := exec.Call(tensors.FromFlatDataAndDimensions(slices.Clone(bits), len(bits)))
		if err != nil {
			t.Fatal(err)
		}
		return tensors.MustCopyFlatData[float32](outs[0])
	}
	v1, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	want := run(v1)
	*stockOps = nil
	got := run(mustNew(t, ""))
	if slices.Contains(*stockOps, "ConvertDType") {
		t.Errorf("ConvertDType stayed in a stock segment: %v", *stockOps)
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Errorf("bits %d: %v on v2, %v on v1", bits[i], got[i], want[i])
		}
	}
}

// TestFusionTakesBroadcastOperands: per-channel ([1, 1, 1, C]) and
// per-example ([N, 1, 1, 1]) operands are read by the tree itself (no stock
// Mul or Add is left), with v1's bits; a Min with a per-channel operand,
// whose stock result for NaN depends on the row, stays stock.
func TestFusionTakesBroadcastOperands(t *testing.T) {
	defer func(size int) { minFusedSize = size }(minFusedSize)
	minFusedSize = 2
	stockOps := recordStockOps(t)
	const n, h, w, c = 3, 5, 4, 72
	build := func(x, ch, ex *graph.Node) []*graph.Node {
		y := graph.Add(graph.Mul(x, ch), ex)
		return []*graph.Node{graph.Sub(graph.Div(y, ch), graph.Mul(ex, x)), graph.Min(x, ch)}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	xs, chs, exs := make([]float32, n*h*w*c), make([]float32, c), make([]float32, n)
	for i := range xs {
		xs[i] = float32(rng.NormFloat64())
	}
	xs[7], xs[len(xs)-1] = float32(math.NaN()), float32(math.NaN())
	for i := range chs {
		chs[i] = float32(rng.NormFloat64())
	}
	for i := range exs {
		exs[i] = float32(rng.NormFloat64())
	}
	run := func(b compute.Backend) [][]float32 {
		return execFlat(t, b, build, tensors.FromFlatDataAndDimensions(slices.Clone(xs), n, h, w, c),
			tensors.FromFlatDataAndDimensions(slices.Clone(chs), 1, 1, 1, c),
			tensors.FromFlatDataAndDimensions(slices.Clone(exs), n, 1, 1, 1))
	}
	v1, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	want := run(v1)
	*stockOps = nil
	got := run(mustNew(t, ""))
	for _, op := range []string{"Mul", "Add", "Sub", "Div"} {
		if slices.Contains(*stockOps, op) {
			t.Errorf("a %s stayed in a stock segment: %v", op, *stockOps)
		}
	}
	if !slices.Contains(*stockOps, "Min") {
		t.Errorf("the per-channel Min was fused (stock ops: %v)", *stockOps)
	}
	for r := range want {
		for i := range want[r] {
			if math.Float32bits(got[r][i]) != math.Float32bits(want[r][i]) {
				t.Fatalf("result %d, element %d: %v on v2, %v on v1", r, i, got[r][i], want[r][i])
			}
		}
	}
}

// execFlat runs graph function build on backend b with the inputs and
// returns its float32 outputs' values.
func execFlat[F graph.ExecGraphFn](t *testing.T, b compute.Backend, build F, inputs ...any) [][]float32 {
	t.Helper()
	exec, err := graph.NewExec(b, build)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := exec.Call(inputs...)
	if err != nil {
		t.Fatal(err)
	}
	flat := make([][]float32, len(outs))
	for i, o := range outs {
		flat[i] = tensors.MustCopyFlatData[float32](o)
	}
	return flat
}

// recordStockOps collects the ops of the stock steps of every plan made
// until the test ends.
func recordStockOps(t *testing.T) *[]string {
	var ops []string
	compiledHook = func(p *plan) {
		for _, st := range p.steps {
			if st.native == nil {
				ops = append(ops, st.ops...)
			}
		}
	}
	t.Cleanup(func() { compiledHook = nil })
	return &ops
}

// TestFusionSimplifiesClipGradients: ReLU6's gradient, as GoMLX writes it
// (two NonNegativeIndicators of differences, one of them through OneMinus),
// ends in two masked multiplies (kernels.Program.Simplify finds
// the graph's constant 1), with engine v1's bits.
func TestFusionSimplifiesClipGradients(t *testing.T) {
	defer func(size int) { minFusedSize = size }(minFusedSize)
	minFusedSize = 2
	var programs []string
	compiledHook = func(p *plan) {
		for _, st := range p.steps {
			if k, ok := st.native.(*fusedKernel); ok {
				programs = append(programs, k.describe())
			}
		}
	}
	defer func() { compiledHook = nil }()
	build := func(x, g *graph.Node) []*graph.Node {
		relu6 := graph.Min(graph.Max(x, graph.ScalarZero(x.Graph(), x.DType())), graph.Scalar(x.Graph(), x.DType(), 6))
		return graph.Gradient(graph.ReduceAllSum(graph.Mul(relu6, g)), x)
	}
	negZero := float32(math.Copysign(0, -1))
	xs := []float32{-1.5, 0, negZero, 2.5, float32(math.NaN()), 6, 6.5, 5.999, float32(math.Inf(1)), float32(math.Inf(-1)), 1e-40, -1e-40}
	gs := []float32{1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, float32(math.NaN())}
	run := func(b compute.Backend) []float32 {
		return execFlat(t, b, build, tensors.FromFlatDataAndDimensions(slices.Clone(xs), 3, 4), tensors.FromFlatDataAndDimensions(slices.Clone(gs), 3, 4))[0]
	}
	v1, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	want := run(v1)
	got := run(mustNew(t, ""))
	if all := strings.Join(programs, " "); !strings.Contains(all, "MulLess MulNotLess]") || strings.Contains(all, "Sign") {
		t.Errorf("fused programs %v; want ReLU6's gradient ending in MulLess MulNotLess, no Sign", programs)
	}
	for j := range want {
		if g, w := got[j], want[j]; math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
			t.Errorf("element %d (x=%v, g=%v): %v on v2, %v on v1", j, xs[j], gs[j], g, w)
		}
	}
}
