//go:build goexperiment.simd && amd64

package kernels

import (
	"simd/archsimd"
	"unsafe"
)

// simdAffine returns a SIMD path's affineFunc, or nil.
func simdAffine(path string) affineFunc {
	switch path {
	case "avx512":
		return affineAVX512
	case "avx2":
		return affineAVX2
	}
	return nil
}

// affineAVX512 is affineFunc 16 lanes at a time (Sub, Mul, Add: no FMA);
// the tail takes the generic loop, which rounds the same way.
func affineAVX512(out, x, mean, a, offset []float32) {
	n := len(out)
	if n == 0 {
		return
	}
	_, _, _, _ = x[n-1], mean[n-1], a[n-1], offset[n-1] // the loop reads n elements of each through pointers
	px, pm, pa, po, pout := unsafe.Pointer(unsafe.SliceData(x)), unsafe.Pointer(unsafe.SliceData(mean)),
		unsafe.Pointer(unsafe.SliceData(a)), unsafe.Pointer(unsafe.SliceData(offset)), unsafe.Pointer(unsafe.SliceData(out))
	i := 0
	for ; i+16 <= n; i += 16 {
		v := archsimd.LoadFloat32x16Array((*[16]float32)(unsafe.Add(px, i*4)))
		v = v.Sub(archsimd.LoadFloat32x16Array((*[16]float32)(unsafe.Add(pm, i*4))))
		v = v.Mul(archsimd.LoadFloat32x16Array((*[16]float32)(unsafe.Add(pa, i*4))))
		v.Add(archsimd.LoadFloat32x16Array((*[16]float32)(unsafe.Add(po, i*4)))).StoreArray((*[16]float32)(unsafe.Add(pout, i*4)))
	}
	archsimd.ClearAVXUpperBits() // see doc.go
	affineGeneric(out[i:], x[i:], mean[i:], a[i:], offset[i:])
}

// affineAVX2 is affineFunc 8 lanes at a time, as affineAVX512.
func affineAVX2(out, x, mean, a, offset []float32) {
	n := len(out)
	if n == 0 {
		return
	}
	_, _, _, _ = x[n-1], mean[n-1], a[n-1], offset[n-1]
	px, pm, pa, po, pout := unsafe.Pointer(unsafe.SliceData(x)), unsafe.Pointer(unsafe.SliceData(mean)),
		unsafe.Pointer(unsafe.SliceData(a)), unsafe.Pointer(unsafe.SliceData(offset)), unsafe.Pointer(unsafe.SliceData(out))
	i := 0
	for ; i+8 <= n; i += 8 {
		v := archsimd.LoadFloat32x8Array((*[8]float32)(unsafe.Add(px, i*4)))
		v = v.Sub(archsimd.LoadFloat32x8Array((*[8]float32)(unsafe.Add(pm, i*4))))
		v = v.Mul(archsimd.LoadFloat32x8Array((*[8]float32)(unsafe.Add(pa, i*4))))
		v.Add(archsimd.LoadFloat32x8Array((*[8]float32)(unsafe.Add(po, i*4)))).StoreArray((*[8]float32)(unsafe.Add(pout, i*4)))
	}
	archsimd.ClearAVXUpperBits() // see doc.go
	affineGeneric(out[i:], x[i:], mean[i:], a[i:], offset[i:])
}
