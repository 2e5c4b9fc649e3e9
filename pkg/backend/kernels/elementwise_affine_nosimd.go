//go:build !(goexperiment.simd && amd64)

package kernels

// simdAffine: this build has no SIMD paths.
func simdAffine(string) affineFunc { return nil }
