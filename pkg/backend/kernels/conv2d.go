package kernels

import "fmt"

// Conv2D describes one 2-D convolution with batch-first, channels-last
// (NHWC) input and output, groups = 1:
//
//	out[n,oh,ow,co] = sum over kh, kw, ci of
//	    inD[n, oh*StrideH + kh*DilH - PadTop, ow*StrideW + kw*DilW - PadLeft, ci] * w[kh,kw,ci,co]
//
// where inD is the input dilated by InDilH x InDilW: InDilH-1 zero rows
// between input rows (inD has (H-1)*InDilH+1 rows, row i is input row
// i/InDilH when i%InDilH == 0 and zero otherwise), likewise for columns,
// and positions outside inD are zero. Input dilation is how the input
// gradient of a strided convolution is written (see Forward). Negative
// padding crops the (dilated) input.
//
// The zero value is not usable: fill every field (strides and dilations are
// at least 1; InDilH and InDilW may stay 0, which means 1) and check it
// with Validate.
type Conv2D struct {
	N, H, W, C                           int // input: batch, height, width, channels (contiguous NHWC)
	KH, KW, O                            int // kernel height and width, output channels
	StrideH, StrideW                     int // kernel strides (>= 1)
	DilH, DilW                           int // kernel dilation (1 = none)
	PadTop, PadBottom, PadLeft, PadRight int // padding of the dilated input: zeros, or cropping when negative
	InDilH, InDilW                       int // input (lhs) dilation: InDil-1 zeros between input rows/columns; 0 or 1 = none
}

// inDilH and inDilW return the input dilations, with 0 meaning 1.
func (c Conv2D) inDilH() int { return max(1, c.InDilH) }
func (c Conv2D) inDilW() int { return max(1, c.InDilW) }

// dilatedH and dilatedW return the size of the dilated input, (H-1)*InDilH+1
// and (W-1)*InDilW+1.
func (c Conv2D) dilatedH() int { return (c.H-1)*c.inDilH() + 1 }
func (c Conv2D) dilatedW() int { return (c.W-1)*c.inDilW() + 1 }

// OutH returns the output height,
// ((H-1)*InDilH+1+PadTop+PadBottom-DilH*(KH-1)-1)/StrideH + 1, or 0 when the
// dilated kernel does not fit in the padded input.
func (c Conv2D) OutH() int {
	return outSize(c.dilatedH(), c.PadTop+c.PadBottom, c.KH, c.DilH, c.StrideH)
}

// OutW returns the output width,
// ((W-1)*InDilW+1+PadLeft+PadRight-DilW*(KW-1)-1)/StrideW + 1, or 0 when the
// dilated kernel does not fit in the padded input.
func (c Conv2D) OutW() int {
	return outSize(c.dilatedW(), c.PadLeft+c.PadRight, c.KW, c.DilW, c.StrideW)
}

// outSize is the standard output-size formula, clamped at 0 so that Go's
// truncating division cannot turn a kernel larger than its input into an
// output of size 1.
func outSize(in, pad, k, dil, stride int) int {
	if in < 1 || stride < 1 || dil < 1 || k < 1 {
		return 0
	}
	span := in + pad - dil*(k-1) - 1
	if span < 0 {
		return 0
	}
	return span/stride + 1
}

// Validate reports why the convolution cannot be computed, or nil.
func (c Conv2D) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{
		{"N", c.N}, {"H", c.H}, {"W", c.W}, {"C", c.C},
		{"KH", c.KH}, {"KW", c.KW}, {"O", c.O},
		{"StrideH", c.StrideH}, {"StrideW", c.StrideW},
		{"DilH", c.DilH}, {"DilW", c.DilW},
	} {
		if f.v < 1 {
			return fmt.Errorf("kernels: Conv2D.%s = %d, must be >= 1", f.name, f.v)
		}
	}
	if c.InDilH < 0 || c.InDilW < 0 {
		return fmt.Errorf("kernels: Conv2D input dilation %dx%d, must be >= 1 (or 0, meaning 1)", c.InDilH, c.InDilW)
	}
	if c.OutH() < 1 {
		return fmt.Errorf("kernels: Conv2D output height <= 0: kernel height %d with dilation %d spans %d rows, padded input has %d",
			c.KH, c.DilH, c.DilH*(c.KH-1)+1, c.dilatedH()+c.PadTop+c.PadBottom)
	}
	if c.OutW() < 1 {
		return fmt.Errorf("kernels: Conv2D output width <= 0: kernel width %d with dilation %d spans %d columns, padded input has %d",
			c.KW, c.DilW, c.DilW*(c.KW-1)+1, c.dilatedW()+c.PadLeft+c.PadRight)
	}
	return nil
}

// InputSize returns N*H*W*C, the length Forward needs for its input.
func (c Conv2D) InputSize() int { return c.N * c.H * c.W * c.C }

// OutputSize returns N*OutH*OutW*O, the length Forward needs for its output.
func (c Conv2D) OutputSize() int { return c.N * c.OutH() * c.OutW() * c.O }

// Flops returns the multiply-adds of the convolution, counted as two
// floating-point operations each. Without input dilation that is the usual
//
//	2 * N * OutH * OutW * O * C * KH * KW,
//
// which counts taps on padding, as frameworks do. With input dilation it is
//
//	2 * N * C * O * TH * TW,
//
// where TH is the number of (output row, kernel row) pairs whose row
// oh*StrideH + kh*DilH - PadTop of the dilated input is an input row: not
// padding, and not one of the zero rows input dilation inserts (a multiple
// of InDilH in [0, (H-1)*InDilH]); TW likewise for columns. Those are the
// multiply-adds Forward performs; counting the inserted zeros would inflate
// the figure up to InDilH*InDilW-fold. For the input gradient of a strided
// convolution it is the convolution's own count less its taps on padding.
func (c Conv2D) Flops() float64 {
	if c.inDilH() == 1 && c.inDilW() == 1 {
		return 2 * float64(c.N) * float64(c.OutH()) * float64(c.OutW()) * float64(c.O) * float64(c.C) * float64(c.KH) * float64(c.KW)
	}
	th := inputTaps(c.OutH(), c.KH, c.DilH, c.StrideH, c.PadTop, c.H, c.inDilH())
	tw := inputTaps(c.OutW(), c.KW, c.DilW, c.StrideW, c.PadLeft, c.W, c.inDilW())
	return 2 * float64(c.N) * float64(c.C) * float64(c.O) * float64(th) * float64(tw)
}

// inputTaps counts the pairs (o < out, k < kernel) whose dilated input index
// o*stride + k*dil - pad holds one of the in input values.
func inputTaps(out, kernel, dil, stride, pad, in, inDil int) int {
	n := 0
	for o := range out {
		for k := range kernel {
			if i := o*stride + k*dil - pad; i >= 0 && i <= (in-1)*inDil && i%inDil == 0 {
				n++
			}
		}
	}
	return n
}

// mod returns a modulo m in [0, m), for m > 0.
func mod(a, m int) int {
	if a %= m; a < 0 {
		a += m
	}
	return a
}

// floorDiv returns floor(a/b) for b > 0.
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// ceilDiv returns ceil(a/b) for b > 0.
func ceilDiv(a, b int) int { return -floorDiv(-a, b) }

// ciBlock is the number of input channels one micro-kernel step consumes,
// fully unrolled. Input and weights are zero-padded to a multiple of it.
const ciBlock = 16

// paddedC returns C rounded up to a multiple of ciBlock.
func (c Conv2D) paddedC() int { return (c.C + ciBlock - 1) / ciBlock * ciBlock }

// oBlock is one block of output channels of the packed weights: channels
// [co0, co0+width), of which those >= O are zero padding.
type oBlock struct {
	co0, width int
	off        int // offset of the block in the packed weights, in floats
}

// oBlocks splits the O output channels into 32-wide blocks (two AVX-512
// vectors), ending with a 16-wide block when at most 16 channels remain, so
// that small channel tails waste at most 15 lanes.
func (c Conv2D) oBlocks() []oBlock {
	var bs []oBlock
	blockLen := c.KH * c.KW * c.paddedC() // weight rows per block
	off := 0
	for co := 0; co < c.O; {
		width := 32
		if c.O-co <= 16 {
			width = 16
		}
		bs = append(bs, oBlock{co0: co, width: width, off: off})
		off += blockLen * width
		co += width
	}
	return bs
}
