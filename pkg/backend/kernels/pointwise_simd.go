//go:build goexperiment.simd && amd64

package kernels

import (
	"simd/archsimd"
	"unsafe"
)

// simdPointwise returns the SIMD Pointwise of a path, or nil. Both SIMD
// paths use 8-lane vectors: four pixels times two vectors are eight
// accumulators, fed per input channel by four broadcasts and two weight
// loads.
func simdPointwise(path string) pointwiseRows {
	if path == "avx512" || path == "avx2" {
		return pointwiseAVX2
	}
	return nil
}

func pointwiseAVX2(pw Pointwise, out, x, packed []float32, lo, hi int) {
	op, C, O := pw.opad(), pw.C, pw.O
	wp := unsafe.Pointer(unsafe.SliceData(packed))
	xp := unsafe.Pointer(unsafe.SliceData(x))
	store := func(p, o int, a, b archsimd.Float32x8) { storeBlock(out[p*O+o:p*O+min(O, o+pwBlock)], a, b) }
	p := lo
	for ; p+4 <= hi; p += 4 {
		for o := 0; o < op; o += pwBlock {
			var a0, b0, a1, b1, a2, b2, a3, b3 archsimd.Float32x8
			x0 := unsafe.Add(xp, 4*p*C)
			w := unsafe.Add(wp, 4*o)
			for c := 0; c < C; c++ {
				wa := archsimd.LoadFloat32x8Array((*[8]float32)(w))
				wb := archsimd.LoadFloat32x8Array((*[8]float32)(unsafe.Add(w, 32)))
				v := archsimd.BroadcastFloat32x8(*(*float32)(x0))
				a0, b0 = wa.MulAdd(v, a0), wb.MulAdd(v, b0)
				v = archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(x0, 4*C)))
				a1, b1 = wa.MulAdd(v, a1), wb.MulAdd(v, b1)
				v = archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(x0, 8*C)))
				a2, b2 = wa.MulAdd(v, a2), wb.MulAdd(v, b2)
				v = archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(x0, 12*C)))
				a3, b3 = wa.MulAdd(v, a3), wb.MulAdd(v, b3)
				x0 = unsafe.Add(x0, 4)
				w = unsafe.Add(w, 4*op)
			}
			store(p, o, a0, b0)
			store(p+1, o, a1, b1)
			store(p+2, o, a2, b2)
			store(p+3, o, a3, b3)
		}
	}
	for ; p < hi; p++ {
		for o := 0; o < op; o += pwBlock {
			var a0, b0 archsimd.Float32x8
			x0 := unsafe.Add(xp, 4*p*C)
			w := unsafe.Add(wp, 4*o)
			for c := 0; c < C; c++ {
				wa := archsimd.LoadFloat32x8Array((*[8]float32)(w))
				wb := archsimd.LoadFloat32x8Array((*[8]float32)(unsafe.Add(w, 32)))
				v := archsimd.BroadcastFloat32x8(*(*float32)(x0))
				a0, b0 = wa.MulAdd(v, a0), wb.MulAdd(v, b0)
				x0 = unsafe.Add(x0, 4)
				w = unsafe.Add(w, 4*op)
			}
			store(p, o, a0, b0)
		}
	}
	archsimd.ClearAVXUpperBits() // before scalar code: see doc.go
}

// storeBlock stores a block of 16 sums into dst, or its first len(dst) of
// them (a block that ends past the output channels).
func storeBlock(dst []float32, a, b archsimd.Float32x8) {
	switch n := len(dst); {
	case n == pwBlock:
		a.StoreArray((*[8]float32)(dst[:8]))
		b.StoreArray((*[8]float32)(dst[8:16]))
	case n > 8:
		a.StoreArray((*[8]float32)(dst[:8]))
		b.StorePart(dst[8:])
	default:
		a.StorePart(dst)
	}
}
