package kernels

import "unsafe"

// genericMaxP is the generic path's widest tile, genericMaxR its tallest
// weight-gradient tile.
const (
	genericMaxP = 8
	genericMaxR = 8
)

// genericKernels returns the portable path: the tileFunc contract in plain
// Go, for CPUs and builds without the SIMD paths.
func genericKernels() *kernelSet {
	ks := &kernelSet{name: "generic", maxP: genericMaxP}
	for r := 1; r <= genericMaxR; r++ {
		ks.filter16 = append(ks.filter16, func(x, dy unsafe.Pointer, n int, dst unsafe.Pointer, dstStride uintptr, _ *[16]float32) {
			genericFilter(x, dy, n, dst, dstStride, r, 16)
		})
		ks.filter32 = append(ks.filter32, func(x, dy unsafe.Pointer, n int, dst unsafe.Pointer, dstStride uintptr, _ *[16]float32) {
			genericFilter(x, dy, n, dst, dstStride, r, 32)
		})
	}
	for p := 1; p <= genericMaxP; p++ {
		ks.tiles16 = append(ks.tiles16, func(steps []step, dst unsafe.Pointer, dstStride uintptr, _ *[16]float32) {
			genericTile(steps, dst, dstStride, 16, p)
		})
		ks.tiles32 = append(ks.tiles32, func(steps []step, dst unsafe.Pointer, dstStride uintptr, _ *[16]float32) {
			genericTile(steps, dst, dstStride, 32, p)
		})
	}
	return ks
}

// genericTile implements tileFunc for a block of bw channels and p pixels,
// in sub-tiles of 4 pixels x 4 channels: 16 scalar accumulators the compiler
// keeps in registers, fed by 8 loads per 16 multiply-adds. (A loop over one
// pixel's channels would load and store its accumulator for every
// multiply-add.)
func genericTile(steps []step, dst unsafe.Pointer, dstStride uintptr, bw, p int) {
	for i := 0; i < p; i += 4 {
		// A sub-tile past the tile's last pixel re-reads that pixel (its
		// sums are dropped), so no load leaves the tile's input.
		var px [4]uintptr
		for k := range px {
			px[k] = uintptr(64 * min(i+k, p-1))
		}
		for o := 0; o < bw; o += 4 {
			quad := genericQuad(steps, uintptr(4*bw), px, uintptr(4*o))
			for k := range min(4, p-i) {
				*(*[4]float32)(unsafe.Add(dst, uintptr(i+k)*dstStride+uintptr(4*o))) = quad[k]
			}
		}
	}
}

// genericQuad returns the sums over all steps of 4 pixels (at byte offsets
// px of each step's input) times 4 channels (at byte offset ch of each
// weight row of rowBytes bytes).
func genericQuad(steps []step, rowBytes uintptr, px [4]uintptr, ch uintptr) [4][4]float32 {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	for _, s := range steps {
		p0, p1, p2, p3 := unsafe.Add(s.in, px[0]), unsafe.Add(s.in, px[1]), unsafe.Add(s.in, px[2]), unsafe.Add(s.in, px[3])
		pw := unsafe.Add(s.w, ch)
		for ci := range uintptr(ciBlock) {
			w := (*[4]float32)(unsafe.Add(pw, ci*rowBytes))
			w0, w1, w2, w3 := w[0], w[1], w[2], w[3]
			x := *(*float32)(unsafe.Add(p0, 4*ci))
			c00, c01, c02, c03 = c00+x*w0, c01+x*w1, c02+x*w2, c03+x*w3
			x = *(*float32)(unsafe.Add(p1, 4*ci))
			c10, c11, c12, c13 = c10+x*w0, c11+x*w1, c12+x*w2, c13+x*w3
			x = *(*float32)(unsafe.Add(p2, 4*ci))
			c20, c21, c22, c23 = c20+x*w0, c21+x*w1, c22+x*w2, c23+x*w3
			x = *(*float32)(unsafe.Add(p3, 4*ci))
			c30, c31, c32, c33 = c30+x*w0, c31+x*w1, c32+x*w2, c33+x*w3
		}
	}
	return [4][4]float32{{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33}}
}

// genericFilter implements filterFunc for a tile of r rows x bw lanes of a
// bw-wide output-gradient block, in sub-tiles of 4 rows x 4 lanes: 16 scalar
// accumulators fed by 8 loads per 16 multiply-adds, as genericQuad.
func genericFilter(x, dy unsafe.Pointer, n int, dst unsafe.Pointer, dstStride uintptr, r, bw int) {
	rowBytes := uintptr(4 * bw)
	for i := 0; i < r; i += 4 {
		// A sub-tile past the tile's last row re-reads that row (its sums
		// are dropped), so no load leaves the tile's input.
		var rows [4]uintptr
		for k := range rows {
			rows[k] = uintptr(4 * min(i+k, r-1))
		}
		for o := 0; o < bw; o += 4 {
			quad := genericFilterQuad(x, dy, 16*n, rowBytes, rows, uintptr(4*o))
			for k := range min(4, r-i) {
				d := (*[4]float32)(unsafe.Add(dst, uintptr(i+k)*dstStride+uintptr(4*o)))
				for j := range d {
					d[j] += quad[k][j]
				}
			}
		}
	}
}

// genericFilterQuad returns the sums over npix pixels of 4 input channels
// (at byte offsets rows of each 64-byte pixel of x) times 4 output-gradient
// lanes (at byte offset ch of each rowBytes-long pixel of dy).
func genericFilterQuad(x, dy unsafe.Pointer, npix int, rowBytes uintptr, rows [4]uintptr, ch uintptr) [4][4]float32 {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	for q := range uintptr(npix) {
		px := unsafe.Add(x, 64*q)
		d := (*[4]float32)(unsafe.Add(dy, q*rowBytes+ch))
		d0, d1, d2, d3 := d[0], d[1], d[2], d[3]
		v := *(*float32)(unsafe.Add(px, rows[0]))
		c00, c01, c02, c03 = c00+v*d0, c01+v*d1, c02+v*d2, c03+v*d3
		v = *(*float32)(unsafe.Add(px, rows[1]))
		c10, c11, c12, c13 = c10+v*d0, c11+v*d1, c12+v*d2, c13+v*d3
		v = *(*float32)(unsafe.Add(px, rows[2]))
		c20, c21, c22, c23 = c20+v*d0, c21+v*d1, c22+v*d2, c23+v*d3
		v = *(*float32)(unsafe.Add(px, rows[3]))
		c30, c31, c32, c33 = c30+v*d0, c31+v*d1, c32+v*d2, c33+v*d3
	}
	return [4][4]float32{{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33}}
}
