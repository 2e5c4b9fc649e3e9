//go:build !(goexperiment.simd && amd64)

package kernels

import "unsafe"

// simdPaths lists the SIMD paths as unavailable: they need the experimental
// simd/archsimd package, which exists only with GOEXPERIMENT=simd on amd64.
func simdPaths() []pathInfo {
	const why = "this binary was built without GOEXPERIMENT=simd or not for amd64"
	return []pathInfo{{name: "avx512", missing: why}, {name: "avx2", missing: why}}
}

// copy16 copies one group of 16 channels while packing the input.
func copy16(dst, src *[16]float32) { *dst = *src }

// copyGroups copies n groups of 16 floats, group i from src + i*srcStride to
// dst + i*dstStride (byte strides). The caller checks the bounds; the
// pointers only advance while another group follows.
func copyGroups(dst, src unsafe.Pointer, n int, dstStride, srcStride uintptr) {
	for ; n > 0; n-- {
		*(*[16]float32)(dst) = *(*[16]float32)(src)
		if n > 1 {
			dst, src = unsafe.Add(dst, dstStride), unsafe.Add(src, srcStride)
		}
	}
}
