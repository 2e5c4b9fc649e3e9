//go:build goexperiment.simd && amd64

package kernels

import (
	"simd/archsimd"
	"unsafe"
)

// simdPointwiseFilter returns the SIMD kernel-gradient rows of a path, or
// nil. Both SIMD paths use 8-lane vectors: four input channels times two
// output vectors are eight accumulators, fed per pixel by two tile loads and
// four broadcasts.
func simdPointwiseFilter(path string) pointwiseFilterRows {
	if path == "avx512" || path == "avx2" {
		return pointwiseFilterAVX2
	}
	return nil
}

func pointwiseFilterAVX2(pw Pointwise, part, tile, x, dy []float32, lo, hi int) {
	op, C := pw.filterOPad(), pw.C
	xp := unsafe.Pointer(unsafe.SliceData(x))
	tp := unsafe.Pointer(unsafe.SliceData(tile))
	pp := unsafe.Pointer(unsafe.SliceData(part))
	vec := func(p unsafe.Pointer) *[8]float32 { return (*[8]float32)(p) }
	// dy is read in place when its rows are whole vectors, else through the
	// padded tile.
	direct := pw.O == op
	stride := 4 * op
	if direct {
		stride = 4 * pw.O
	}
	for p0 := lo; p0 < hi; p0 += pwTileRows {
		p1 := min(hi, p0+pwTileRows)
		n := p1 - p0
		if direct {
			tp = unsafe.Add(unsafe.Pointer(unsafe.SliceData(dy)), 4*p0*pw.O)
			touchLines(tp, 4*n*pw.O)
		} else {
			fillTileAVX2(pw, tile, dy, p0, p1, op)
		}
		touchLines(unsafe.Add(xp, 4*p0*C), 4*n*C)
		for o := 0; o < op; o += 16 {
			two := o+8 < op // a second vector of outputs
			c := 0
			for ; c+4 <= C; c += 4 {
				acc := func(ci, half int) unsafe.Pointer { return unsafe.Add(pp, 4*((c+ci)*op+o+8*half)) }
				a0, a1, a2, a3 := archsimd.LoadFloat32x8Array(vec(acc(0, 0))), archsimd.LoadFloat32x8Array(vec(acc(1, 0))),
					archsimd.LoadFloat32x8Array(vec(acc(2, 0))), archsimd.LoadFloat32x8Array(vec(acc(3, 0)))
				var b0, b1, b2, b3 archsimd.Float32x8
				if two {
					b0, b1, b2, b3 = archsimd.LoadFloat32x8Array(vec(acc(0, 1))), archsimd.LoadFloat32x8Array(vec(acc(1, 1))),
						archsimd.LoadFloat32x8Array(vec(acc(2, 1))), archsimd.LoadFloat32x8Array(vec(acc(3, 1)))
				}
				xs := unsafe.Add(xp, 4*(p0*C+c))
				t := unsafe.Add(tp, 4*o)
				if two {
					for range n {
						da := archsimd.LoadFloat32x8Array(vec(t))
						db := archsimd.LoadFloat32x8Array(vec(unsafe.Add(t, 32)))
						v := archsimd.BroadcastFloat32x8(*(*float32)(xs))
						a0, b0 = da.MulAdd(v, a0), db.MulAdd(v, b0)
						v = archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(xs, 4)))
						a1, b1 = da.MulAdd(v, a1), db.MulAdd(v, b1)
						v = archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(xs, 8)))
						a2, b2 = da.MulAdd(v, a2), db.MulAdd(v, b2)
						v = archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(xs, 12)))
						a3, b3 = da.MulAdd(v, a3), db.MulAdd(v, b3)
						xs = unsafe.Add(xs, 4*C)
						t = unsafe.Add(t, stride)
					}
				} else {
					for range n {
						da := archsimd.LoadFloat32x8Array(vec(t))
						a0 = da.MulAdd(archsimd.BroadcastFloat32x8(*(*float32)(xs)), a0)
						a1 = da.MulAdd(archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(xs, 4))), a1)
						a2 = da.MulAdd(archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(xs, 8))), a2)
						a3 = da.MulAdd(archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(xs, 12))), a3)
						xs = unsafe.Add(xs, 4*C)
						t = unsafe.Add(t, stride)
					}
				}
				a0.StoreArray(vec(acc(0, 0)))
				a1.StoreArray(vec(acc(1, 0)))
				a2.StoreArray(vec(acc(2, 0)))
				a3.StoreArray(vec(acc(3, 0)))
				if two {
					b0.StoreArray(vec(acc(0, 1)))
					b1.StoreArray(vec(acc(1, 1)))
					b2.StoreArray(vec(acc(2, 1)))
					b3.StoreArray(vec(acc(3, 1)))
				}
			}
			for ; c < C; c++ { // the last input channels, one at a time
				acc := unsafe.Add(pp, 4*(c*op+o))
				a0 := archsimd.LoadFloat32x8Array(vec(acc))
				var b0 archsimd.Float32x8
				if two {
					b0 = archsimd.LoadFloat32x8Array(vec(unsafe.Add(acc, 32)))
				}
				xs := unsafe.Add(xp, 4*(p0*C+c))
				t := unsafe.Add(tp, 4*o)
				for range n {
					v := archsimd.BroadcastFloat32x8(*(*float32)(xs))
					a0 = archsimd.LoadFloat32x8Array(vec(t)).MulAdd(v, a0)
					if two {
						b0 = archsimd.LoadFloat32x8Array(vec(unsafe.Add(t, 32))).MulAdd(v, b0)
					}
					xs = unsafe.Add(xs, 4*C)
					t = unsafe.Add(t, stride)
				}
				a0.StoreArray(vec(acc))
				if two {
					b0.StoreArray(vec(unsafe.Add(acc, 32)))
				}
			}
		}
	}
	archsimd.ClearAVXUpperBits() // before scalar code: see doc.go
}

// fillTileAVX2 is fillTile with vector moves where O is a multiple of 4
// (MobileNetV2's 12 output channels: 8 + 4, then 4 zeros).
func fillTileAVX2(pw Pointwise, tile, dy []float32, p0, p1, op int) {
	if pw.O%4 != 0 {
		fillTile(pw, tile, dy, p0, p1, op)
		return
	}
	var zero archsimd.Float32x4
	for p := p0; p < p1; p++ {
		src := dy[p*pw.O : (p+1)*pw.O]
		dst := tile[(p-p0)*op : (p-p0+1)*op]
		o := 0
		for ; o+8 <= pw.O; o += 8 {
			archsimd.LoadFloat32x8Array((*[8]float32)(src[o:])).StoreArray((*[8]float32)(dst[o:]))
		}
		if o < pw.O { // 4 left
			archsimd.LoadFloat32x4Array((*[4]float32)(src[o:])).StoreArray((*[4]float32)(dst[o:]))
			zero.StoreArray((*[4]float32)(dst[o+4:]))
		}
	}
}
