//go:build !(goexperiment.simd && amd64)

package kernels

// simdPointwise: this build has no SIMD paths.
func simdPointwise(string) pointwiseRows { return nil }

// simdPointwiseFilter: this build has no SIMD paths.
func simdPointwiseFilter(string) pointwiseFilterRows { return nil }
