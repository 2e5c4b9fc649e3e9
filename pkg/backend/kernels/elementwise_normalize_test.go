package kernels

import (
	"math"
	"testing"
)

// TestProgramNormalizes runs a program (a ReLU6 clip of input 0, then a
// product with input 1) on y = BatchNorm.Normalize(x), and the same program
// normalizing input 0 itself: the same bits, on every path, for channel
// counts below, at and above a tile, with a ragged last tile and workers
// cutting inside a tile's rows.
func TestProgramNormalizes(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		for _, tc := range []struct{ rows, c, workers int }{
			{37, 5, 2}, {300, 72, 3}, {9, 1024, 2}, {4, 1280, 2}, {1, 3, 1}, {2000, 16, 2},
		} {
			size := tc.rows * tc.c
			x, other := make([]float32, size), make([]float32, size)
			mean, a, offset := make([]float32, tc.c), make([]float32, tc.c), make([]float32, tc.c)
			for i := range tc.c {
				mean[i], a[i], offset[i] = float32(math.Cos(float64(i)))*2, float32(i%7)*0.3-1, float32(i%3)-1
			}
			for i := range x {
				x[i] = float32(math.Sin(float64(i))) * 7
				other[i] = float32(i%11) - 5
			}
			y := make([]float32, size)
			BatchNorm{Rows: tc.rows, C: tc.c}.Normalize(y, x, mean, a, offset, tc.workers)
			prog := Program{Size: size, NumInputs: 4, Scalar: []bool{false, false, true, true},
				Code: []Instruction{
					{Op: OpMax, Args: [3]int{0, 2}},
					{Op: OpMin, Args: [3]int{4, 3}},
					{Op: OpMul, Args: [3]int{5, 1}},
				}, TailFrom: size}
			zero, six := []float32{0}, []float32{6}
			want := make([]float32, size)
			prog.Run(want, [][]float32{y, other, zero, six}, tc.workers)
			normalizing, err := prog.NormalizingInput(0, tc.c)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float32, size)
			normalizing.Run(got, [][]float32{x, other, zero, six, mean, a, offset}, tc.workers)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%+v: element %d = %v, want %v", tc, i, got[i], want[i])
				}
			}
		}
	})
}

// TestProgramNormalizationRefused lists normalizations Validate must refuse.
func TestProgramNormalizationRefused(t *testing.T) {
	sp := Spread{Count: 4, Every: 1}
	base := func() Program {
		return Program{Size: 40, NumInputs: 4, Scalar: []bool{false, false, false, false},
			Spread: []Spread{{}, sp, sp, sp}, Code: []Instruction{{Op: OpNeg, Args: [3]int{0}}}, TailFrom: 40,
			Normalize: &Normalization{Input: 0, Mean: 1, A: 2, Offset: 3, C: 4}}
	}
	if p := base(); p.Validate() != nil {
		t.Fatalf("the valid case is refused: %v", p.Validate())
	}
	for name, change := range map[string]func(p *Program){
		"channels do not divide the size": func(p *Program) {
			p.Normalize.C, p.Spread = 3, []Spread{{}, {3, 1}, {3, 1}, {3, 1}}
		},
		"input out of range":      func(p *Program) { p.Normalize.Offset = 4 },
		"input twice":             func(p *Program) { p.Normalize.A = 1 },
		"vector not spread":       func(p *Program) { p.Spread[2] = Spread{} },
		"normalized input spread": func(p *Program) { p.Spread[0] = sp },
		"code reads a vector":     func(p *Program) { p.Code[0].Args[0] = 2 },
		"scalar input":            func(p *Program) { p.Scalar[0] = true },
	} {
		p := base()
		change(&p)
		if p.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
