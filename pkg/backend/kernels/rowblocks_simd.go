//go:build goexperiment.simd && amd64

package kernels

import (
	"simd/archsimd"
	"unsafe"
)

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
// returns the first channel it left. Pointers inside the loops (see ptr).
func sumRows8(c int, acc, x []float32, rows, stride int) int {
	cv := c + (len(acc)-c)&^7
	if cv == c || rows < 1 {
		return cv
	}
	checkRows(cv, rows, stride, x)
	pa, px := ptr(acc), ptr(x)
	// Four vectors of channels at a time: each channel's rows are still
	// added one after the other, but four chains of additions overlap
	// where one waited for each addition's latency.
	for ; c+32 <= cv; c += 32 {
		o := uintptr(c) * 4
		s0, s1, s2, s3 := load8(pa, o), load8(pa, o+32), load8(pa, o+64), load8(pa, o+96)
		for r := range rows {
			at := uintptr(r*stride)*4 + o
			s0 = s0.Add(load8(px, at))
			s1 = s1.Add(load8(px, at+32))
			s2 = s2.Add(load8(px, at+64))
			s3 = s3.Add(load8(px, at+96))
		}
		s0.StoreArray(at8(pa, o))
		s1.StoreArray(at8(pa, o+32))
		s2.StoreArray(at8(pa, o+64))
		s3.StoreArray(at8(pa, o+96))
	}
	for ; c < cv; c += 8 {
		o := uintptr(c) * 4
		s := load8(pa, o)
		for r := range rows {
			s = s.Add(load8(px, uintptr(r*stride)*4+o))
		}
		s.StoreArray(at8(pa, o))
	}
	archsimd.ClearAVXUpperBits() // see doc.go
	return cv
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
// returns the first channel it left. Pointers inside the loops (see ptr).
func sqDiffRows8(c int, acc, x, mean []float32, rows, stride int) int {
	cv := c + (len(acc)-c)&^7
	if cv == c || rows < 1 {
		return cv
	}
	checkRows(cv, rows, stride, x)
	_ = mean[cv-1]
	pa, px, pm := ptr(acc), ptr(x), ptr(mean)
	for ; c+32 <= cv; c += 32 { // four chains at a time, as in sumRows8
		o := uintptr(c) * 4
		s0, s1, s2, s3 := load8(pa, o), load8(pa, o+32), load8(pa, o+64), load8(pa, o+96)
		m0, m1, m2, m3 := load8(pm, o), load8(pm, o+32), load8(pm, o+64), load8(pm, o+96)
		for r := range rows {
			at := uintptr(r*stride)*4 + o
			d0 := load8(px, at).Sub(m0)
			d1 := load8(px, at+32).Sub(m1)
			d2 := load8(px, at+64).Sub(m2)
			d3 := load8(px, at+96).Sub(m3)
			s0 = s0.Add(d0.Mul(d0))
			s1 = s1.Add(d1.Mul(d1))
			s2 = s2.Add(d2.Mul(d2))
			s3 = s3.Add(d3.Mul(d3))
		}
		s0.StoreArray(at8(pa, o))
		s1.StoreArray(at8(pa, o+32))
		s2.StoreArray(at8(pa, o+64))
		s3.StoreArray(at8(pa, o+96))
	}
	for ; c < cv; c += 8 {
		o := uintptr(c) * 4
		s, mu := load8(pa, o), load8(pm, o)
		for r := range rows {
			d := load8(px, uintptr(r*stride)*4+o).Sub(mu)
			s = s.Add(d.Mul(d))
		}
		s.StoreArray(at8(pa, o))
	}
	archsimd.ClearAVXUpperBits() // see doc.go
	return cv
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
// returns the first channel it left: 32 channels (eight accumulator chains)
// at a time walking down the rows, then 8, each channel's rows added one
// after the other as in the generic loop. A block's rows of a statsChunk
// are in L1 when the next block walks them. Pointers, not slices, inside
// the loops (see ptr).
func gradSumRows8(c int, sumDy, sumDyX, dy, x, mean []float32, rows, stride int) int {
	cv := c + (len(sumDy)-c)&^7
	if cv == c || rows < 1 {
		return cv
	}
	checkRows(cv, rows, stride, dy, x)
	_, _, _ = sumDyX[cv-1], mean[cv-1], sumDy[cv-1]
	pdy, px, ps, psx, pm := ptr(dy), ptr(x), ptr(sumDy), ptr(sumDyX), ptr(mean)
	for ; c+32 <= cv; c += 32 {
		o := uintptr(c) * 4
		s0, s1, s2, s3 := load8(ps, o), load8(ps, o+32), load8(ps, o+64), load8(ps, o+96)
		t0, t1, t2, t3 := load8(psx, o), load8(psx, o+32), load8(psx, o+64), load8(psx, o+96)
		for r := range rows {
			at := uintptr(r*stride)*4 + o
			d0, d1, d2, d3 := load8(pdy, at), load8(pdy, at+32), load8(pdy, at+64), load8(pdy, at+96)
			s0, s1, s2, s3 = s0.Add(d0), s1.Add(d1), s2.Add(d2), s3.Add(d3)
			t0 = t0.Add(d0.Mul(load8(px, at).Sub(load8(pm, o))))
			t1 = t1.Add(d1.Mul(load8(px, at+32).Sub(load8(pm, o+32))))
			t2 = t2.Add(d2.Mul(load8(px, at+64).Sub(load8(pm, o+64))))
			t3 = t3.Add(d3.Mul(load8(px, at+96).Sub(load8(pm, o+96))))
		}
		s0.StoreArray(at8(ps, o))
		s1.StoreArray(at8(ps, o+32))
		s2.StoreArray(at8(ps, o+64))
		s3.StoreArray(at8(ps, o+96))
		t0.StoreArray(at8(psx, o))
		t1.StoreArray(at8(psx, o+32))
		t2.StoreArray(at8(psx, o+64))
		t3.StoreArray(at8(psx, o+96))
	}
	for ; c < cv; c += 8 {
		o := uintptr(c) * 4
		s, t, mu := load8(ps, o), load8(psx, o), load8(pm, o)
		for r := range rows {
			at := uintptr(r*stride)*4 + o
			d := load8(pdy, at)
			s = s.Add(d)
			t = t.Add(d.Mul(load8(px, at).Sub(mu)))
		}
		s.StoreArray(at8(ps, o))
		t.StoreArray(at8(psx, o))
	}
	archsimd.ClearAVXUpperBits() // see doc.go
	return cv
}

// Row pointers. The 8-lane row loops index their slices through pointers:
// with slices, Go's compiler kept each slice's pointer, length and
// capacity live and bounds-checked every vector, spilling to the stack, and
// the loops ran about 15 cycles per vector (an AVX2 batch-norm gradient of
// 1024 rows x 72 channels in 120 us). checkRows checks once, up front, every
// element a loop will touch.

// ptr is the address of s's first element.
func ptr(s []float32) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(s)) }

// load8 loads the 8 floats at byte offset off from p.
func load8(p unsafe.Pointer, off uintptr) archsimd.Float32x8 {
	return archsimd.LoadFloat32x8Array((*[8]float32)(unsafe.Add(p, off)))
}

// at8 is the 8 floats at byte offset off from p, to store into.
func at8(p unsafe.Pointer, off uintptr) *[8]float32 { return (*[8]float32)(unsafe.Add(p, off)) }

// checkRows panics unless each slice holds rows rows of stride elements,
// the last one at least cv long.
func checkRows(cv, rows, stride int, slices ...[]float32) {
	need := (rows-1)*stride + cv
	for _, s := range slices {
		if len(s) < need {
			panic("kernels: a row operation given a slice shorter than its rows")
		}
	}
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
// vector. Pointers inside the loop (see ptr).
func affineRows8(c int, out, x, mean, a, offset []float32, rows, stride int) int {
	cv := c + (len(mean)-c)&^7
	if cv == c || rows < 1 {
		return cv
	}
	checkRows(cv, rows, stride, out, x)
	_, _ = a[cv-1], offset[cv-1]
	pout, px, pm, pa, po := ptr(out), ptr(x), ptr(mean), ptr(a), ptr(offset)
	lo, hi := uintptr(c)*4, uintptr(cv)*4
	for r := range rows {
		row := uintptr(r*stride) * 4
		for k := lo; k < hi; k += 32 {
			load8(px, row+k).Sub(load8(pm, k)).Mul(load8(pa, k)).Add(load8(po, k)).StoreArray(at8(pout, row+k))
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
	if cv == c || rows < 1 {
		return cv
	}
	checkRows(cv, rows, stride, dx, dy, x)
	_, _, _ = m[cv-1], b[cv-1], a[cv-1]
	pdx, pdy, px, pmu, pm, pb, pa := ptr(dx), ptr(dy), ptr(x), ptr(mean), ptr(m), ptr(b), ptr(a)
	lo, hi := uintptr(c)*4, uintptr(cv)*4
	for r := range rows {
		row := uintptr(r*stride) * 4
		for k := lo; k < hi; k += 32 {
			xhat := load8(px, row+k).Sub(load8(pmu, k)).Mul(load8(pb, k))
			load8(pdy, row+k).Sub(load8(pm, k)).Sub(xhat).Mul(load8(pa, k)).StoreArray(at8(pdx, row+k))
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
