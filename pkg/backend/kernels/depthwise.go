package kernels

import "fmt"

// Depthwise is a depthwise convolution (one filter per channel, channel
// multiplier 1) of a channels-last input [N, H, W, C] with a filter packed
// as [KH*KW][C]:
//
//	out[n, oy, ox, c] = sum over ky, kx of in[n, iy, ix, c] * w[ky*KW+kx, c]
//	iy = oy*StrideH + ky - PadTop, ix = ox*StrideW + kx - PadLeft
//
// where the input is seen dilated by InDilH x InDilW (zeros between its
// rows and columns): with input dilation it is the transposed convolution
// that gives a strided depthwise convolution's input gradient. Padding may
// differ on each side.
type Depthwise struct {
	N, H, W, C                           int
	KH, KW                               int
	StrideH, StrideW                     int
	InDilH, InDilW                       int
	PadTop, PadBottom, PadLeft, PadRight int
}

// OutH is the output height.
func (d Depthwise) OutH() int {
	return ((d.H-1)*d.InDilH+1+d.PadTop+d.PadBottom-d.KH)/d.StrideH + 1
}

// OutW is the output width.
func (d Depthwise) OutW() int {
	return ((d.W-1)*d.InDilW+1+d.PadLeft+d.PadRight-d.KW)/d.StrideW + 1
}

// Validate reports why the convolution cannot be computed, or nil.
func (d Depthwise) Validate() error {
	if d.N < 1 || d.H < 1 || d.W < 1 || d.C < 1 || d.KH < 1 || d.KW < 1 ||
		d.StrideH < 1 || d.StrideW < 1 || d.InDilH < 1 || d.InDilW < 1 ||
		d.PadTop < 0 || d.PadBottom < 0 || d.PadLeft < 0 || d.PadRight < 0 || d.OutH() < 1 || d.OutW() < 1 {
		return fmt.Errorf("kernels: invalid depthwise convolution %+v", d)
	}
	return nil
}

// Forward computes out [N, OutH, OutW, C] from in [N, H, W, C] and the
// packed filter w [KH*KW*C] over workers goroutines (split by output rows).
// Each output sums its taps in filter order, products rounded before they
// are added (no FMA), on every path.
func (d Depthwise) Forward(out, in, w []float32, workers int) {
	oh, ow := d.OutH(), d.OutW()
	ops := currentRowOps()
	rows := d.N * oh
	_ = w[d.KH*d.KW*d.C-1] // every weight tapRow loads inside w
	// A transposed convolution (input dilation): its taps fall on the
	// zeros too, pixel by pixel.
	if d.InDilH != 1 || d.InDilW != 1 {
		splitUnits(rows, 1, workers, func(_, lo, hi int) { d.forwardDilated(out, in, w, ops, lo, hi) })
		return
	}
	splitUnits(rows, 1, workers, func(_, lo, hi int) {
		var inTaps, wTaps []int
		for r := lo; r < hi; r++ {
			n, oy := r/oh, r%oh
			iy0 := oy*d.StrideH - d.PadTop // the input row of tap row 0
			kyLo, kyHi := max(0, -iy0), min(d.KH, d.H-iy0)
			// The columns in runs whose taps lie inside the input alike:
			// the left edge's columns one by one, the inner run, the right
			// edge's; each run is one tapRow over the taps inside.
			for ox0 := 0; ox0 < ow; {
				ix0 := ox0*d.StrideW - d.PadLeft
				kxLo, kxHi := max(0, -ix0), min(d.KW, d.W-ix0)
				ox1 := ox0 + 1
				for ox1 < ow {
					ix := ox1*d.StrideW - d.PadLeft
					if max(0, -ix) != kxLo || min(d.KW, d.W-ix) != kxHi {
						break
					}
					ox1++
				}
				inTaps, wTaps = inTaps[:0], wTaps[:0]
				base := ((n*d.H+iy0)*d.W + ix0) * d.C // of tap (0, 0): may lie outside, unlike every tap kept
				last := 0
				for ky := kyLo; ky < kyHi; ky++ {
					for kx := kxLo; kx < kxHi; kx++ {
						last = base + (ky*d.W+kx)*d.C
						inTaps = append(inTaps, last)
						wTaps = append(wTaps, (ky*d.KW+kx)*d.C)
					}
				}
				pixels, inStep, at := ox1-ox0, d.StrideW*d.C, ((n*oh+oy)*ow+ox0)*d.C
				if len(inTaps) > 0 {
					_ = in[last+(pixels-1)*inStep+d.C-1] // the furthest load of tapRow inside in (the nearest is inTaps[0] >= 0)
				}
				_ = out[at+pixels*d.C-1]
				ops.tapRow(out[at:], in, w, inTaps, wTaps, pixels, d.C, inStep)
				ox0 = ox1
			}
		}
	})
}

// forwardDilated computes output rows [lo, hi) of a convolution with input
// dilation, pixel by pixel.
func (d Depthwise) forwardDilated(out, in, w []float32, ops *rowOps, lo, hi int) {
	oh, ow, c := d.OutH(), d.OutW(), d.C
	xs := make([][]float32, 0, d.KH*d.KW)
	ws := make([][]float32, 0, d.KH*d.KW)
	for r := lo; r < hi; r++ {
		n, oy := r/oh, r%oh
		for ox := range ow {
			xs, ws = xs[:0], ws[:0]
			for ky := range d.KH {
				iy, ok := dilated(oy*d.StrideH+ky-d.PadTop, d.InDilH, d.H)
				if !ok {
					continue
				}
				for kx := range d.KW {
					ix, ok := dilated(ox*d.StrideW+kx-d.PadLeft, d.InDilW, d.W)
					if !ok {
						continue
					}
					at := ((n*d.H+iy)*d.W + ix) * c
					xs = append(xs, in[at:at+c])
					t := (ky*d.KW + kx) * c
					ws = append(ws, w[t:t+c])
				}
			}
			at := ((n*oh+oy)*ow + ox) * c
			ops.tapSum(out[at:at+c], xs, ws)
		}
	}
}

// dilated maps a coordinate of the dilated (zero-interleaved) input to the
// input's own, or says it falls on a zero or outside.
func dilated(i, dil, size int) (int, bool) {
	if i < 0 || i%dil != 0 {
		return 0, false
	}
	i /= dil
	return i, i < size
}

// DepthwiseFilter is the filter gradient of a depthwise convolution at
// stride Stride with top/left padding PadTop/PadLeft: from its input
// in [N, H, W, C] and output gradient dy [N, OH, OW, C] it gives
//
//	dw[ky*KW+kx, c] = sum over n, oy, ox of
//	                  in[n, oy*StrideH + ky - PadTop, ox*StrideW + kx - PadLeft, c] * dy[n, oy, ox, c]
//
// (terms outside the input are zero).
type DepthwiseFilter struct {
	N, H, W, C       int
	OH, OW           int
	KH, KW           int
	StrideH, StrideW int
	PadTop, PadLeft  int
}

// Validate reports why the gradient cannot be computed, or nil.
func (d DepthwiseFilter) Validate() error {
	if d.N < 1 || d.H < 1 || d.W < 1 || d.C < 1 || d.OH < 1 || d.OW < 1 || d.KH < 1 || d.KW < 1 ||
		d.StrideH < 1 || d.StrideW < 1 || d.PadTop < 0 || d.PadLeft < 0 {
		return fmt.Errorf("kernels: invalid depthwise filter gradient %+v", d)
	}
	return nil
}

// Compute writes dw [KH*KW*C] over workers goroutines: each sums a fixed
// range of output rows into its own buffer, and the buffers are added in
// worker order, so the result depends only on the shapes and workers.
func (d DepthwiseFilter) Compute(dw, in, dy []float32, workers int) {
	c, taps := d.C, d.KH*d.KW
	ops := currentRowOps()
	rows := d.N * d.OH
	workers = max(1, min(workers, rows))
	partial := make([][]float32, workers)
	splitUnits(rows, 1, workers, func(wk, lo, hi int) {
		acc := make([]float32, taps*c)
		partial[wk] = acc
		var inTaps, accTaps []int
		for r := lo; r < hi; r++ {
			n, oy := r/d.OH, r%d.OH
			iy0 := oy*d.StrideH - d.PadTop // the input row of tap row 0
			kyLo, kyHi := max(0, -iy0), min(d.KH, d.H-iy0)
			// The columns in order, in runs whose taps lie inside the input
			// alike (as Depthwise.Forward): one filterRow each.
			for ox0 := 0; ox0 < d.OW; {
				ix0 := ox0*d.StrideW - d.PadLeft
				kxLo, kxHi := max(0, -ix0), min(d.KW, d.W-ix0)
				ox1 := ox0 + 1
				for ox1 < d.OW {
					ix := ox1*d.StrideW - d.PadLeft
					if max(0, -ix) != kxLo || min(d.KW, d.W-ix) != kxHi {
						break
					}
					ox1++
				}
				inTaps, accTaps = inTaps[:0], accTaps[:0]
				base := ((n*d.H+iy0)*d.W + ix0) * c // of tap (0, 0): may lie outside, unlike every tap kept
				last := 0
				for ky := kyLo; ky < kyHi; ky++ {
					for kx := kxLo; kx < kxHi; kx++ {
						last = base + (ky*d.W+kx)*c
						inTaps = append(inTaps, last)
						accTaps = append(accTaps, (ky*d.KW+kx)*c)
					}
				}
				pixels, inStep, g := ox1-ox0, d.StrideW*c, ((n*d.OH+oy)*d.OW+ox0)*c
				if len(inTaps) > 0 {
					_ = in[last+(pixels-1)*inStep+c-1] // the furthest load of filterRow inside in (the nearest is inTaps[0] >= 0)
					_ = dy[g+pixels*c-1]
					ops.filterRow(acc, in, dy[g:], inTaps, accTaps, pixels, c, inStep)
				}
				ox0 = ox1
			}
		}
	})
	clear(dw[:taps*c])
	for _, p := range partial {
		if p != nil {
			ops.add(dw[:taps*c], p)
		}
	}
}
