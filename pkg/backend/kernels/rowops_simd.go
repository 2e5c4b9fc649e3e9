//go:build goexperiment.simd && amd64

package kernels

import (
	"simd/archsimd"
	"unsafe"
)

// simdRowOps returns the row operations of a SIMD path, or nil. Like the
// generic ones they multiply and add in two roundings (no FMA), so every
// path gives the same bits; channels past the last full vector take the
// generic loop.
func simdRowOps(path string) *rowOps {
	switch path {
	case "avx512":
		return &avx512RowOps
	case "avx2":
		return &avx2RowOps
	}
	return nil
}

var avx512RowOps = rowOps{
	add: func(acc, x []float32) {
		c := 0
		for ; c+16 <= len(acc); c += 16 {
			archsimd.LoadFloat32x16(acc[c:]).Add(archsimd.LoadFloat32x16(x[c:])).Store(acc[c:])
		}
		archsimd.ClearAVXUpperBits() // before scalar code: see doc.go
		genericRowOps.add(acc[c:], x[c:])
	},
	relu: func(out, x []float32) {
		zero := archsimd.BroadcastFloat32x16(0)
		i := 0
		for ; i+16 <= len(out); i += 16 {
			// x.Max(0) keeps NaN and -0, as the generic loop does.
			archsimd.LoadFloat32x16(x[i:]).Max(zero).Store(out[i:])
		}
		archsimd.ClearAVXUpperBits() // before scalar code: see doc.go
		genericRowOps.relu(out[i:], x[i:])
	},
	reluGrad: func(dx, ref, dOut []float32) {
		zero := archsimd.BroadcastFloat32x16(0)
		i := 0
		for ; i+16 <= len(dx); i += 16 {
			positive := archsimd.LoadFloat32x16(ref[i:]).Greater(zero)
			archsimd.LoadFloat32x16(dOut[i:]).Masked(positive).Store(dx[i:])
		}
		archsimd.ClearAVXUpperBits() // before scalar code: see doc.go
		genericRowOps.reluGrad(dx[i:], ref[i:], dOut[i:])
	},
	mulAdd: func(acc, a, b []float32) {
		c := 0
		for ; c+16 <= len(acc); c += 16 {
			archsimd.LoadFloat32x16(acc[c:]).Add(archsimd.LoadFloat32x16(a[c:]).Mul(archsimd.LoadFloat32x16(b[c:]))).Store(acc[c:])
		}
		archsimd.ClearAVXUpperBits() // before scalar code: see doc.go
		genericRowOps.mulAdd(acc[c:], a[c:], b[c:])
	},
}

var avx2RowOps = rowOps{
	add: func(acc, x []float32) {
		c := 0
		for ; c+8 <= len(acc); c += 8 {
			archsimd.LoadFloat32x8(acc[c:]).Add(archsimd.LoadFloat32x8(x[c:])).Store(acc[c:])
		}
		archsimd.ClearAVXUpperBits() // before scalar code: see doc.go
		genericRowOps.add(acc[c:], x[c:])
	},
	relu: func(out, x []float32) {
		zero := archsimd.BroadcastFloat32x8(0)
		i := 0
		for ; i+8 <= len(out); i += 8 {
			archsimd.LoadFloat32x8(x[i:]).Max(zero).Store(out[i:])
		}
		archsimd.ClearAVXUpperBits() // before scalar code: see doc.go
		genericRowOps.relu(out[i:], x[i:])
	},
	reluGrad: func(dx, ref, dOut []float32) {
		zero := archsimd.BroadcastFloat32x8(0)
		i := 0
		for ; i+8 <= len(dx); i += 8 {
			positive := archsimd.LoadFloat32x8(ref[i:]).Greater(zero)
			archsimd.LoadFloat32x8(dOut[i:]).Masked(positive).Store(dx[i:])
		}
		archsimd.ClearAVXUpperBits() // before scalar code: see doc.go
		genericRowOps.reluGrad(dx[i:], ref[i:], dOut[i:])
	},
	mulAdd: func(acc, a, b []float32) {
		c := 0
		for ; c+8 <= len(acc); c += 8 {
			archsimd.LoadFloat32x8(acc[c:]).Add(archsimd.LoadFloat32x8(a[c:]).Mul(archsimd.LoadFloat32x8(b[c:]))).Store(acc[c:])
		}
		archsimd.ClearAVXUpperBits() // before scalar code: see doc.go
		genericRowOps.mulAdd(acc[c:], a[c:], b[c:])
	},
}

func init() {
	avx2RowOps.tapRow = func(out, in, w []float32, inTaps, wTaps []int, pixels, c, inStep, outStep int) {
		asmTapRow(false, out, in, w, inTaps, wTaps, pixels, c, inStep, outStep)
	}
	avx2RowOps.filterRow = func(acc, in, dy []float32, inTaps, accTaps []int, pixels, c, inStep int) {
		asmFilterRow(false, acc, in, dy, inTaps, accTaps, pixels, c, inStep)
	}
	// AVX-512's kernels only where a pixel's channels are whole 64-byte
	// lines: with 72 channels (288 bytes) every other pixel's 16-lane
	// loads straddle two cache lines, and MobileNetV2's 72-channel
	// depthwise forward ran 1.3x slower on them than on AVX2's, whose
	// 32-byte loads never straddle (BENCHMARKS.md, twenty-first session).
	avx512RowOps.tapRow = func(out, in, w []float32, inTaps, wTaps []int, pixels, c, inStep, outStep int) {
		asmTapRow(c%16 == 0, out, in, w, inTaps, wTaps, pixels, c, inStep, outStep)
	}
	avx512RowOps.filterRow = func(acc, in, dy []float32, inTaps, accTaps []int, pixels, c, inStep int) {
		asmFilterRow(c%16 == 0, acc, in, dy, inTaps, accTaps, pixels, c, inStep)
	}
}

// tapCall runs the tap kernel for n pixels (4 when n is more) of AVX-512 (wide) or
// AVX2. AVX-512's take 32 channels a pass, then 16 and 8; AVX2's 16, then
// 8: every lane computes the same products and sums in the same order, so
// both give the same bits. The calls are direct on purpose: through a func
// value the kernels' go:noescape no longer applies, the caller's tap list
// escaped to the heap, and the depthwise forward ran 2.5x slower.
func tapCall(wide bool, n int, out, in, w unsafe.Pointer, taps *int, nTaps, cv int, inStep, outStep uintptr) {
	switch {
	case wide && n >= 4:
		avx512AsmTapP4(out, in, w, taps, nTaps, cv, inStep, outStep)
	case wide && n == 3:
		avx512AsmTapP3(out, in, w, taps, nTaps, cv, inStep, outStep)
	case wide && n == 2:
		avx512AsmTapP2(out, in, w, taps, nTaps, cv, inStep, outStep)
	case wide:
		avx512AsmTapP1(out, in, w, taps, nTaps, cv, inStep, outStep)
	case n >= 4:
		avx2AsmTapP4(out, in, w, taps, nTaps, cv, inStep, outStep)
	case n == 3:
		avx2AsmTapP3(out, in, w, taps, nTaps, cv, inStep, outStep)
	case n == 2:
		avx2AsmTapP2(out, in, w, taps, nTaps, cv, inStep, outStep)
	default:
		avx2AsmTapP1(out, in, w, taps, nTaps, cv, inStep, outStep)
	}
}

// filterCall runs the weight-gradient kernel for k taps (4 when k is more) of
// AVX-512 (wide) or AVX2, called directly as tapCall says why.
func filterCall(wide bool, k int, acc, in, dy unsafe.Pointer, taps *int, pixels, cv int, inStep, dyStep uintptr) {
	switch {
	case wide && k >= 4:
		avx512AsmFilterK4(acc, in, dy, taps, pixels, cv, inStep, dyStep)
	case wide && k == 3:
		avx512AsmFilterK3(acc, in, dy, taps, pixels, cv, inStep, dyStep)
	case wide && k == 2:
		avx512AsmFilterK2(acc, in, dy, taps, pixels, cv, inStep, dyStep)
	case wide:
		avx512AsmFilterK1(acc, in, dy, taps, pixels, cv, inStep, dyStep)
	case k >= 4:
		avx2AsmFilterK4(acc, in, dy, taps, pixels, cv, inStep, dyStep)
	case k == 3:
		avx2AsmFilterK3(acc, in, dy, taps, pixels, cv, inStep, dyStep)
	case k == 2:
		avx2AsmFilterK2(acc, in, dy, taps, pixels, cv, inStep, dyStep)
	default:
		avx2AsmFilterK1(acc, in, dy, taps, pixels, cv, inStep, dyStep)
	}
}

// asmTapRow is rowOps.tapRow on the AVX-512 (wide) or AVX2 assembly
// kernels of gen_asm.go (which say why), four pixels at a time, each sum started from zero and its
// products rounded before they are added, in tap order, as genericTapRow
// does; genericTapRow takes the channels past the last multiple of 8.
func asmTapRow(wide bool, out, in, w []float32, inTaps, wTaps []int, pixels, c, inStep, outStep int) {
	if cv := c &^ 7; cv > 0 && pixels > 0 {
		var buf [2 * 9]int
		taps := tapPairs(&buf, inTaps, wTaps)
		po, pi, pw := ptr(out), ptr(in), ptr(w)
		is, ob := uintptr(inStep)*4, uintptr(outStep)*4
		for p := 0; p < pixels; p += 4 {
			tapCall(wide, pixels-p, unsafe.Add(po, uintptr(p)*ob), unsafe.Add(pi, uintptr(p)*is), pw, &taps[0], len(inTaps), cv, is, ob)
		}
	}
	if c&7 != 0 {
		genericTapRow(out, in, w, inTaps, wTaps, pixels, c, inStep, outStep, c&^7)
	}
}

// asmFilterRow is rowOps.filterRow on the AVX-512 (wide) or AVX2
// assembly kernels of gen_asm.go, over blocks of filterBlock pixels in
// order: a block's input and gradient stay in L1 while every group of taps
// and vector of channels walks them (a whole row's do not). Within a block the taps go four at a time, each
// kernel call covering every channel up to the last multiple of 8;
// genericFilterRow takes the rest. Every gradient element adds its
// products in pixel order, as genericFilterRow does.
func asmFilterRow(wide bool, acc, in, dy []float32, inTaps, accTaps []int, pixels, c, inStep int) {
	if cv := c &^ 7; cv > 0 && len(inTaps) > 0 {
		var buf [2 * 9]int
		taps := tapPairs(&buf, inTaps, accTaps)
		pa, pi, pd := ptr(acc), ptr(in), ptr(dy)
		is, ds := uintptr(inStep)*4, uintptr(c)*4
		for p0 := 0; p0 < pixels; p0 += filterBlock {
			n := min(filterBlock, pixels-p0)
			bi, bd := unsafe.Add(pi, uintptr(p0)*is), unsafe.Add(pd, uintptr(p0)*ds)
			for t := 0; t < len(inTaps); t += 4 {
				filterCall(wide, len(inTaps)-t, pa, bi, bd, &taps[2*t], n, cv, is, ds)
			}
		}
	}
	if c&7 != 0 {
		genericFilterRow(acc, in, dy, inTaps, accTaps, pixels, c, inStep, c&^7)
	}
}

// tapPairs lists the taps as the assembly kernels read them: for each, its
// input offset and its weight (or gradient-row) offset, in bytes. buf holds
// a 3x3 kernel's without allocating; with no taps the list still has an
// element, a valid address the kernels never read.
func tapPairs(buf *[2 * 9]int, inTaps, otherTaps []int) []int {
	taps := buf[:0]
	for t, off := range inTaps {
		taps = append(taps, off*4, otherTaps[t]*4)
	}
	if len(taps) == 0 {
		taps = buf[:1]
	}
	return taps
}

// filterBlock is how many pixels asmFilterRow takes at a time.
const filterBlock = 8
