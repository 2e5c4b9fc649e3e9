package kernels

import "fmt"

// Conv2D describes one 2-D convolution with batch-first, channels-last
// (NHWC) input and output: groups = 1, no input dilation.
//
// The zero value is not usable: fill every field (strides and dilations are
// at least 1) and check it with Validate.
type Conv2D struct {
	N, H, W, C                           int // input: batch, height, width, channels (contiguous NHWC)
	KH, KW, O                            int // kernel height and width, output channels
	StrideH, StrideW                     int // kernel strides (>= 1)
	DilH, DilW                           int // kernel dilation (1 = none)
	PadTop, PadBottom, PadLeft, PadRight int // zero padding (>= 0), may be asymmetric
}

// OutH returns the output height, (H+PadTop+PadBottom-DilH*(KH-1)-1)/StrideH + 1,
// or 0 when the dilated kernel does not fit in the padded input.
func (c Conv2D) OutH() int {
	return outSize(c.H, c.PadTop+c.PadBottom, c.KH, c.DilH, c.StrideH)
}

// OutW returns the output width, (W+PadLeft+PadRight-DilW*(KW-1)-1)/StrideW + 1,
// or 0 when the dilated kernel does not fit in the padded input.
func (c Conv2D) OutW() int {
	return outSize(c.W, c.PadLeft+c.PadRight, c.KW, c.DilW, c.StrideW)
}

// outSize is the standard output-size formula, clamped at 0 so that Go's
// truncating division cannot turn a kernel larger than its input into an
// output of size 1.
func outSize(in, pad, k, dil, stride int) int {
	if stride < 1 || dil < 1 || k < 1 {
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
	for _, f := range []struct {
		name string
		v    int
	}{
		{"PadTop", c.PadTop}, {"PadBottom", c.PadBottom}, {"PadLeft", c.PadLeft}, {"PadRight", c.PadRight},
	} {
		if f.v < 0 {
			return fmt.Errorf("kernels: Conv2D.%s = %d, must be >= 0", f.name, f.v)
		}
	}
	if c.OutH() < 1 {
		return fmt.Errorf("kernels: Conv2D output height <= 0: kernel height %d with dilation %d spans %d rows, padded input has %d",
			c.KH, c.DilH, c.DilH*(c.KH-1)+1, c.H+c.PadTop+c.PadBottom)
	}
	if c.OutW() < 1 {
		return fmt.Errorf("kernels: Conv2D output width <= 0: kernel width %d with dilation %d spans %d columns, padded input has %d",
			c.KW, c.DilW, c.DilW*(c.KW-1)+1, c.W+c.PadLeft+c.PadRight)
	}
	return nil
}

// InputSize returns N*H*W*C, the length Forward needs for its input.
func (c Conv2D) InputSize() int { return c.N * c.H * c.W * c.C }

// OutputSize returns N*OutH*OutW*O, the length Forward needs for its output.
func (c Conv2D) OutputSize() int { return c.N * c.OutH() * c.OutW() * c.O }

// Flops returns the multiply-adds of the convolution counted as two
// floating-point operations each: 2*N*OutH*OutW*O*C*KH*KW.
func (c Conv2D) Flops() float64 {
	return 2 * float64(c.N) * float64(c.OutH()) * float64(c.OutW()) * float64(c.O) * float64(c.C) * float64(c.KH) * float64(c.KW)
}

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
