//go:build !(goexperiment.simd && amd64)

package kernels

// simdApply: this build has no SIMD paths.
func simdApply(string) applyFunc { return nil }
