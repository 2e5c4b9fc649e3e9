//go:build !goexperiment.simd

package backend

// simdBuilt: this binary was built without GOEXPERIMENT=simd.
const simdBuilt = false
