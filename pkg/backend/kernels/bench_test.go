package kernels

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

// benchConvs are the shapes BenchmarkConv2DForward measures; the first is
// the one the project's performance target refers to.
var benchConvs = []struct {
	name string
	c    Conv2D
}{
	{"3x3_64to64_32x32_b32", Conv2D{N: 32, H: 32, W: 32, C: 64, KH: 3, KW: 3, O: 64,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
	{"3x3s2_128to128_16x16_b32", Conv2D{N: 32, H: 16, W: 16, C: 128, KH: 3, KW: 3, O: 128,
		StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
	{"1x1_64to64_32x32_b32", Conv2D{N: 32, H: 32, W: 32, C: 64, KH: 1, KW: 1, O: 64,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1}},
	// The input gradient of filterBenchConvs' stride-2 3x3 convolution
	// (input 32x32x64, output 16x16x128), as GoMLX writes it: the output
	// gradient dilated by 2, padded (1, 2), with the reversed kernel.
	{"indil2_3x3_128to64_16x16to32x32_b32", Conv2D{N: 32, H: 16, W: 16, C: 128, KH: 3, KW: 3, O: 64,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 2, PadLeft: 1, PadRight: 2, InDilH: 2, InDilW: 2}},
	// ResNet-18 at width 1/4, batch 128: the first stage's 16-channel
	// convolution, the stem (3 input channels), and the input gradient of
	// the stride-2 1x1 shortcut (three output pixels in four are zeros).
	{"3x3_16to16_32x32_b128", Conv2D{N: 128, H: 32, W: 32, C: 16, KH: 3, KW: 3, O: 16,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
	{"3x3_3to16_32x32_b128", Conv2D{N: 128, H: 32, W: 32, C: 3, KH: 3, KW: 3, O: 16,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
	{"indil2_1x1_32to16_16x16to32x32_b128", Conv2D{N: 128, H: 16, W: 16, C: 32, KH: 1, KW: 1, O: 16,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadBottom: 1, PadRight: 1, InDilH: 2, InDilW: 2}},
	{"3x3_128to128_4x4_b128", Conv2D{N: 128, H: 4, W: 4, C: 128, KH: 3, KW: 3, O: 128,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
	// ResNet-18 at width 1, batch 32: the last stages' convolutions, whose
	// rows are 8 and 4 pixels and whose weights do not fit L2.
	{"3x3_256to256_8x8_b32", Conv2D{N: 32, H: 8, W: 8, C: 256, KH: 3, KW: 3, O: 256,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
	{"3x3_512to512_4x4_b32", Conv2D{N: 32, H: 4, W: 4, C: 512, KH: 3, KW: 3, O: 512,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
	// The last stage's stride-2 convolution (8x8x256 -> 4x4x512) and its
	// input gradient.
	{"3x3s2_256to512_8x8_b32", Conv2D{N: 32, H: 8, W: 8, C: 256, KH: 3, KW: 3, O: 512,
		StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
	{"indil2_3x3_512to256_4x4to8x8_b32", Conv2D{N: 32, H: 4, W: 4, C: 512, KH: 3, KW: 3, O: 256,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 2, PadLeft: 1, PadRight: 2, InDilH: 2, InDilW: 2}},
	// MobileNetV2 at width 0.5, batch 96: the first expansion (12 -> 72
	// channels at 32x32), its input gradient (72 -> 12) and the last
	// block's 1x1 convolutions at 4x4.
	{"1x1_12to72_32x32_b96", Conv2D{N: 96, H: 32, W: 32, C: 12, KH: 1, KW: 1, O: 72,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1}},
	{"1x1_72to12_32x32_b96", Conv2D{N: 96, H: 32, W: 32, C: 72, KH: 1, KW: 1, O: 12,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1}},
	{"1x1_160to640_4x4_b96", Conv2D{N: 96, H: 4, W: 4, C: 160, KH: 1, KW: 1, O: 640,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1}},
}

// BenchmarkConv2DForward measures Forward on the current path (see Path;
// force one with MLSYSREP_KERNELS) with one worker per GOMAXPROCS, and
// reports GFLOP/s counting Flops per call: 2*N*OH*OW*O*C*KH*KW, or the
// multiply-adds on input pixels with input dilation.
func BenchmarkConv2DForward(b *testing.B) {
	workers := runtime.GOMAXPROCS(0)
	for _, bc := range benchConvs {
		b.Run(Path()+"/"+bc.name, func(b *testing.B) {
			c := bc.c
			r := rand.New(rand.NewPCG(1, 1))
			in := randSlice(r, c.InputSize())
			packed := make([]float32, c.PackedSize())
			packHWIO(c, packed, randSlice(r, c.KH*c.KW*c.C*c.O))
			out := make([]float32, c.OutputSize())
			c.Forward(out, in, packed, workers) // warm the worker pool
			b.ResetTimer()
			for b.Loop() {
				c.Forward(out, in, packed, workers)
			}
			b.ReportMetric(c.Flops()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// filterBenchConvs are the shapes BenchmarkConv2DBackwardFilter measures:
// ResNet-18's (CIFAR-sized) convolutions with batch 32.
var filterBenchConvs = []struct {
	name string
	c    Conv2D
}{
	{"3x3_64to64_32x32_b32", Conv2D{N: 32, H: 32, W: 32, C: 64, KH: 3, KW: 3, O: 64,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
	{"3x3s2_64to128_32x32to16x16_b32", Conv2D{N: 32, H: 32, W: 32, C: 64, KH: 3, KW: 3, O: 128,
		StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
	{"1x1s2_64to128_32x32to16x16_b32", Conv2D{N: 32, H: 32, W: 32, C: 64, KH: 1, KW: 1, O: 128,
		StrideH: 2, StrideW: 2, DilH: 1, DilW: 1}},
	{"3x3_128to128_16x16_b32", Conv2D{N: 32, H: 16, W: 16, C: 128, KH: 3, KW: 3, O: 128,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
	{"3x3_256to256_8x8_b32", Conv2D{N: 32, H: 8, W: 8, C: 256, KH: 3, KW: 3, O: 256,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
	{"3x3_512to512_4x4_b32", Conv2D{N: 32, H: 4, W: 4, C: 512, KH: 3, KW: 3, O: 512,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
	// ResNet-18 at width 1/4, batch 128: the first stage (16 channels) and
	// the stem (3 input channels).
	{"3x3_16to16_32x32_b128", Conv2D{N: 128, H: 32, W: 32, C: 16, KH: 3, KW: 3, O: 16,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
	{"3x3_3to16_32x32_b128", Conv2D{N: 128, H: 32, W: 32, C: 3, KH: 3, KW: 3, O: 16,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
	// MobileNetV2 at width 0.5, batch 96: 1x1 convolutions with few
	// input channels at 32x32 and with few pixels at 8x8 and 4x4.
	{"1x1_12to72_32x32_b96", Conv2D{N: 96, H: 32, W: 32, C: 12, KH: 1, KW: 1, O: 72,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1}},
	{"1x1_288to48_8x8_b96", Conv2D{N: 96, H: 8, W: 8, C: 288, KH: 1, KW: 1, O: 48,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1}},
	{"1x1_160to640_4x4_b96", Conv2D{N: 96, H: 4, W: 4, C: 160, KH: 1, KW: 1, O: 640,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1}},
}

// BenchmarkConv2DBackwardFilter measures BackwardFilter like
// BenchmarkConv2DForward, counting the forward's Flops per call (the kernel
// gradient has the same multiply-adds).
func BenchmarkConv2DBackwardFilter(b *testing.B) {
	workers := runtime.GOMAXPROCS(0)
	for _, bc := range filterBenchConvs {
		b.Run(Path()+"/"+bc.name, func(b *testing.B) {
			c := bc.c
			r := rand.New(rand.NewPCG(1, 1))
			in := randSlice(r, c.InputSize())
			dy := randSlice(r, c.OutputSize())
			dw := make([]float32, c.KH*c.KW*c.C*c.O)
			c.BackwardFilter(dw, in, dy, workers) // warm the worker pool
			b.ResetTimer()
			for b.Loop() {
				c.BackwardFilter(dw, in, dy, workers)
			}
			b.ReportMetric(c.Flops()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkPackWeights measures PackWeights on ResNet-18's largest kernel
// (3x3, 512 -> 512) laid out as the forward pass reads it (HWIO: rows are
// copies) and transposed, as the input gradient reads it (HWOI: rows are
// gathered), in GB/s of kernel read.
func BenchmarkPackWeights(b *testing.B) {
	c := Conv2D{N: 32, H: 4, W: 4, C: 512, KH: 3, KW: 3, O: 512,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	r := rand.New(rand.NewPCG(1, 1))
	kernel := randSlice(r, c.KH*c.KW*c.C*c.O)
	packed := make([]float32, c.PackedSize())
	workers := runtime.GOMAXPROCS(0)
	for _, layout := range []struct {
		name               string
		sKH, sKW, sCI, sCO int
	}{
		{"hwio", c.KW * c.C * c.O, c.C * c.O, c.O, 1},
		{"transposed", c.KW * c.C * c.O, c.C * c.O, 1, c.C},
	} {
		b.Run(layout.name, func(b *testing.B) {
			for b.Loop() {
				c.PackWeights(packed, kernel, layout.sKH, layout.sKW, layout.sCI, layout.sCO, workers)
			}
			b.ReportMetric(float64(4*len(kernel))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
