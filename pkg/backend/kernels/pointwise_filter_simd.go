//go:build goexperiment.simd && amd64

package kernels

import (
	"simd/archsimd"
	"unsafe"
)

// simdPointwiseFilter returns the SIMD kernel-gradient rows of a path, or
// nil: the assembly kernels of gen_asm.go, six input channels times 32
// output channels a pass on AVX-512 (then 16, then 8), times 16 on AVX2
// (then 8), each gradient element's products added in pixel order alike.
func simdPointwiseFilter(path string) pointwiseFilterRows {
	switch path {
	case "avx512":
		return func(pw Pointwise, part, tile, x, dy []float32, lo, hi int) {
			pointwiseFilterAsm(&pwFilterKernelsAVX512, pw, part, tile, x, dy, lo, hi)
		}
	case "avx2":
		return func(pw Pointwise, part, tile, x, dy []float32, lo, hi int) {
			pointwiseFilterAsm(&pwFilterKernelsAVX2, pw, part, tile, x, dy, lo, hi)
		}
	}
	return nil
}

// pointwiseFilterAsm adds pixels [lo, hi) into part, pwTileRows at a time
// (read from memory in order first: see touchLines), six input channels a
// kernel call.
func pointwiseFilterAsm(kernels *[pwFilterRows]pwFilterKernel, pw Pointwise, part, tile, x, dy []float32, lo, hi int) {
	op, C := pw.filterOPad(), pw.C
	xp, pp := ptr(x), ptr(part)
	// dy is read in place when its rows are whole vectors, else through the
	// padded tile.
	direct := pw.O == op
	stride := uintptr(4 * op)
	if direct {
		stride = uintptr(4 * pw.O)
	}
	for p0 := lo; p0 < hi; p0 += pwTileRows {
		p1 := min(hi, p0+pwTileRows)
		n := p1 - p0
		tp := ptr(tile)
		if direct {
			tp = unsafe.Add(ptr(dy), 4*p0*pw.O)
			touchLines(tp, 4*n*pw.O)
		} else {
			fillTileAVX2(pw, tile, dy, p0, p1, op)
		}
		touchLines(unsafe.Add(xp, 4*p0*C), 4*n*C)
		for c := 0; c < C; c += pwFilterRows {
			kernels[min(pwFilterRows, C-c)-1](unsafe.Add(pp, 4*c*op), unsafe.Add(xp, 4*(p0*C+c)), tp, n, op, uintptr(4*C), stride, uintptr(4*op))
		}
	}
}

// pwFilterRows is the most input channels a kernel call takes (gen_asm.go's
// pwFilterAsmMaxR).
const pwFilterRows = 6

// pwFilterKernel is the contract of gen_asm.go's kernel-gradient kernels.
type pwFilterKernel = func(part, x, dy unsafe.Pointer, pixels, cv int, xStride, dyStride, partStride uintptr)

// pwFilterKernelsAVX2 and pwFilterKernelsAVX512 hold each path's
// kernel-gradient kernels by rows R-1.
var (
	pwFilterKernelsAVX2 = [pwFilterRows]pwFilterKernel{
		avx2AsmPointwiseFilterR1, avx2AsmPointwiseFilterR2, avx2AsmPointwiseFilterR3,
		avx2AsmPointwiseFilterR4, avx2AsmPointwiseFilterR5, avx2AsmPointwiseFilterR6,
	}
	pwFilterKernelsAVX512 = [pwFilterRows]pwFilterKernel{
		avx512AsmPointwiseFilterR1, avx512AsmPointwiseFilterR2, avx512AsmPointwiseFilterR3,
		avx512AsmPointwiseFilterR4, avx512AsmPointwiseFilterR5, avx512AsmPointwiseFilterR6,
	}
)

// fillTileAVX2 is fillTile with vector moves where O is a multiple of 4
// (MobileNetV2's 12 output channels: 8 + 4, then 4 zeros).
func fillTileAVX2(pw Pointwise, tile, dy []float32, p0, p1, op int) {
	if pw.O%4 != 0 {
		fillTile(pw, tile, dy, p0, p1, op)
		return
	}
	var zero archsimd.Float32x4
	for p := p0; p < p1; p++ {
		src := dy[p*pw.O : (p+1)*pw.O]
		dst := tile[(p-p0)*op : (p-p0+1)*op]
		o := 0
		for ; o+8 <= pw.O; o += 8 {
			archsimd.LoadFloat32x8Array((*[8]float32)(src[o:])).StoreArray((*[8]float32)(dst[o:]))
		}
		if o < pw.O { // 4 left
			archsimd.LoadFloat32x4Array((*[4]float32)(src[o:])).StoreArray((*[4]float32)(dst[o:]))
			zero.StoreArray((*[4]float32)(dst[o+4:]))
		}
	}
}
