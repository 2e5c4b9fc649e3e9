//go:build goexperiment.simd && amd64

package kernels

import "simd/archsimd"

// simdRowOps returns the row operations of a SIMD path, or nil. Like the
// generic ones they multiply and add in two roundings (no FMA), so every
// path gives the same bits; channels past the last full vector take the
// generic loop.
func simdRowOps(path string) *rowOps {
	switch path {
	case "avx512":
		return &avx512RowOps
	case "avx2":
		return &avx2RowOps
	}
	return nil
}

var avx512RowOps = rowOps{
	add: func(acc, x []float32) {
		c := 0
		for ; c+16 <= len(acc); c += 16 {
			archsimd.LoadFloat32x16(acc[c:]).Add(archsimd.LoadFloat32x16(x[c:])).Store(acc[c:])
		}
		archsimd.ClearAVXUpperBits() // before scalar code: see doc.go
		genericRowOps.add(acc[c:], x[c:])
	},
	relu: func(out, x []float32) {
		zero := archsimd.BroadcastFloat32x16(0)
		i := 0
		for ; i+16 <= len(out); i += 16 {
			// x.Max(0) keeps NaN and -0, as the generic loop does.
			archsimd.LoadFloat32x16(x[i:]).Max(zero).Store(out[i:])
		}
		archsimd.ClearAVXUpperBits() // before scalar code: see doc.go
		genericRowOps.relu(out[i:], x[i:])
	},
	reluGrad: func(dx, ref, dOut []float32) {
		zero := archsimd.BroadcastFloat32x16(0)
		i := 0
		for ; i+16 <= len(dx); i += 16 {
			positive := archsimd.LoadFloat32x16(ref[i:]).Greater(zero)
			archsimd.LoadFloat32x16(dOut[i:]).Masked(positive).Store(dx[i:])
		}
		archsimd.ClearAVXUpperBits() // before scalar code: see doc.go
		genericRowOps.reluGrad(dx[i:], ref[i:], dOut[i:])
	},
	mulAdd: func(acc, a, b []float32) {
		c := 0
		for ; c+16 <= len(acc); c += 16 {
			archsimd.LoadFloat32x16(acc[c:]).Add(archsimd.LoadFloat32x16(a[c:]).Mul(archsimd.LoadFloat32x16(b[c:]))).Store(acc[c:])
		}
		archsimd.ClearAVXUpperBits() // before scalar code: see doc.go
		genericRowOps.mulAdd(acc[c:], a[c:], b[c:])
	},
	tapSum: func(out []float32, xs, ws [][]float32) {
		c := 0
		for ; c+16 <= len(out); c += 16 {
			sum := archsimd.BroadcastFloat32x16(0)
			for t, x := range xs {
				sum = sum.Add(archsimd.LoadFloat32x16(x[c:]).Mul(archsimd.LoadFloat32x16(ws[t][c:])))
			}
			sum.Store(out[c:])
			archsimd.ClearAVXUpperBits() // the next zero vector is a legacy-SSE XORPS
		}
		if c+8 <= len(out) {
			sum := archsimd.BroadcastFloat32x8(0)
			for t, x := range xs {
				sum = sum.Add(archsimd.LoadFloat32x8(x[c:]).Mul(archsimd.LoadFloat32x8(ws[t][c:])))
			}
			sum.Store(out[c:])
			archsimd.ClearAVXUpperBits() // the next zero vector is a legacy-SSE XORPS
			c += 8
		}
		archsimd.ClearAVXUpperBits() // before scalar code: see doc.go
		tapSumFrom(c, out, xs, ws)
	},
}

var avx2RowOps = rowOps{
	add: func(acc, x []float32) {
		c := 0
		for ; c+8 <= len(acc); c += 8 {
			archsimd.LoadFloat32x8(acc[c:]).Add(archsimd.LoadFloat32x8(x[c:])).Store(acc[c:])
		}
		archsimd.ClearAVXUpperBits() // before scalar code: see doc.go
		genericRowOps.add(acc[c:], x[c:])
	},
	relu: func(out, x []float32) {
		zero := archsimd.BroadcastFloat32x8(0)
		i := 0
		for ; i+8 <= len(out); i += 8 {
			archsimd.LoadFloat32x8(x[i:]).Max(zero).Store(out[i:])
		}
		archsimd.ClearAVXUpperBits() // before scalar code: see doc.go
		genericRowOps.relu(out[i:], x[i:])
	},
	reluGrad: func(dx, ref, dOut []float32) {
		zero := archsimd.BroadcastFloat32x8(0)
		i := 0
		for ; i+8 <= len(dx); i += 8 {
			positive := archsimd.LoadFloat32x8(ref[i:]).Greater(zero)
			archsimd.LoadFloat32x8(dOut[i:]).Masked(positive).Store(dx[i:])
		}
		archsimd.ClearAVXUpperBits() // before scalar code: see doc.go
		genericRowOps.reluGrad(dx[i:], ref[i:], dOut[i:])
	},
	mulAdd: func(acc, a, b []float32) {
		c := 0
		for ; c+8 <= len(acc); c += 8 {
			archsimd.LoadFloat32x8(acc[c:]).Add(archsimd.LoadFloat32x8(a[c:]).Mul(archsimd.LoadFloat32x8(b[c:]))).Store(acc[c:])
		}
		archsimd.ClearAVXUpperBits() // before scalar code: see doc.go
		genericRowOps.mulAdd(acc[c:], a[c:], b[c:])
	},
	tapSum: func(out []float32, xs, ws [][]float32) {
		c := 0
		for ; c+8 <= len(out); c += 8 {
			sum := archsimd.BroadcastFloat32x8(0)
			for t, x := range xs {
				sum = sum.Add(archsimd.LoadFloat32x8(x[c:]).Mul(archsimd.LoadFloat32x8(ws[t][c:])))
			}
			sum.Store(out[c:])
			archsimd.ClearAVXUpperBits() // the next zero vector is a legacy-SSE XORPS
		}
		archsimd.ClearAVXUpperBits() // before scalar code: see doc.go
		tapSumFrom(c, out, xs, ws)
	},
}
