package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// specialValues are the inputs where ops that look alike round differently:
// signed zeros, NaN, infinities, halves (round half to even), values past
// 2^23 (already integers), denormals.
var specialValues = []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)),
	float32(math.Inf(-1)), 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 3.49999, 1 << 24, -(1 << 23) - 0.5, 1e-40, -1e-40, 1, -1, 6}

// elementInputs returns n values for each of three operands: the special
// values against each other, then random ones (some equal, some 0/1 for
// Where's condition).
func elementInputs(n int) (a, b, c []float32) {
	rng := rand.New(rand.NewPCG(11, 12))
	a, b, c = make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range a {
		sv := specialValues
		if i < len(sv)*len(sv) {
			a[i], b[i] = sv[i%len(sv)], sv[i/len(sv)]
		} else {
			a[i], b[i] = float32(rng.NormFloat64()*4), float32(rng.NormFloat64()*4)
			if i%5 == 0 {
				b[i] = a[i]
			}
			if i%7 == 0 {
				a[i] = float32(rng.IntN(2))
			}
		}
		c[i] = float32(rng.NormFloat64())
	}
	return a, b, c
}

// TestElementOpsAgreeAcrossPaths runs every op on every path over special
// and random values, lengths that leave tails, and requires the generic
// path's bits; and checks the generic path's definition of each op on a few
// hand-computed cases.
func TestElementOpsAgreeAcrossPaths(t *testing.T) {
	defer SetPath("auto")
	a, b, c := elementInputs(16*37 + 5)
	for op := range numElementOps {
		want := make([]float32, len(a))
		applyGeneric(op, want, a, b, c)
		for _, path := range Paths() {
			if err := SetPath(path); err != nil {
				t.Fatal(err)
			}
			got := make([]float32, len(a))
			currentApply()(op, got, a, b, c)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Errorf("%s on %s: element %d (a=%v b=%v c=%v): %v, generic %v", op, path, i, a[i], b[i], c[i], got[i], want[i])
					break
				}
			}
		}
	}
	negZero := float32(math.Copysign(0, -1))
	nan := float32(math.NaN())
	for _, tc := range []struct {
		op      ElementOp
		a, b, c float32
		want    float32
	}{
		{OpRound, 2.5, 0, 0, 2}, {OpRound, -1.5, 0, 0, -2}, {OpRound, 0.49999997, 0, 0, 0},
		{OpMin, nan, 1, 0, 1}, {OpMin, 1, nan, 0, nan}, {OpMin, negZero, 0, 0, 0}, {OpMax, 0, negZero, 0, negZero},
		{OpSign, negZero, 0, 0, 0}, {OpSign, nan, 0, 0, 0}, {OpSign, -3, 0, 0, -1},
		{OpWhere, 1, 5, 7, 5}, {OpWhere, 0, 5, 7, 7}, {OpNotEqual, nan, nan, 0, 1}, {OpLessEqual, 2, 2, 0, 1},
		{OpDiv, 1, 3, 0, float32(1) / 3}, {OpAbs, negZero, 0, 0, 0},
		{OpNotLess, nan, 0, 0, 1}, {OpNotLess, -1, 0, 0, 0}, {OpNotLess, negZero, 0, 0, 1}, {OpNotLess, 2, 2, 0, 1},
		{OpRelu, -2, 0, 0, 0}, {OpRelu, 3, 0, 0, 3}, {OpRelu, negZero, 0, 0, negZero}, {OpRelu, nan, 0, 0, nan},
		{OpReluGrad, 1, 5, 0, 5}, {OpReluGrad, 0, 5, 0, 0}, {OpReluGrad, negZero, 5, 0, 0}, {OpReluGrad, nan, 5, 0, 0},
		{OpReluGrad, -1, nan, 0, 0},
	} {
		out := []float32{0}
		applyGeneric(tc.op, out, []float32{tc.a}, []float32{tc.b}, []float32{tc.c})
		if math.Float32bits(out[0]) != math.Float32bits(tc.want) && !(math.IsNaN(float64(out[0])) && math.IsNaN(float64(tc.want))) {
			t.Errorf("%s(%v, %v, %v) = %v, want %v", tc.op, tc.a, tc.b, tc.c, out[0], tc.want)
		}
	}
}

// TestProgram runs a small fused program (a DoReFa-like quantizer with a
// scalar operand and a comparison feeding a Where) over sizes that are not
// multiples of the tile, with one and three workers, against the same ops
// applied one after another over whole tensors.
func TestProgram(t *testing.T) {
	for _, size := range []int{1, 17, tileSize, 3*tileSize + 5} {
		x, _, _ := elementInputs(size)
		levels := []float32{7}
		p := &Program{Size: size, NumInputs: 2, Scalar: []bool{false, true}, Code: []Instruction{
			{Op: OpMul, Args: [3]int{0, 1}},      // 2: x*7
			{Op: OpRound, Args: [3]int{2}},       // 3
			{Op: OpDiv, Args: [3]int{3, 1}},      // 4: round(x*7)/7
			{Op: OpGreater, Args: [3]int{0, 1}},  // 5: x > 7
			{Op: OpWhere, Args: [3]int{5, 1, 4}}, // 6: x > 7 ? 7 : q
		}}
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		seven := make([]float32, size)
		for i := range seven {
			seven[i] = 7
		}
		step := func(op ElementOp, a, b, c []float32) []float32 {
			out := make([]float32, size)
			applyGeneric(op, out, a, b, c)
			return out
		}
		m := step(OpMul, x, seven, nil)
		q := step(OpDiv, step(OpRound, m, nil, nil), seven, nil)
		want := step(OpWhere, step(OpGreater, x, seven, nil), seven, q)
		for _, workers := range []int{1, 3} {
			got := make([]float32, size)
			p.Run(got, [][]float32{x, levels}, workers)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("size %d, %d workers: element %d = %v, want %v", size, workers, i, got[i], want[i])
				}
			}
		}
	}
	bad := &Program{Size: 4, NumInputs: 1, Scalar: []bool{false}, Code: []Instruction{{Op: OpAdd, Args: [3]int{0, 1}}}}
	if bad.Validate() == nil {
		t.Error("a program reading its own result was accepted")
	}
}

// TestUint32Source checks the conversion a Uint32Source makes against
// Go's, by way of float64 (exact for every uint32), on values around
// float32's rounding steps, filled in consecutive ranges as a runner fills
// its tiles.
func TestUint32Source(t *testing.T) {
	in := []uint32{0, 1, 2, 1<<24 - 1, 1 << 24, 1<<24 + 1, 1<<24 + 3, 1<<25 + 2, 1<<25 + 6, 1<<31 - 1, 1 << 31, 1<<32 - 129, 1<<32 - 128, 1<<32 - 1}
	for i := range 70000 {
		in = append(in, uint32(i)*2654435761)
	}
	out := make([]float32, len(in))
	for at := 0; at < len(in); at += tileSize {
		Uint32Source(in).Fill(out[at:min(len(in), at+tileSize)], at)
	}
	for i, v := range in {
		if want := float32(float64(v)); out[i] != want {
			t.Fatalf("float32(%d) = %v, want %v", v, out[i], want)
		}
	}
}

// TestProgramSpread runs x * channel + example with a per-channel operand
// (Every 1) and a per-example one (Every = elements per example) over shapes
// whose rows and examples straddle tiles, against the operands expanded by
// hand; and rejects spreads that do not divide the size.
func TestProgramSpread(t *testing.T) {
	// (Examples of 8 and 2.05 tiles: whole tiles of one per-example value, reused.)
	for _, tc := range []struct{ n, hw, c int }{{2, 3, 5}, {3, 40, 72}, {4, 17, 16}, {1, 1, 1}, {3, 1024, 8}, {5, 300, 7}} {
		size := tc.n * tc.hw * tc.c
		x, _, _ := elementInputs(size)
		ch, ex := make([]float32, tc.c), make([]float32, tc.n)
		for i := range ch {
			ch[i] = float32(i) + 0.25
		}
		for i := range ex {
			ex[i] = -float32(i) - 0.5
		}
		p := &Program{Size: size, NumInputs: 3, Scalar: []bool{false, false, false},
			Spread: []Spread{{}, {Count: tc.c, Every: 1}, {Count: tc.n, Every: tc.hw * tc.c}},
			Code:   []Instruction{{Op: OpMul, Args: [3]int{0, 1}}, {Op: OpAdd, Args: [3]int{3, 2}}}}
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		for _, workers := range []int{1, 3} {
			got := make([]float32, size)
			p.Run(got, [][]float32{x, ch, ex}, workers)
			for i := range got {
				want := float32(x[i]*ch[i%tc.c]) + ex[i/(tc.hw*tc.c)] // no FMA
				if math.Float32bits(got[i]) != math.Float32bits(want) {
					t.Fatalf("%+v, %d workers: element %d = %v, want %v", tc, workers, i, got[i], want)
				}
			}
		}
	}
	bad := &Program{Size: 10, NumInputs: 2, Scalar: []bool{false, false}, Spread: []Spread{{}, {Count: 3, Every: 1}},
		Code: []Instruction{{Op: OpAdd, Args: [3]int{0, 1}}}}
	if bad.Validate() == nil {
		t.Error("a spread of 3 values over 10 elements was accepted")
	}
}

// TestRunnerReleaseReuse runs two programs through runners whose tiles come
// from the pool the other released (a scalar, a per-channel cycle and a
// per-example spread, whose tiles a stale value would corrupt), checks
// every element against the formula, and checks that a released runner
// refuses to run rather than write through tiles another runner now holds.
func TestRunnerReleaseReuse(t *testing.T) {
	const n, hw, c = 3, 40, 72
	size := n * hw * c
	x, _, _ := elementInputs(size)
	ch, ex := make([]float32, c), make([]float32, n)
	for i := range ch {
		ch[i] = float32(i) + 0.25
	}
	for i := range ex {
		ex[i] = -float32(i) - 0.5
	}
	spread := &Program{Size: size, NumInputs: 3, Scalar: []bool{false, false, false},
		Spread: []Spread{{}, {Count: c, Every: 1}, {Count: n, Every: hw * c}},
		Code:   []Instruction{{Op: OpMul, Args: [3]int{0, 1}}, {Op: OpAdd, Args: [3]int{3, 2}}}}
	scalar := &Program{Size: size, NumInputs: 2, Scalar: []bool{false, true},
		Code: []Instruction{{Op: OpSub, Args: [3]int{0, 1}}}}
	for _, p := range []*Program{spread, scalar} {
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 4 {
		got := make([]float32, size)
		if round%2 == 0 {
			r := spread.Runner([][]float32{x, ch, ex})
			r.Run(got, 0, size)
			r.Release()
			for i := range got {
				want := float32(x[i]*ch[i%c]) + ex[i/(hw*c)]
				if math.Float32bits(got[i]) != math.Float32bits(want) {
					t.Fatalf("round %d: element %d = %v, want %v", round, i, got[i], want)
				}
			}
			continue
		}
		s := float32(round) + 0.125
		r := scalar.Runner([][]float32{x, {s}})
		r.Run(got, 0, size)
		r.Release()
		for i := range got {
			if want := x[i] - s; math.Float32bits(got[i]) != math.Float32bits(want) {
				t.Fatalf("round %d: element %d = %v, want %v", round, i, got[i], want)
			}
		}
	}
	r := scalar.Runner([][]float32{x, {1}})
	r.Release()
	defer func() {
		if recover() == nil {
			t.Error("a released runner ran")
		}
	}()
	r.Run(make([]float32, size), 0, size)
}
