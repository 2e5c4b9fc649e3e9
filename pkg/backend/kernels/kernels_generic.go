package kernels

import "unsafe"

// genericMaxP is the generic path's widest tile.
const genericMaxP = 8

// genericKernels returns the portable path: the tileFunc contract in plain
// Go, for CPUs and builds without the SIMD paths.
func genericKernels() *kernelSet {
	ks := &kernelSet{name: "generic", maxP: genericMaxP}
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
