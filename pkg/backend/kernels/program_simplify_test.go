package kernels

import (
	"fmt"
	"math"
	"testing"
)

// TestSimplify runs programs written as GoMLX writes a clip's gradient
// before and after Simplify, over the special values against each other
// and random ones, and requires the same bits and the expected code; and
// checks that what does not match the idioms is left alone.
func TestSimplify(t *testing.T) {
	// Inputs: 0 x, 1 y (tensors), 2 the constant c (scalar), 3 g (tensor).
	// nni(d) appends GoMLX's NonNegativeIndicator(d) = Sign(Sign(d) + c).
	type asm struct{ code []Instruction }
	emit := func(a *asm, op ElementOp, args ...int) int {
		var ins Instruction
		ins.Op = op
		copy(ins.Args[:], args)
		a.code = append(a.code, ins)
		return 4 + len(a.code) - 1
	}
	nni := func(a *asm, d int) int { return emit(a, OpSign, emit(a, OpAdd, emit(a, OpSign, d), 2)) }
	ops := func(code []Instruction) string {
		s := ""
		for _, ins := range code {
			s += ins.Op.String() + " "
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		c     float32 // the constant's value
		build func(a *asm)
		want  string // the simplified program's ops
	}{
		{"max gradient", 1, func(a *asm) { emit(a, OpMul, 3, nni(a, emit(a, OpSub, 0, 1))) }, "MulNotLess "},
		{"min gradient", 1, func(a *asm) { emit(a, OpMul, 3, emit(a, OpSub, 2, nni(a, emit(a, OpSub, 0, 1)))) }, "MulLess "},
		{"relu6 gradient", 1, func(a *asm) {
			upper := emit(a, OpMul, 3, emit(a, OpSub, 2, nni(a, emit(a, OpSub, 0, 1))))
			emit(a, OpMul, upper, nni(a, emit(a, OpSub, 1, 0)))
		}, "MulLess MulNotLess "},
		{"one added first", 1, func(a *asm) {
			emit(a, OpMul, 3, emit(a, OpSign, emit(a, OpAdd, 2, emit(a, OpSign, emit(a, OpSub, 0, 1)))))
		}, "MulNotLess "},
		{"mask first", 1, func(a *asm) { emit(a, OpMul, nni(a, emit(a, OpSub, 0, 1)), 3) }, "MulNotLess "},
		{"mask read twice", 1, func(a *asm) {
			m := nni(a, emit(a, OpSub, 0, 1))
			emit(a, OpAdd, emit(a, OpMul, 3, m), m)
		}, "NotLess Mul Add "},
		{"difference read elsewhere too", 1, func(a *asm) {
			d := emit(a, OpSub, 0, 1)
			emit(a, OpAdd, d, nni(a, d))
		}, "Sub NotLess Add "},
		{"indicator of an input", 1, func(a *asm) { emit(a, OpMul, 3, nni(a, 0)) }, "Sign Add Sign Mul "},
		{"adds two, not one", 2, func(a *asm) { emit(a, OpMul, 3, nni(a, emit(a, OpSub, 0, 1))) }, "Sub Sign Add Sign Mul "},
		{"inner sign read twice", 1, func(a *asm) {
			s := emit(a, OpSign, emit(a, OpSub, 0, 1))
			emit(a, OpMul, s, emit(a, OpSign, emit(a, OpAdd, s, 2)))
		}, "Sub Sign Add Sign Mul "},
		{"indicator is the output", 1, func(a *asm) { emit(a, OpSub, 2, nni(a, emit(a, OpSub, 0, 1))) }, "Less "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a asm
			tc.build(&a)
			const size = 16*43 + 3
			x, y, g := elementInputs(size)
			for i := 0; i < size; i += 3 { // gradients that are NaN, infinite or zeros too
				g[i] = specialValues[(i/3)%len(specialValues)]
			}
			p := Program{Size: size, NumInputs: 4, Scalar: []bool{false, false, true, false}, TailFrom: size, Code: a.code}
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			s := p.Simplify(func(input int) (float32, bool) { return tc.c, input == 2 })
			if err := s.Validate(); err != nil {
				t.Fatalf("simplified program: %v", err)
			}
			if got := ops(s.Code); got != tc.want {
				t.Errorf("simplified to %s, want %s", got, tc.want)
			}
			if got := ops(p.Simplify(nil).Code); got != ops(p.Code) {
				t.Errorf("without constants simplified to %s", got)
			}
			inputs := [][]float32{x, y, {tc.c}, g}
			want, got := make([]float32, size), make([]float32, size)
			forEachPath(t, func(t *testing.T) {
				p.Run(want, inputs, 2)
				s.Run(got, inputs, 2)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("element %d (x=%v y=%v g=%v): %v, unsimplified %v", i, x[i], y[i], g[i], got[i], want[i])
					}
				}
			})
		})
	}
}

func ExampleProgram_Simplify() {
	// NonNegativeIndicator(x - y) as GoMLX writes it: input 2 is the constant 1.
	p := Program{Size: 8, NumInputs: 3, Scalar: []bool{false, false, true}, TailFrom: 8, Code: []Instruction{
		{Op: OpSub, Args: [3]int{0, 1}},
		{Op: OpSign, Args: [3]int{3}},
		{Op: OpAdd, Args: [3]int{4, 2}},
		{Op: OpSign, Args: [3]int{5}},
	}}
	s := p.Simplify(func(input int) (float32, bool) { return 1, input == 2 })
	fmt.Println(len(s.Code), s.Code[0].Op, s.Code[0].Args[:2])
	// Output: 1 NotLess [0 1]
}
