package kernels

import (
	"fmt"
	"math"
)

// MaxPool is a max pooling of a channels-last input [N, H, W, C] over
// KH x KW windows moved by StrideH x StrideW, with padding that may differ
// on each side. Padded positions are skipped, not read as values, so a
// window that lies wholly in the padding gives -Inf.
type MaxPool struct {
	N, H, W, C                           int
	KH, KW                               int
	StrideH, StrideW                     int
	PadTop, PadBottom, PadLeft, PadRight int
}

// OutH is the output height.
func (p MaxPool) OutH() int { return (p.H+p.PadTop+p.PadBottom-p.KH)/p.StrideH + 1 }

// OutW is the output width.
func (p MaxPool) OutW() int { return (p.W+p.PadLeft+p.PadRight-p.KW)/p.StrideW + 1 }

// Validate reports why the pooling cannot be computed, or nil.
func (p MaxPool) Validate() error {
	if p.N < 1 || p.H < 1 || p.W < 1 || p.C < 1 || p.KH < 1 || p.KW < 1 || p.StrideH < 1 || p.StrideW < 1 ||
		p.PadTop < 0 || p.PadBottom < 0 || p.PadLeft < 0 || p.PadRight < 0 ||
		p.H+p.PadTop+p.PadBottom < p.KH || p.W+p.PadLeft+p.PadRight < p.KW {
		return fmt.Errorf("kernels: invalid max pooling %+v", p)
	}
	return nil
}

// Disjoint says whether no two windows overlap (each stride at least the
// window), the case Grad covers.
func (p MaxPool) Disjoint() bool { return p.StrideH >= p.KH && p.StrideW >= p.KW }

// Forward computes out [N, OutH, OutW, C] = the maximum of each window of in
// [N, H, W, C], over workers goroutines (split by output rows). The maximum
// is Go's built-in max taken from -Inf in window order: a NaN anywhere in a
// window gives NaN, and +0 wins over -0, as GoMLX's Go backend computes it.
func (p MaxPool) Forward(out, in []float32, workers int) {
	oh, ow, c := p.OutH(), p.OutW(), p.C
	inf := float32(math.Inf(-1))
	splitUnits(p.N*oh, 1, workers, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			n, oy := r/oh, r%oh
			for ox := range ow {
				dst := out[((n*oh+oy)*ow+ox)*c:][:c]
				for i := range dst {
					dst[i] = inf
				}
				p.window(n, oy, ox, func(at int) {
					src := in[at:][:c]
					for i, v := range src {
						dst[i] = max(dst[i], v)
					}
				})
			}
		}
	})
}

// Grad computes dx [N, H, W, C], the gradient of Forward's input, from the
// input in and the output gradient dy [N, OutH, OutW, C], for disjoint
// windows only (Disjoint; it panics otherwise): each window passes its dy to
// the one position it selects and every other position gets 0. The
// selection is GoMLX's Go backend's (SelectAndScatterMax): the first element
// of the window in window order, replaced by a later one that is greater or
// is NaN (so the last NaN when there is one). A passed gradient is written
// as 0 + dy, as the stock op's sum into zeros gives it (-0 becomes +0).
func (p MaxPool) Grad(dx, in, dy []float32, workers int) {
	if !p.Disjoint() {
		panic(fmt.Sprintf("kernels: MaxPool.Grad needs disjoint windows, got %+v", p))
	}
	oh, ow, c := p.OutH(), p.OutW(), p.C
	splitUnits(len(dx), reluChunk, workers, func(_, lo, hi int) { clear(dx[lo:hi]) })
	splitUnits(p.N*oh, 1, workers, func(_, lo, hi int) {
		best := make([]float32, c)
		at := make([]int, c)
		for r := lo; r < hi; r++ {
			n, oy := r/oh, r%oh
			for ox := range ow {
				first := true
				p.window(n, oy, ox, func(pos int) {
					src := in[pos:][:c]
					if first {
						copy(best, src)
						for i := range at {
							at[i] = pos + i
						}
						first = false
						return
					}
					for i, v := range src {
						if v > best[i] || v != v {
							best[i], at[i] = v, pos+i
						}
					}
				})
				if first {
					continue // the window lies in the padding: it selects nothing
				}
				g := dy[((n*oh+oy)*ow+ox)*c:][:c]
				for i, pos := range at {
					dx[pos] += g[i]
				}
			}
		}
	})
}

// window calls visit with the flat offset of channel 0 of each input pixel
// in output pixel (n, oy, ox)'s window, in window order (rows, then
// columns), skipping the padding.
func (p MaxPool) window(n, oy, ox int, visit func(at int)) {
	for ky := range p.KH {
		iy := oy*p.StrideH + ky - p.PadTop
		if iy < 0 || iy >= p.H {
			continue
		}
		for kx := range p.KW {
			ix := ox*p.StrideW + kx - p.PadLeft
			if ix < 0 || ix >= p.W {
				continue
			}
			visit(((n*p.H+iy)*p.W + ix) * p.C)
		}
	}
}
