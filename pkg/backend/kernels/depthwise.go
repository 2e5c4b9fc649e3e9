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
	_ = w[d.KH*d.KW*d.C-1] // every weight tapRow loads inside w
	// Input dilation (the input gradient of a strided convolution) puts
	// the taps of output column ox on input columns only when
	// ox*StrideW + kx - PadLeft is a multiple of InDilW: that pattern
	// repeats every period columns, so the columns of one phase (ox =
	// phase, phase + period, ...) read the same taps, input columns adv
	// apart. Without dilation there is one phase and adv is StrideW. Each
	// phase's columns go in runs whose taps lie inside the input alike
	// (the edges' columns one by one, the inner run), each run one tapRow
	// over the taps inside: the zeros dilation inserts are never read.
	period := d.InDilW / gcd(d.StrideW, d.InDilW)
	adv := d.StrideW * period / d.InDilW
	// Columns inLo to inHi have every tap inside the input's extent (on an
	// input column or an inserted zero): within a phase they read the same
	// taps, found without testing each column.
	inLo, inHi := (d.PadLeft+d.StrideW-1)/d.StrideW, -1
	if x := (d.W-1)*d.InDilW + d.PadLeft - (d.KW - 1); x >= 0 {
		inHi = x / d.StrideW
	}
	splitUnits(d.N*oh, 1, workers, func(_, lo, hi int) {
		var kys, iys, kxs, ixs, inTaps, wTaps []int
		for r := lo; r < hi; r++ {
			n, oy := r/oh, r%oh
			kys, iys = kys[:0], iys[:0]
			for ky := range d.KH {
				if iy, ok := dilated(oy*d.StrideH+ky-d.PadTop, d.InDilH, d.H); ok {
					kys, iys = append(kys, ky), append(iys, iy)
				}
			}
			for phase := 0; phase < min(period, ow); phase++ {
				for ox0 := phase; ox0 < ow; {
					kxs, ixs = d.columnTaps(kxs[:0], ixs[:0], ox0)
					ox1 := ox0 + period
					for ox0 >= inLo && ox1 <= inHi && ox1 < ow {
						ox1 += period
					}
					inTaps, wTaps = inTaps[:0], wTaps[:0]
					last := 0
					for i, ky := range kys {
						for j, kx := range kxs {
							last = ((n*d.H+iys[i])*d.W + ixs[j]) * d.C
							inTaps = append(inTaps, last)
							wTaps = append(wTaps, (ky*d.KW+kx)*d.C)
						}
					}
					pixels, inStep, outStep, at := (ox1-ox0)/period, adv*d.C, period*d.C, ((n*oh+oy)*ow+ox0)*d.C
					if len(inTaps) > 0 {
						_ = in[last+(pixels-1)*inStep+d.C-1] // the furthest load of tapRow inside in (the nearest is inTaps[0] >= 0)
					}
					_ = out[at+(pixels-1)*outStep+d.C-1]
					ops.tapRow(out[at:], in, w, inTaps, wTaps, pixels, d.C, inStep, outStep)
					ox0 = ox1
				}
			}
		}
	})
}

// columnTaps appends to kxs the kernel columns whose taps of output column
// ox fall on an input column, in order, and to ixs those input columns.
func (d Depthwise) columnTaps(kxs, ixs []int, ox int) ([]int, []int) {
	for kx := range d.KW {
		if ix, ok := dilated(ox*d.StrideW+kx-d.PadLeft, d.InDilW, d.W); ok {
			kxs, ixs = append(kxs, kx), append(ixs, ix)
		}
	}
	return kxs, ixs
}

// dilated maps position i of a dilated axis to the input index it holds,
// or reports that it falls on an inserted zero or outside the input.
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
