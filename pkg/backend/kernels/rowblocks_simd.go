//go:build goexperiment.simd && amd64

package kernels

import "simd/archsimd"

// The batch-norm row-block operations of the SIMD paths (see rowOps): each
// vector of channels is held in registers while the rows go by; a 16-lane
// loop (AVX-512), then an 8-lane one, then the generic loop for the last
// channels. Products are rounded before they are added, as in the generic
// loops.

// init completes the paths' rowOps (rowops_simd.go) with these.
func init() {
	avx512RowOps.sumRows = func(acc, x []float32, rows, stride int) {
		c := sumRows16(0, acc, x, rows, stride)
		c = sumRows8(c, acc, x, rows, stride)
		genericRowOps.sumRows(acc[c:], x[c:], rows, stride)
	}
	avx512RowOps.sqDiffRows = func(acc, x, mean []float32, rows, stride int) {
		c := sqDiffRows16(0, acc, x, mean, rows, stride)
		c = sqDiffRows8(c, acc, x, mean, rows, stride)
		genericRowOps.sqDiffRows(acc[c:], x[c:], mean[c:], rows, stride)
	}
	avx512RowOps.shiftRows = func(s1, s2, x, k []float32, rows, stride int) {
		c := shiftRows16(0, s1, s2, x, k, rows, stride)
		c = shiftRows8(c, s1, s2, x, k, rows, stride)
		genericRowOps.shiftRows(s1[c:], s2[c:], x[c:], k[c:], rows, stride)
	}
	avx512RowOps.gradSumRows = func(sumDy, sumDyX, dy, x, mean []float32, rows, stride int) {
		c := gradSumRows16(0, sumDy, sumDyX, dy, x, mean, rows, stride)
		c = gradSumRows8(c, sumDy, sumDyX, dy, x, mean, rows, stride)
		genericRowOps.gradSumRows(sumDy[c:], sumDyX[c:], dy[c:], x[c:], mean[c:], rows, stride)
	}
	avx512RowOps.affineRows = func(out, x, mean, a, offset []float32, rows, stride int) {
		c := affineRows16(0, out, x, mean, a, offset, rows, stride)
		c = affineRows8(c, out, x, mean, a, offset, rows, stride)
		genericRowOps.affineRows(out[c:], x[c:], mean[c:], a[c:], offset[c:], rows, stride)
	}
	avx512RowOps.gradRows = func(dx, dy, x, mean, m, b, a []float32, rows, stride int) {
		c := gradRows16(0, dx, dy, x, mean, m, b, a, rows, stride)
		c = gradRows8(c, dx, dy, x, mean, m, b, a, rows, stride)
		genericRowOps.gradRows(dx[c:], dy[c:], x[c:], mean[c:], m[c:], b[c:], a[c:], rows, stride)
	}
	avx2RowOps.sumRows = func(acc, x []float32, rows, stride int) {
		c := sumRows8(0, acc, x, rows, stride)
		genericRowOps.sumRows(acc[c:], x[c:], rows, stride)
	}
	avx2RowOps.sqDiffRows = func(acc, x, mean []float32, rows, stride int) {
		c := sqDiffRows8(0, acc, x, mean, rows, stride)
		genericRowOps.sqDiffRows(acc[c:], x[c:], mean[c:], rows, stride)
	}
	avx2RowOps.shiftRows = func(s1, s2, x, k []float32, rows, stride int) {
		c := shiftRows8(0, s1, s2, x, k, rows, stride)
		genericRowOps.shiftRows(s1[c:], s2[c:], x[c:], k[c:], rows, stride)
	}
	avx2RowOps.gradSumRows = func(sumDy, sumDyX, dy, x, mean []float32, rows, stride int) {
		c := gradSumRows8(0, sumDy, sumDyX, dy, x, mean, rows, stride)
		genericRowOps.gradSumRows(sumDy[c:], sumDyX[c:], dy[c:], x[c:], mean[c:], rows, stride)
	}
	avx2RowOps.affineRows = func(out, x, mean, a, offset []float32, rows, stride int) {
		c := affineRows8(0, out, x, mean, a, offset, rows, stride)
		genericRowOps.affineRows(out[c:], x[c:], mean[c:], a[c:], offset[c:], rows, stride)
	}
	avx2RowOps.gradRows = func(dx, dy, x, mean, m, b, a []float32, rows, stride int) {
		c := gradRows8(0, dx, dy, x, mean, m, b, a, rows, stride)
		genericRowOps.gradRows(dx[c:], dy[c:], x[c:], mean[c:], m[c:], b[c:], a[c:], rows, stride)
	}
}

// sumRows16 runs sumRows 16 channels at a time from channel c on and
// returns the first channel it left.
func sumRows16(c int, acc, x []float32, rows, stride int) int {
	for ; c+16 <= len(acc); c += 16 {
		s := archsimd.LoadFloat32x16(acc[c:])
		for r := range rows {
			s = s.Add(archsimd.LoadFloat32x16(x[r*stride+c:]))
		}
		s.Store(acc[c:])
	}
	archsimd.ClearAVXUpperBits() // see doc.go
	return c
}

// sumRows8 runs sumRows 8 channels at a time from channel c on and
// returns the first channel it left.
func sumRows8(c int, acc, x []float32, rows, stride int) int {
	// Four vectors of channels at a time: each channel's rows are still
	// added one after the other, but four chains of additions overlap
	// where one waited for each addition's latency.
	for ; c+32 <= len(acc); c += 32 {
		s0, s1 := archsimd.LoadFloat32x8(acc[c:]), archsimd.LoadFloat32x8(acc[c+8:])
		s2, s3 := archsimd.LoadFloat32x8(acc[c+16:]), archsimd.LoadFloat32x8(acc[c+24:])
		for r := range rows {
			row := x[r*stride+c : r*stride+c+32]
			s0 = s0.Add(archsimd.LoadFloat32x8(row[0:]))
			s1 = s1.Add(archsimd.LoadFloat32x8(row[8:]))
			s2 = s2.Add(archsimd.LoadFloat32x8(row[16:]))
			s3 = s3.Add(archsimd.LoadFloat32x8(row[24:]))
		}
		s0.Store(acc[c:])
		s1.Store(acc[c+8:])
		s2.Store(acc[c+16:])
		s3.Store(acc[c+24:])
	}
	for ; c+8 <= len(acc); c += 8 {
		s := archsimd.LoadFloat32x8(acc[c:])
		for r := range rows {
			s = s.Add(archsimd.LoadFloat32x8(x[r*stride+c:]))
		}
		s.Store(acc[c:])
	}
	archsimd.ClearAVXUpperBits() // see doc.go
	return c
}

// sqDiffRows16 runs sqDiffRows 16 channels at a time from channel c on and
// returns the first channel it left.
func sqDiffRows16(c int, acc, x, mean []float32, rows, stride int) int {
	for ; c+16 <= len(acc); c += 16 {
		s, mu := archsimd.LoadFloat32x16(acc[c:]), archsimd.LoadFloat32x16(mean[c:])
		for r := range rows {
			d := archsimd.LoadFloat32x16(x[r*stride+c:]).Sub(mu)
			s = s.Add(d.Mul(d))
		}
		s.Store(acc[c:])
	}
	archsimd.ClearAVXUpperBits() // see doc.go
	return c
}

// sqDiffRows8 runs sqDiffRows 8 channels at a time from channel c on and
// returns the first channel it left.
func sqDiffRows8(c int, acc, x, mean []float32, rows, stride int) int {
	for ; c+32 <= len(acc); c += 32 { // four chains at a time, as in sumRows8
		s0, s1 := archsimd.LoadFloat32x8(acc[c:]), archsimd.LoadFloat32x8(acc[c+8:])
		s2, s3 := archsimd.LoadFloat32x8(acc[c+16:]), archsimd.LoadFloat32x8(acc[c+24:])
		m0, m1 := archsimd.LoadFloat32x8(mean[c:]), archsimd.LoadFloat32x8(mean[c+8:])
		m2, m3 := archsimd.LoadFloat32x8(mean[c+16:]), archsimd.LoadFloat32x8(mean[c+24:])
		for r := range rows {
			row := x[r*stride+c : r*stride+c+32]
			d0 := archsimd.LoadFloat32x8(row[0:]).Sub(m0)
			d1 := archsimd.LoadFloat32x8(row[8:]).Sub(m1)
			d2 := archsimd.LoadFloat32x8(row[16:]).Sub(m2)
			d3 := archsimd.LoadFloat32x8(row[24:]).Sub(m3)
			s0 = s0.Add(d0.Mul(d0))
			s1 = s1.Add(d1.Mul(d1))
			s2 = s2.Add(d2.Mul(d2))
			s3 = s3.Add(d3.Mul(d3))
		}
		s0.Store(acc[c:])
		s1.Store(acc[c+8:])
		s2.Store(acc[c+16:])
		s3.Store(acc[c+24:])
	}
	for ; c+8 <= len(acc); c += 8 {
		s, mu := archsimd.LoadFloat32x8(acc[c:]), archsimd.LoadFloat32x8(mean[c:])
		for r := range rows {
			d := archsimd.LoadFloat32x8(x[r*stride+c:]).Sub(mu)
			s = s.Add(d.Mul(d))
		}
		s.Store(acc[c:])
	}
	archsimd.ClearAVXUpperBits() // see doc.go
	return c
}

// gradSumRows16 runs gradSumRows 16 channels at a time from channel c on and
// returns the first channel it left.
func gradSumRows16(c int, sumDy, sumDyX, dy, x, mean []float32, rows, stride int) int {
	for ; c+16 <= len(sumDy); c += 16 {
		s, sx, mu := archsimd.LoadFloat32x16(sumDy[c:]), archsimd.LoadFloat32x16(sumDyX[c:]), archsimd.LoadFloat32x16(mean[c:])
		for r := range rows {
			d := archsimd.LoadFloat32x16(dy[r*stride+c:])
			s = s.Add(d)
			sx = sx.Add(d.Mul(archsimd.LoadFloat32x16(x[r*stride+c:]).Sub(mu)))
		}
		s.Store(sumDy[c:])
		sx.Store(sumDyX[c:])
	}
	archsimd.ClearAVXUpperBits() // see doc.go
	return c
}

// gradSumRows8 runs gradSumRows 8 channels at a time from channel c on and
// returns the first channel it left. It walks the rows in order as
// affineRows8, the sums of the row's vectors loaded from L1 and stored back
// (each channel's rows still added one after the other): the rows stream
// through once, where a vector of channels walked down the rows read every
// cache line of the block once per vector.
func gradSumRows8(c int, sumDy, sumDyX, dy, x, mean []float32, rows, stride int) int {
	cv := c + (len(sumDy)-c)&^7
	if cv == c {
		return c
	}
	sumDy, sumDyX, mean = sumDy[:cv], sumDyX[:cv], mean[:cv]
	for r := range rows {
		dyr, xr := dy[r*stride:r*stride+cv], x[r*stride:r*stride+cv]
		for k := c; k < cv; k += 8 {
			d := archsimd.LoadFloat32x8(dyr[k:])
			archsimd.LoadFloat32x8(sumDy[k:]).Add(d).Store(sumDy[k:])
			archsimd.LoadFloat32x8(sumDyX[k:]).Add(d.Mul(archsimd.LoadFloat32x8(xr[k:]).Sub(archsimd.LoadFloat32x8(mean[k:])))).Store(sumDyX[k:])
		}
	}
	archsimd.ClearAVXUpperBits() // see doc.go
	return cv
}

// affineRows16 runs affineRows 16 channels at a time from channel c on and
// returns the first channel it left.
func affineRows16(c int, out, x, mean, a, offset []float32, rows, stride int) int {
	for ; c+16 <= len(mean); c += 16 {
		mu, av, off := archsimd.LoadFloat32x16(mean[c:]), archsimd.LoadFloat32x16(a[c:]), archsimd.LoadFloat32x16(offset[c:])
		for r := range rows {
			archsimd.LoadFloat32x16(x[r*stride+c:]).Sub(mu).Mul(av).Add(off).Store(out[r*stride+c:])
		}
	}
	archsimd.ClearAVXUpperBits() // see doc.go
	return c
}

// affineRows8 runs affineRows 8 channels at a time from channel c on and
// returns the first channel it left. It walks the rows in order, each
// row's vectors in order (the per-channel operands read from L1): out is
// written front to back as a stream, where a vector of channels walked down
// the rows wrote every cache line of the block piecemeal, one pass per
// vector.
func affineRows8(c int, out, x, mean, a, offset []float32, rows, stride int) int {
	cv := c + (len(mean)-c)&^7
	if cv == c {
		return c
	}
	mean, a, offset = mean[:cv], a[:cv], offset[:cv]
	for r := range rows {
		xr, or := x[r*stride:r*stride+cv], out[r*stride:r*stride+cv]
		for k := c; k < cv; k += 8 {
			archsimd.LoadFloat32x8(xr[k:]).Sub(archsimd.LoadFloat32x8(mean[k:])).Mul(archsimd.LoadFloat32x8(a[k:])).
				Add(archsimd.LoadFloat32x8(offset[k:])).Store(or[k:])
		}
	}
	archsimd.ClearAVXUpperBits() // see doc.go
	return cv
}

// gradRows16 runs gradRows 16 channels at a time from channel c on and
// returns the first channel it left.
func gradRows16(c int, dx, dy, x, mean, m, b, a []float32, rows, stride int) int {
	for ; c+16 <= len(mean); c += 16 {
		mu, mv, bv, av := archsimd.LoadFloat32x16(mean[c:]), archsimd.LoadFloat32x16(m[c:]), archsimd.LoadFloat32x16(b[c:]), archsimd.LoadFloat32x16(a[c:])
		for r := range rows {
			xhat := archsimd.LoadFloat32x16(x[r*stride+c:]).Sub(mu).Mul(bv)
			archsimd.LoadFloat32x16(dy[r*stride+c:]).Sub(mv).Sub(xhat).Mul(av).Store(dx[r*stride+c:])
		}
	}
	archsimd.ClearAVXUpperBits() // see doc.go
	return c
}

// gradRows8 runs gradRows 8 channels at a time from channel c on and
// returns the first channel it left, row after row as affineRows8.
func gradRows8(c int, dx, dy, x, mean, m, b, a []float32, rows, stride int) int {
	cv := c + (len(mean)-c)&^7
	if cv == c {
		return c
	}
	mean, m, b, a = mean[:cv], m[:cv], b[:cv], a[:cv]
	for r := range rows {
		xr, dyr, dxr := x[r*stride:r*stride+cv], dy[r*stride:r*stride+cv], dx[r*stride:r*stride+cv]
		for k := c; k < cv; k += 8 {
			xhat := archsimd.LoadFloat32x8(xr[k:]).Sub(archsimd.LoadFloat32x8(mean[k:])).Mul(archsimd.LoadFloat32x8(b[k:]))
			archsimd.LoadFloat32x8(dyr[k:]).Sub(archsimd.LoadFloat32x8(m[k:])).Sub(xhat).Mul(archsimd.LoadFloat32x8(a[k:])).Store(dxr[k:])
		}
	}
	archsimd.ClearAVXUpperBits() // see doc.go
	return cv
}

// shiftRows16 runs shiftRows 16 channels at a time from channel c on and
// returns the first channel it left.
func shiftRows16(c int, s1, s2, x, k []float32, rows, stride int) int {
	for ; c+16 <= len(s1); c += 16 {
		a, b, kk := archsimd.LoadFloat32x16(s1[c:]), archsimd.LoadFloat32x16(s2[c:]), archsimd.LoadFloat32x16(k[c:])
		for r := range rows {
			d := archsimd.LoadFloat32x16(x[r*stride+c:]).Sub(kk)
			a = a.Add(d)
			b = b.Add(d.Mul(d))
		}
		a.Store(s1[c:])
		b.Store(s2[c:])
	}
	archsimd.ClearAVXUpperBits() // see doc.go
	return c
}

// shiftRows8 runs shiftRows 8 channels at a time from channel c on and
// returns the first channel it left: 16 channels (four accumulator chains)
// at a time, then 8.
func shiftRows8(c int, s1, s2, x, k []float32, rows, stride int) int {
	for ; c+16 <= len(s1); c += 16 {
		a0, a1 := archsimd.LoadFloat32x8(s1[c:]), archsimd.LoadFloat32x8(s1[c+8:])
		b0, b1 := archsimd.LoadFloat32x8(s2[c:]), archsimd.LoadFloat32x8(s2[c+8:])
		k0, k1 := archsimd.LoadFloat32x8(k[c:]), archsimd.LoadFloat32x8(k[c+8:])
		for r := range rows {
			row := x[r*stride+c : r*stride+c+16]
			d0 := archsimd.LoadFloat32x8(row[0:]).Sub(k0)
			d1 := archsimd.LoadFloat32x8(row[8:]).Sub(k1)
			a0 = a0.Add(d0)
			a1 = a1.Add(d1)
			b0 = b0.Add(d0.Mul(d0))
			b1 = b1.Add(d1.Mul(d1))
		}
		a0.Store(s1[c:])
		a1.Store(s1[c+8:])
		b0.Store(s2[c:])
		b1.Store(s2[c+8:])
	}
	for ; c+8 <= len(s1); c += 8 {
		a, b, kk := archsimd.LoadFloat32x8(s1[c:]), archsimd.LoadFloat32x8(s2[c:]), archsimd.LoadFloat32x8(k[c:])
		for r := range rows {
			d := archsimd.LoadFloat32x8(x[r*stride+c:]).Sub(kk)
			a = a.Add(d)
			b = b.Add(d.Mul(d))
		}
		a.Store(s1[c:])
		b.Store(s2[c:])
	}
	archsimd.ClearAVXUpperBits() // see doc.go
	return c
}
