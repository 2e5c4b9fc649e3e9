//go:build !goexperiment.simd

package engine

// stockVectorLen: without GOEXPERIMENT=simd the Go backend's Min and Max
// are not its SIMD ones, whose results fusion follows; 0 leaves them stock.
func stockVectorLen() int { return 0 }
