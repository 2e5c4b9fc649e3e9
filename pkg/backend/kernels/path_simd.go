//go:build goexperiment.simd && amd64

package kernels

import (
	"simd/archsimd"
	"unsafe"
)

// simdPaths lists the SIMD paths with their kernels when the CPU has the
// instructions they use.
func simdPaths() []pathInfo {
	avx512 := pathInfo{name: "avx512", missing: "the CPU lacks AVX-512 (F, CD, BW, DQ and VL)"}
	if archsimd.X86.AVX512() {
		avx512 = pathInfo{name: "avx512", set: &kernelSet{
			name: "avx512", maxP: len(avx512Tiles32),
			tiles16: avx512Tiles16[:], tiles32: avx512Tiles32[:],
		}}
	}
	avx2 := pathInfo{name: "avx2", missing: "the CPU lacks AVX2 and FMA"}
	if archsimd.X86.AVX2() && archsimd.X86.FMA() {
		avx2 = pathInfo{name: "avx2", set: &kernelSet{
			name: "avx2", maxP: len(avx2Tiles32), halves: true,
			tiles16: avx2Tiles16[:], tiles32: avx2Tiles32[:],
		}}
	}
	return []pathInfo{avx512, avx2}
}

// ldf loads the float32 at p+off. The SIMD kernels read their broadcast
// inputs through it on purpose: as an inlined call it gives each load the
// source position of its own call site, which makes Go's scheduler keep the
// load next to its broadcast instead of hoisting all the loads of the
// unrolled body to its top (see gen_kernels.go).
func ldf(p unsafe.Pointer, off uintptr) float32 {
	return *(*float32)(unsafe.Add(p, off))
}

// hasAVX gates copy16's vector form: the generic path also runs on CPUs
// without AVX.
var hasAVX = archsimd.X86.AVX()

// copy16 copies one group of 16 channels while packing the input. A plain
// *dst = *src between two slices compiles to a memmove call, since the
// compiler cannot rule out overlap; two 32-byte vector moves are much
// cheaper for the short copies packing makes.
func copy16(dst, src *[16]float32) {
	if hasAVX {
		lo := archsimd.LoadFloat32x8Array((*[8]float32)(src[:8]))
		hi := archsimd.LoadFloat32x8Array((*[8]float32)(src[8:]))
		lo.StoreArray((*[8]float32)(dst[:8]))
		hi.StoreArray((*[8]float32)(dst[8:]))
		return
	}
	*dst = *src
}
