package kernels

import (
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// dorefaGradProgram is DoReFa's 6-bit gradient quantizer as package engine
// fuses it for a [n/per, ...] gradient (per elements per example): input 0
// is the random bits (uint32), 5 the gradient, 6 and 9 per-example
// vectors, the others the scalars GoMLX gives it.
func dorefaGradProgram(n, per int) (Program, [][]float32) {
	r := rand.New(rand.NewPCG(7, 8))
	ex := n / per
	maxAbs, scale := make([]float32, ex), make([]float32, ex)
	for i := range maxAbs {
		maxAbs[i], scale[i] = 2+float32(r.NormFloat64()), 0.5
	}
	p := Program{Size: n, NumInputs: 10, Scalar: []bool{false, true, true, true, true, false, false, true, true, false},
		Spread: []Spread{{}, {}, {}, {}, {}, {}, {Count: ex, Every: per}, {}, {}, {Count: ex, Every: per}}, TailFrom: n,
		Code: []Instruction{{Op: OpCopy, Args: [3]int{0}}, {Op: OpMul, Args: [3]int{10, 1}}, {Op: OpAbs, Args: [3]int{11}},
			{Op: OpMin, Args: [3]int{2, 12}, SwapInTail: true}, {Op: OpSub, Args: [3]int{13, 3}}, {Op: OpDiv, Args: [3]int{14, 4}},
			{Op: OpDiv, Args: [3]int{5, 6}}, {Op: OpAdd, Args: [3]int{16, 3}}, {Op: OpAdd, Args: [3]int{17, 15}},
			{Op: OpMax, Args: [3]int{7, 18}, SwapInTail: true}, {Op: OpMin, Args: [3]int{8, 19}, SwapInTail: true},
			{Op: OpMul, Args: [3]int{20, 4}}, {Op: OpRound, Args: [3]int{21}}, {Op: OpDiv, Args: [3]int{22, 4}},
			{Op: OpSub, Args: [3]int{23, 3}}, {Op: OpMul, Args: [3]int{9, 24}}}}
	return p, [][]float32{nil, {0x1p-32}, {0.99999994}, {0.5}, {63}, randSlice(r, n), maxAbs, {0}, {1}, scale}
}

// countingSource is a Uint32Source that checks each runner's calls come
// in consecutive ranges, as Source promises.
type countingSource struct {
	Uint32Source
	t    *testing.T
	next int
	runs *atomic.Int64
}

func (s *countingSource) Fill(dst []float32, at int) {
	if s.next >= 0 && at != s.next {
		s.t.Errorf("source filled from %d after a fill that ended at %d", at, s.next)
	}
	s.next = at + len(dst)
	s.runs.Add(1)
	s.Uint32Source.Fill(dst, at)
}

// TestProgramSources runs DoReFa's gradient program with its random bits
// read from a Source (converted tile by tile) and from the float32 tensor
// the float32 tensor of their values, whole and over several workers, and
// requires the same bits; sizes leave partial tiles. A source for a scalar
// input panics.
func TestProgramSources(t *testing.T) {
	for _, c := range []struct{ n, per int }{{24, 8}, {3 * 1000, 1000}, {5*tileSize + 8*17, 5*tileSize/8 + 17}} {
		p, inputs := dorefaGradProgram(c.n, c.per)
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, uint64(c.n)))
		bits := make([]uint32, c.n)
		for i := range bits {
			bits[i] = r.Uint32()
		}
		bits[0], bits[1] = 0, math.MaxUint32 // 2^32 rounds to 1 - 2^-24 only by the Min
		floats := make([]float32, c.n)
		for i, v := range bits {
			floats[i] = float32(float64(v)) // exact in float64, then rounded once
		}
		inputs[0] = floats
		want := make([]float32, c.n)
		p.Run(want, inputs, 1)
		inputs[0] = nil
		for _, workers := range []int{1, 2, 3} {
			got := make([]float32, c.n)
			var fills atomic.Int64
			p.RunSources(got, inputs, func() []Source {
				s := make([]Source, p.NumInputs)
				s[0] = &countingSource{Uint32Source: bits, t: t, next: -1, runs: &fills}
				return s
			}, workers)
			if fills.Load() == 0 {
				t.Errorf("n=%d workers=%d: the source was never read", c.n, workers)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("n=%d workers=%d: element %d is %v, %v from the converted tensor", c.n, workers, i, got[i], want[i])
				}
			}
		}
	}
	p, inputs := dorefaGradProgram(24, 8)
	defer func() {
		if recover() == nil {
			t.Error("a Source for a scalar input did not panic")
		}
	}()
	s := make([]Source, p.NumInputs)
	s[1] = Uint32Source(make([]uint32, 24))
	p.RunnerWith(inputs, s)
}
