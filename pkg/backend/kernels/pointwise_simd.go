//go:build goexperiment.simd && amd64

package kernels

import "unsafe"

// simdPointwise returns the SIMD Pointwise of a path, or nil: the
// assembly kernels of gen_asm.go, six pixels times 32 output channels a
// pass on AVX-512 (then 16, then 8), times 16 on AVX2 (then 8). Both give
// the same bits: each lane adds the same fused products in the same order.
func simdPointwise(path string) pointwiseRows {
	switch path {
	case "avx512":
		return pointwiseAVX512
	case "avx2":
		return pointwiseAVX2
	}
	return nil
}

// pointwiseAVX2 and pointwiseAVX512 are pointwiseAsm with each path's
// kernels.
func pointwiseAVX2(pw Pointwise, out, x, packed []float32, lo, hi int) {
	pointwiseAsm(false, pw, out, x, packed, lo, hi)
}

func pointwiseAVX512(pw Pointwise, out, x, packed []float32, lo, hi int) {
	pointwiseAsm(true, pw, out, x, packed, lo, hi)
}

// pointwiseAsm computes pixels [lo, hi) six at a time with AVX-512's
// kernels (wide) or AVX2's: the
// output channels in whole 16-channel blocks (and a last 8) straight into
// out; the rest, as one block of 8 or 16 into a scratch tile, copied out
// (the packed weights are zero past O and padded to a whole 16-channel
// block). A 12-channel output is then one 16-channel pass, not an
// 8-channel pass and a second one for the last 4.
func pointwiseAsm(wide bool, pw Pointwise, out, x, packed []float32, lo, hi int) {
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
			pwCall(wide, n, at, ax, pp, C, ov, xs, ws, os)
		}
		if ov < O {
			pwCall(wide, n, ptr(tail[:]), ax, unsafe.Add(pp, uintptr(ov)*4), C, tw, xs, ws, uintptr(tw)*4)
			for i := range n {
				copy(out[(p+i)*O+ov:(p+i+1)*O], tail[i*tw:])
			}
		}
	}
}

// pwTile is the most pixels a kernel call takes (gen_asm.go's pwAsmMaxP).
const pwTile = 6

// pwCall runs the kernel for n pixels (1 to pwTile) of AVX-512 (wide) or
// AVX2. The calls are direct on purpose: through a func value the
// kernels' go:noescape no longer applies and the caller's scratch tile
// moved to the heap on every call (rowops_simd.go's tapCall says what that
// cost the depthwise kernels).
func pwCall(wide bool, n int, out, x, w unsafe.Pointer, c, cv int, xStride, wStride, outStride uintptr) {
	switch {
	case wide && n == 6:
		avx512AsmPointwiseP6(out, x, w, c, cv, xStride, wStride, outStride)
	case wide && n == 5:
		avx512AsmPointwiseP5(out, x, w, c, cv, xStride, wStride, outStride)
	case wide && n == 4:
		avx512AsmPointwiseP4(out, x, w, c, cv, xStride, wStride, outStride)
	case wide && n == 3:
		avx512AsmPointwiseP3(out, x, w, c, cv, xStride, wStride, outStride)
	case wide && n == 2:
		avx512AsmPointwiseP2(out, x, w, c, cv, xStride, wStride, outStride)
	case wide:
		avx512AsmPointwiseP1(out, x, w, c, cv, xStride, wStride, outStride)
	case n == 6:
		avx2AsmPointwiseP6(out, x, w, c, cv, xStride, wStride, outStride)
	case n == 5:
		avx2AsmPointwiseP5(out, x, w, c, cv, xStride, wStride, outStride)
	case n == 4:
		avx2AsmPointwiseP4(out, x, w, c, cv, xStride, wStride, outStride)
	case n == 3:
		avx2AsmPointwiseP3(out, x, w, c, cv, xStride, wStride, outStride)
	case n == 2:
		avx2AsmPointwiseP2(out, x, w, c, cv, xStride, wStride, outStride)
	default:
		avx2AsmPointwiseP1(out, x, w, c, cv, xStride, wStride, outStride)
	}
}
