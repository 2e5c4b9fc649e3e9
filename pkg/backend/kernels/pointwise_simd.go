//go:build goexperiment.simd && amd64

package kernels

import "unsafe"

// simdPointwise returns the SIMD Pointwise of a path, or nil. Both SIMD
// paths run the AVX2 assembly kernels of gen_asm.go: six pixels times 16
// output channels a pass (12 accumulators, 2 weights, 1 broadcast), then 8.
func simdPointwise(path string) pointwiseRows {
	if path == "avx512" || path == "avx2" {
		return pointwiseAVX2
	}
	return nil
}

// pointwiseAVX2 computes pixels [lo, hi) six at a time: the output channels
// in whole 16-channel blocks (and a last 8) straight into out; the rest, as
// one block of 8 or 16 into a scratch tile, copied out (the packed weights
// are zero past O and padded to a whole 16-channel block). A 12-channel
// output is then one 16-channel pass, not an 8-channel pass and a second
// one for the last 4.
func pointwiseAVX2(pw Pointwise, out, x, packed []float32, lo, hi int) {
	op, C, O := pw.opad(), pw.C, pw.O
	ov := O &^ 15
	if O-ov == 8 {
		ov = O
	}
	tw := 8 // the scratch block's channels
	if O-ov > 8 {
		tw = 16
	}
	po, px, pp := ptr(out), ptr(x), ptr(packed)
	xs, ws, os := uintptr(C)*4, uintptr(op)*4, uintptr(O)*4
	var tail [pwTile * 16]float32
	for p := lo; p < hi; p += pwTile {
		n := min(pwTile, hi-p)
		at, ax := unsafe.Add(po, uintptr(p)*os), unsafe.Add(px, uintptr(p)*xs)
		if ov > 0 {
			pwKernels[n-1](at, ax, pp, C, ov, xs, ws, os)
		}
		if ov < O {
			pwKernels[n-1](ptr(tail[:]), ax, unsafe.Add(pp, uintptr(ov)*4), C, tw, xs, ws, uintptr(tw)*4)
			for i := range n {
				copy(out[(p+i)*O+ov:(p+i+1)*O], tail[i*tw:])
			}
		}
	}
}

// pwTile is the most pixels a kernel call takes (gen_asm.go's pwAsmMaxP).
const pwTile = 6

// pwKernels holds the pointwise kernels by pixels P-1.
var pwKernels = [pwTile]func(out, x, w unsafe.Pointer, c, cv int, xStride, wStride, outStride uintptr){
	avx2AsmPointwiseP1, avx2AsmPointwiseP2, avx2AsmPointwiseP3, avx2AsmPointwiseP4, avx2AsmPointwiseP5, avx2AsmPointwiseP6,
}
