//go:build goexperiment.simd

package engine

import "simd"

// stockVectorLen is the float32 vector length of the Go backend's SIMD
// element-wise loops: the same call its Min and Max make.
func stockVectorLen() int { return simd.BroadcastFloat32s(0).Len() }
