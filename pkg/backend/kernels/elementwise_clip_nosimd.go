//go:build !(goexperiment.simd && amd64)

package kernels

// simdClip: this build has no SIMD paths.
func simdClip(string) (clipFunc, int) { return nil, 0 }
