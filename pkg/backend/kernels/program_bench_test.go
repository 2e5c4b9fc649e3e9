package kernels

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

// BenchmarkProgram runs fused element-wise programs over MobileNetV2 width
// 0.5 batch 96's largest activation (96x32x32x72 floats): ReLU6's gradient
// as GoMLX writes it (11 instructions, 3 tensor inputs), one Max, and
// DoReFa's 6-bit gradient quantizer (16 instructions; its random bits read
// from a uint32 tensor by a Uint32Source). It reports GB/s of the tensors
// read and written.
func BenchmarkProgram(b *testing.B) {
	const n = 96 * 32 * 32 * 72
	r := rand.New(rand.NewPCG(1, 1))
	x, y, z := randSlice(r, n), randSlice(r, n), randSlice(r, n)
	out := make([]float32, n)
	var dorefa struct {
		p      Program
		inputs [][]float32
	}
	dorefa.p, dorefa.inputs = dorefaGradProgram(n, 32*32*72)
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
		{"dorefagrad", dorefa.p, dorefa.inputs, 3},
	} {
		b.Run(Path()+"/"+bc.name, func(b *testing.B) {
			if bc.name == "dorefagrad" {
				bits := make([]uint32, n)
				for i := range bits {
					bits[i] = r.Uint32()
				}
				for b.Loop() {
					bc.p.RunSources(out, bc.inputs, func() []Source {
						return []Source{Uint32Source(bits), nil, nil, nil, nil, nil, nil, nil, nil, nil}
					}, runtime.GOMAXPROCS(0))
				}
				b.ReportMetric(float64(4*n*bc.tensors*b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
				return
			}
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
