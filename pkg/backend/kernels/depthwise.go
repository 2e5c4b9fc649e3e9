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
	oh, ow, c := d.OutH(), d.OutW(), d.C
	ops := currentRowOps()
	rows := d.N * oh
	// The run of output columns whose taps all lie inside the input, for
	// tapRow: [oxLo, oxHi).
	oxLo, oxHi := 0, 0
	var taps []int
	if ops.tapRow != nil && d.InDilH == 1 && d.InDilW == 1 && d.W+d.PadLeft >= d.KW {
		oxLo = (d.PadLeft + d.StrideW - 1) / d.StrideW
		oxHi = min(ow, (d.W-d.KW+d.PadLeft)/d.StrideW+1)
		for ky := range d.KH {
			for kx := range d.KW {
				taps = append(taps, (ky*d.W+kx)*c)
			}
		}
	}
	splitUnits(rows, 1, workers, func(_, lo, hi int) {
		xs := make([][]float32, 0, d.KH*d.KW)
		ws := make([][]float32, 0, d.KH*d.KW)
		for r := lo; r < hi; r++ {
			n, oy := r/oh, r%oh
			fast := false // columns [oxLo, oxHi) done by tapRow
			if iy0 := oy*d.StrideH - d.PadTop; taps != nil && oxLo < oxHi && iy0 >= 0 && iy0+d.KH <= d.H {
				pixels := oxHi - oxLo
				at := ((n*oh+oy)*ow + oxLo) * c
				base := ((n*d.H+iy0)*d.W + oxLo*d.StrideW - d.PadLeft) * c
				inStep := d.StrideW * c
				_ = in[base+(pixels-1)*inStep+taps[len(taps)-1]+c-1] // every load of tapRow inside in
				_ = out[at+pixels*c-1]
				ops.tapRow(out[at:], in[base:], w, taps, pixels, c, inStep)
				fast = true
			}
			for ox := range ow {
				if fast && ox >= oxLo && ox < oxHi {
					continue
				}
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
	})
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
	// The run of output columns whose taps all lie inside the input, for
	// filterRow: [oxLo, oxHi).
	oxLo, oxHi := 0, 0
	var offs []int
	if ops.filterRow != nil && d.W+d.PadLeft >= d.KW {
		oxLo = (d.PadLeft + d.StrideW - 1) / d.StrideW
		oxHi = min(d.OW, (d.W-d.KW+d.PadLeft)/d.StrideW+1)
		for ky := range d.KH {
			for kx := range d.KW {
				offs = append(offs, (ky*d.W+kx)*c)
			}
		}
	}
	splitUnits(rows, 1, workers, func(wk, lo, hi int) {
		acc := make([]float32, taps*c)
		partial[wk] = acc
		for r := lo; r < hi; r++ {
			n, oy := r/d.OH, r%d.OH
			// Pixels in order: those left of the run, the run, the rest.
			runAt := -1
			if iy0 := oy*d.StrideH - d.PadTop; offs != nil && oxLo < oxHi && iy0 >= 0 && iy0+d.KH <= d.H {
				runAt = oxLo
			}
			for ox := range d.OW {
				if ox == runAt {
					pixels := oxHi - oxLo
					g := ((n*d.OH+oy)*d.OW + oxLo) * c
					base := ((n*d.H+oy*d.StrideH-d.PadTop)*d.W + oxLo*d.StrideW - d.PadLeft) * c
					inStep := d.StrideW * c
					_ = in[base+(pixels-1)*inStep+offs[len(offs)-1]+c-1] // every load of filterRow inside in
					_ = dy[g+pixels*c-1]
					ops.filterRow(acc, in[base:], dy[g:], offs, pixels, c, inStep)
				}
				if runAt >= 0 && ox >= oxLo && ox < oxHi {
					continue
				}
				at := ((n*d.OH+oy)*d.OW + ox) * c
				g := dy[at : at+c]
				for ky := range d.KH {
					iy := oy*d.StrideH + ky - d.PadTop
					if iy < 0 || iy >= d.H {
						continue
					}
					for kx := range d.KW {
						ix := ox*d.StrideW + kx - d.PadLeft
						if ix < 0 || ix >= d.W {
							continue
						}
						at := ((n*d.H+iy)*d.W + ix) * c
						t := (ky*d.KW + kx) * c
						ops.mulAdd(acc[t:t+c], in[at:at+c], g)
					}
				}
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
