//go:build !(goexperiment.simd && amd64)

package kernels

// simdPaths lists the SIMD paths as unavailable: they need the experimental
// simd/archsimd package, which exists only with GOEXPERIMENT=simd on amd64.
func simdPaths() []pathInfo {
	const why = "this binary was built without GOEXPERIMENT=simd or not for amd64"
	return []pathInfo{{name: "avx512", missing: why}, {name: "avx2", missing: why}}
}

// copy16 copies one group of 16 channels while packing the input.
func copy16(dst, src *[16]float32) { *dst = *src }
