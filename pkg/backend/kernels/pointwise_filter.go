package kernels

import (
	"fmt"
	"sync"
)

// BackwardFilter computes the kernel gradient of the 1x1 convolution,
// dw[c][o] = sum over pixels p of x[p][c] * dy[p][o], for dw of C x O (the
// [1, 1, C, O] kernel's layout), x of Pixels x C and dy of Pixels x O, read
// in place. Conv2D.BackwardFilter packs both operands into 16-channel blocks
// first, which on MobileNetV2's 12- and 72-channel operands costs more than
// the products.
//
// The pixels are cut into fixed chunks, each summed in pixel order (with
// fused multiply-adds on the SIMD paths) into a partial gradient of its own,
// and the partials are added in chunk order: the result is the same for any
// number of workers.
func (pw Pointwise) BackwardFilter(dw, x, dy []float32, workers int) {
	if err := pw.Validate(); err != nil {
		panic(err)
	}
	if len(dw) < pw.C*pw.O || len(x) < pw.Pixels*pw.C || len(dy) < pw.Pixels*pw.O {
		panic(fmt.Sprintf("kernels: Pointwise.BackwardFilter %+v given slices of %d, %d and %d", pw, len(dw), len(x), len(dy)))
	}
	chunk := pw.filterChunk()
	chunks := (pw.Pixels + chunk - 1) / chunk
	ops := pw.C * pw.filterOPad()
	partials := getFilterPartials(chunks * ops)
	defer filterPartials.Put(partials)
	rows := currentPointwiseFilter()
	splitUnits(chunks, 1, workers, func(_, lo, hi int) {
		tile := getFilterTile(pwTileRows * pw.filterOPad())
		defer filterTiles.Put(tile)
		for i := lo; i < hi; i++ {
			part := (*partials)[i*ops : (i+1)*ops]
			clear(part)
			rows(pw, part, *tile, x, dy, i*chunk, min(pw.Pixels, (i+1)*chunk))
		}
	})
	// dw[c][o] = partial 0 + partial 1 + ..., in chunk order.
	op := pw.filterOPad()
	parallelRows(workers, pw.C, chunks*ops >= 1<<16, func(c0, c1 int) {
		for c := c0; c < c1; c++ {
			d := dw[c*pw.O : (c+1)*pw.O]
			copy(d, (*partials)[c*op:])
			for i := 1; i < chunks; i++ {
				addTo(d, (*partials)[i*ops+c*op:])
			}
		}
	})
}

// pwTileRows is the pixels of dy copied at a time into a tile padded to
// whole 8-lane vectors (a few KB: it stays in L1 while every input channel
// reads it).
const pwTileRows = 64

// filterOPad is O rounded up to 8-lane vectors: the partials' and the
// tile's row length.
func (pw Pointwise) filterOPad() int { return (pw.O + 7) / 8 * 8 }

// filterChunk is the pixels of one partial gradient: at least 1024, and no
// more than 256 partials.
func (pw Pointwise) filterChunk() int {
	return max(1024, (pw.Pixels+255)/256)
}

var (
	filterPartials sync.Pool // *[]float32
	filterTiles    sync.Pool // *[]float32
)

func getFilterPartials(n int) *[]float32 { return getSlice(&filterPartials, n) }
func getFilterTile(n int) *[]float32     { return getSlice(&filterTiles, n) }

// getSlice takes a slice of at least n floats from a pool (or makes one).
func getSlice(pool *sync.Pool, n int) *[]float32 {
	if p, ok := pool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n)
	return &s
}

// pointwiseFilterRows adds pixels [lo, hi) into part (C rows of
// filterOPad), using tile (pwTileRows x filterOPad) for dy.
type pointwiseFilterRows func(pw Pointwise, part, tile, x, dy []float32, lo, hi int)

func currentPointwiseFilter() pointwiseFilterRows {
	if f := simdPointwiseFilter(Path()); f != nil {
		return f
	}
	return genericPointwiseFilter
}

// fillTile copies dy's pixels [p0, p1) into tile rows of op floats, zero
// past O.
func fillTile(pw Pointwise, tile, dy []float32, p0, p1, op int) {
	for p := p0; p < p1; p++ {
		row := tile[(p-p0)*op : (p-p0+1)*op]
		copy(row, dy[p*pw.O:(p+1)*pw.O])
		clear(row[pw.O:])
	}
}

// genericPointwiseFilter is plain Go: each product rounded to float32 before
// it is added (no FMA), pixels in order.
func genericPointwiseFilter(pw Pointwise, part, tile, x, dy []float32, lo, hi int) {
	op := pw.filterOPad()
	for p0 := lo; p0 < hi; p0 += pwTileRows {
		p1 := min(hi, p0+pwTileRows)
		fillTile(pw, tile, dy, p0, p1, op)
		for c := range pw.C {
			acc := part[c*op : (c+1)*op]
			for p := p0; p < p1; p++ {
				v := x[p*pw.C+c]
				row := tile[(p-p0)*op : (p-p0+1)*op]
				for o := range acc {
					acc[o] += float32(v * row[o])
				}
			}
		}
	}
}
