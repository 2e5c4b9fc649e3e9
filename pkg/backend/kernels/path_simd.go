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
			filter16: avx512Filter16[:], filter32: avx512Filter32[:],
		}}
	}
	avx2 := pathInfo{name: "avx2", missing: "the CPU lacks AVX2 and FMA"}
	if archsimd.X86.AVX2() && archsimd.X86.FMA() {
		avx2 = pathInfo{name: "avx2", set: &kernelSet{
			name: "avx2", maxP: len(avx2Tiles32), halves: true,
			tiles16: avx2Tiles16[:], tiles32: avx2Tiles32[:],
			filter16: avx2Filter16[:], filter32: avx2Filter32[:],
		}}
	}
	return []pathInfo{avx512, avx2}
}

// hasAVX and hasAVX512 gate the vector forms of copy16 and copyGroups: the
// generic path also runs on CPUs without AVX.
var (
	hasAVX    = archsimd.X86.AVX()
	hasAVX512 = archsimd.X86.AVX512()
)

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
		archsimd.ClearAVXUpperBits() // see doc.go
		return
	}
	*dst = *src
}

// copyGroups copies n groups of 16 floats, group i from src + i*srcStride to
// dst + i*dstStride (byte strides): the packing loops' inner loop, without
// the bounds checks and index arithmetic of slices, which cost more than the
// copy. The caller checks the bounds. (The pointers only advance while
// another group follows: one past the last group may be past the
// allocation, which unsafe.Pointer rules out.)
func copyGroups(dst, src unsafe.Pointer, n int, dstStride, srcStride uintptr) {
	if n <= 0 {
		return
	}
	switch {
	case hasAVX512:
		for {
			archsimd.LoadFloat32x16Array((*[16]float32)(src)).StoreArray((*[16]float32)(dst))
			if n--; n == 0 {
				archsimd.ClearAVXUpperBits() // see doc.go
				return
			}
			dst, src = unsafe.Add(dst, dstStride), unsafe.Add(src, srcStride)
		}
	case hasAVX:
		for {
			lo := archsimd.LoadFloat32x8Array((*[8]float32)(src))
			hi := archsimd.LoadFloat32x8Array((*[8]float32)(unsafe.Add(src, 32)))
			lo.StoreArray((*[8]float32)(dst))
			hi.StoreArray((*[8]float32)(unsafe.Add(dst, 32)))
			if n--; n == 0 {
				archsimd.ClearAVXUpperBits() // see doc.go
				return
			}
			dst, src = unsafe.Add(dst, dstStride), unsafe.Add(src, srcStride)
		}
	default:
		for {
			*(*[16]float32)(dst) = *(*[16]float32)(src)
			if n--; n == 0 {
				return
			}
			dst, src = unsafe.Add(dst, dstStride), unsafe.Add(src, srcStride)
		}
	}
}
