package kernels

import (
	"fmt"
	"unsafe"
)

// PackedSize returns the number of floats PackWeights writes: the output
// channels rounded up to blocks of 32 (or 16 for a short tail) times
// KH*KW times the input channels rounded up to a multiple of 16.
func (c Conv2D) PackedSize() int {
	n := 0
	for _, b := range c.oBlocks() {
		n += b.width
	}
	return n * c.KH * c.KW * c.paddedC()
}

// PackWeights reorders a convolution kernel into the layout Forward wants:
// blocks of 32 (or, for a short tail, 16) output channels, each laid out
// [kh][kw][ci][lane] with ci padded to a multiple of 16, so one input channel
// of one tap is a single contiguous row of one or two SIMD vectors. Padding
// is zero.
//
// The kernel is given as flat data plus the element stride of each of its
// four logical axes (kh, kw, ci, co), so any axis order is packed without a
// transpose first. For HWIO (kh, kw, ci, co) data the strides are
// (KW*C*O, C*O, O, 1); for OIHW they are (KW, 1, KH*KW, C*KH*KW). A
// negative stride reads its axis from the far end (a kernel flipped along
// it, as a convolution's input gradient wants, without the copy): index i
// of an axis of size d and stride -s is at (d-1-i)*s.
//
// dst must hold PackedSize() floats. The packed weights depend only on the
// convolution's shape, not on the kernel path, and can be reused for any
// Forward call with the same KH, KW, C and O. Workers goroutines pack the
// output blocks: a ResNet-18 512x512 3x3 kernel took 4-5 ms on one core,
// a quarter of its batch-32 convolution.
func (c Conv2D) PackWeights(dst, kernel []float32, strideKH, strideKW, strideCI, strideCO, workers int) {
	if c.KH < 1 || c.KW < 1 || c.C < 1 || c.O < 1 {
		panic(fmt.Sprintf("kernels: PackWeights: bad kernel shape KH=%d KW=%d C=%d O=%d", c.KH, c.KW, c.C, c.O))
	}
	if n := c.PackedSize(); len(dst) < n {
		panic(fmt.Sprintf("kernels: PackWeights: dst has %d floats, need %d", len(dst), n))
	}
	// origin is the index of element (0, 0, 0, 0); last the furthest index
	// from it.
	origin, last := 0, 0
	for _, a := range [4]struct{ size, stride int }{{c.KH, strideKH}, {c.KW, strideKW}, {c.C, strideCI}, {c.O, strideCO}} {
		if a.stride < 0 {
			origin -= (a.size - 1) * a.stride
		}
		last += (a.size - 1) * max(a.stride, -a.stride)
	}
	if last >= len(kernel) {
		panic(fmt.Sprintf("kernels: PackWeights: kernel has %d floats, strides (%d, %d, %d, %d) reach index %d",
			len(kernel), strideKH, strideKW, strideCI, strideCO, last))
	}
	blocks := c.oBlocks()
	splitUnits(len(blocks), 1, workers, func(_, lo, hi int) {
		for _, b := range blocks[lo:hi] {
			c.packBlock(dst, kernel, b, origin, strideKH, strideKW, strideCI, strideCO)
		}
	})
}

// packBlock writes output block b of PackWeights: per tap, one row of
// b.width floats per padded input channel.
func (c Conv2D) packBlock(dst, kernel []float32, b oBlock, origin, strideKH, strideKW, strideCI, strideCO int) {
	cp := c.paddedC()
	valid := min(b.width, c.O-b.co0) // lanes that are output channels
	i := b.off
	for kh := range c.KH {
		for kw := range c.KW {
			rows := dst[i : i+cp*b.width]
			i += cp * b.width
			tap := origin + kh*strideKH + kw*strideKW
			if strideCO == 1 { // each row a slice of the kernel
				for ci := range c.C {
					row := rows[ci*b.width : (ci+1)*b.width]
					copy(row[:valid], kernel[tap+ci*strideCI+b.co0:][:valid])
					clear(row[valid:])
				}
			} else { // gathered: one output channel at a time, along its input channels
				for j := range valid {
					src := tap + (b.co0+j)*strideCO
					for ci := range c.C {
						rows[ci*b.width+j] = kernel[src+ci*strideCI]
					}
				}
				for ci := range c.C {
					clear(rows[ci*b.width+valid : (ci+1)*b.width])
				}
			}
			clear(rows[c.C*b.width:]) // the padding input channels
		}
	}
}

// packInputRows copies the padded input rows [hp0, hp0+len(need)) of image n
// that the current item reads (need) into w.buf, one packed row each, laid
// out
//
//	[cb][phase][q][16]   (input channel block, column phase, column, channel)
//
// where padded column x (input column x-PadLeft) is stored at phase x%StrideW,
// q = x/StrideW. With that split, output pixel ow's tap kw is at column
// q = ow + kw*DilW/StrideW of phase kw*DilW%StrideW: consecutive output
// pixels read consecutive 64-byte groups whatever the stride, which is what
// lets a micro-kernel address its whole tile from one pointer with constant
// offsets. Padding columns and the channels past C are zero. Rows the item
// never reads (because of the stride) or that are padding are left as they
// are: buildSteps never refers to them.
func (w *worker) packInputRows(g *geometry, in []float32, n, hp0 int, need []bool) {
	sw, full := g.StrideW, g.C/ciBlock // full: channel blocks without padding
	for r, ok := range need {
		h := hp0 + r - g.PadTop
		if !ok || h < 0 || h >= g.H {
			continue
		}
		src := in[(n*g.H+h)*g.W*g.C : (n*g.H+h+1)*g.W*g.C]
		dst := w.buf[r*g.rowLen : (r+1)*g.rowLen]
		for cb := range g.cb {
			for phase := range sw {
				d := (cb*sw + phase) * g.wq * ciBlock
				// Columns q whose input column x = q*sw + phase - PadLeft
				// lies in the row: [qLo, qHi); the others are padding.
				qLo := min(g.wq, max(0, ceilDiv(g.PadLeft-phase, sw)))
				qHi := max(qLo, min(g.wq, floorDiv(g.W-1+g.PadLeft-phase, sw)+1))
				clear(dst[d : d+qLo*ciBlock])
				clear(dst[d+qHi*ciBlock : d+g.wq*ciBlock])
				if qHi == qLo {
					continue
				}
				x0 := qLo*sw + phase - g.PadLeft
				if cb < full { // whole groups of 16 channels, one per column
					last := (x0+(qHi-qLo-1)*sw)*g.C + cb*ciBlock
					_ = src[last+ciBlock-1] // every group copyGroups reads inside src
					_ = dst[d+qHi*ciBlock-1]
					copyGroups(unsafe.Pointer(&dst[d+qLo*ciBlock]), unsafe.Pointer(&src[x0*g.C+cb*ciBlock]), qHi-qLo,
						4*ciBlock, uintptr(4*sw*g.C))
					continue
				}
				for q := qLo; q < qHi; q++ { // the last, partial channel block
					x := q*sw + phase - g.PadLeft
					grp := dst[d+q*ciBlock : d+(q+1)*ciBlock]
					n := copy(grp, src[x*g.C+cb*ciBlock:(x+1)*g.C])
					clear(grp[n:])
				}
			}
		}
	}
}
