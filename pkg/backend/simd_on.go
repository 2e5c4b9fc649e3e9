//go:build goexperiment.simd

package backend

// simdBuilt: this binary was built with GOEXPERIMENT=simd.
const simdBuilt = true
