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
	avx2RowOps.tapRow = avx2TapRow
	// The AVX-512 path runs the 8-lane kernel too (every AVX-512 CPU has
	// AVX2): the same bits, as every path sums the taps in the same order.
	avx512RowOps.tapRow = avx2TapRow
	avx512RowOps.filterRow = avx2FilterRow
	avx2RowOps.filterRow = avx2FilterRow
}

// avx2TapRow is rowOps.tapRow on the assembly kernels of gen_asm.go (which
// say why), four pixels at a time, 16 and then 8 channels a pass, each sum
// started from zero and its products rounded before they are added, in tap
// order, as genericTapRow does; genericTapRow takes the channels past the
// last multiple of 8.
func avx2TapRow(out, in, w []float32, inTaps, wTaps []int, pixels, c, inStep, outStep int) {
	if cv := c &^ 7; cv > 0 && pixels > 0 {
		var buf [2 * 9]int
		taps := tapPairs(&buf, inTaps, wTaps)
		po, pi, pw := ptr(out), ptr(in), ptr(w)
		is, ob := uintptr(inStep)*4, uintptr(outStep)*4
		p := 0
		for ; p+4 <= pixels; p += 4 {
			avx2AsmTapP4(unsafe.Add(po, uintptr(p)*ob), unsafe.Add(pi, uintptr(p)*is), pw, &taps[0], len(inTaps), cv, is, ob)
		}
		at, ai := unsafe.Add(po, uintptr(p)*ob), unsafe.Add(pi, uintptr(p)*is)
		switch pixels - p {
		case 3:
			avx2AsmTapP3(at, ai, pw, &taps[0], len(inTaps), cv, is, ob)
		case 2:
			avx2AsmTapP2(at, ai, pw, &taps[0], len(inTaps), cv, is, ob)
		case 1:
			avx2AsmTapP1(at, ai, pw, &taps[0], len(inTaps), cv, is, ob)
		}
	}
	if c&7 != 0 {
		genericTapRow(out, in, w, inTaps, wTaps, pixels, c, inStep, outStep, c&^7)
	}
}

// avx2FilterRow is rowOps.filterRow on the assembly kernels of gen_asm.go,
// over blocks of filterBlock pixels in order: a block's input and gradient
// stay in L1 while every group of taps and vector of channels walks them (a
// whole row's do not). Within a block the taps go four at a time, each
// kernel call covering every channel up to the last multiple of 8;
// genericFilterRow takes the rest. Every gradient element adds its
// products in pixel order, as genericFilterRow does.
func avx2FilterRow(acc, in, dy []float32, inTaps, accTaps []int, pixels, c, inStep int) {
	if cv := c &^ 7; cv > 0 && len(inTaps) > 0 {
		var buf [2 * 9]int
		taps := tapPairs(&buf, inTaps, accTaps)
		pa, pi, pd := ptr(acc), ptr(in), ptr(dy)
		is, ds := uintptr(inStep)*4, uintptr(c)*4
		for p0 := 0; p0 < pixels; p0 += filterBlock {
			n := min(filterBlock, pixels-p0)
			bi, bd := unsafe.Add(pi, uintptr(p0)*is), unsafe.Add(pd, uintptr(p0)*ds)
			for t := 0; t < len(inTaps); t += 4 {
				group := &taps[2*t]
				switch len(inTaps) - t {
				case 1:
					avx2AsmFilterK1(pa, bi, bd, group, n, cv, is, ds)
				case 2:
					avx2AsmFilterK2(pa, bi, bd, group, n, cv, is, ds)
				case 3:
					avx2AsmFilterK3(pa, bi, bd, group, n, cv, is, ds)
				default:
					avx2AsmFilterK4(pa, bi, bd, group, n, cv, is, ds)
				}
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

// filterBlock is how many pixels avx2FilterRow takes at a time.
const filterBlock = 8
