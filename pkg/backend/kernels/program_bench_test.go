package kernels

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

// BenchmarkProgram runs fused element-wise programs over MobileNetV2 width
// 0.5 batch 96's largest activation (96x32x32x72 floats): ReLU6's gradient
// as GoMLX writes it (11 instructions, 3 tensor inputs) and one Max. It
// reports GB/s of the tensors read and written.
func BenchmarkProgram(b *testing.B) {
	const n = 96 * 32 * 32 * 72
	r := rand.New(rand.NewPCG(1, 1))
	x, y, z := randSlice(r, n), randSlice(r, n), randSlice(r, n)
	out := make([]float32, n)
	for _, bc := range []struct {
		name    string
		p       Program
		inputs  [][]float32
		tensors int
	}{
		{"relu6grad", Program{Size: n, NumInputs: 6, Scalar: []bool{false, true, true, false, false, true}, TailFrom: n, Code: []Instruction{
			{Op: OpSub, Args: [3]int{0, 1}}, {Op: OpSign, Args: [3]int{6}}, {Op: OpAdd, Args: [3]int{7, 2}}, {Op: OpSign, Args: [3]int{8}},
			{Op: OpSub, Args: [3]int{2, 9}}, {Op: OpMul, Args: [3]int{3, 10}}, {Op: OpSub, Args: [3]int{4, 5}}, {Op: OpSign, Args: [3]int{12}},
			{Op: OpAdd, Args: [3]int{13, 2}}, {Op: OpSign, Args: [3]int{14}}, {Op: OpMul, Args: [3]int{11, 15}}}},
			[][]float32{x, {0}, {1}, y, z, {6}}, 4},
		{"max", Program{Size: n, NumInputs: 2, Scalar: []bool{false, true}, TailFrom: n, Code: []Instruction{{Op: OpMax, Args: [3]int{1, 0}}}},
			[][]float32{x, {0}}, 2},
	} {
		b.Run(Path()+"/"+bc.name, func(b *testing.B) {
			if err := bc.p.Validate(); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				bc.p.Run(out, bc.inputs, runtime.GOMAXPROCS(0))
			}
			b.ReportMetric(float64(4*n*bc.tensors*b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
