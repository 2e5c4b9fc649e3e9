//go:build !(goexperiment.simd && amd64)

package kernels

// simdRowOps: this build has no SIMD paths.
func simdRowOps(string) *rowOps { return nil }
