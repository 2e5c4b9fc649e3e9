package kernels

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// How Forward works
//
// Work is split into items of (image n, a block of output rows); workers take
// items from a shared counter. For its item a worker first packs the input
// rows the item reads into a private buffer (packInputRows), then walks the
// output rows in tiles of P consecutive output pixels and calls the path's
// micro-kernel once per tile and output-channel block.
//
// The packed input makes every tap look like an interior one, so the
// micro-kernel has no branches: padding is stored as zeros, input channels
// are padded to a multiple of 16, and a stride-s row is split into s column
// phases so that consecutive output pixels always read consecutive 16-float
// groups (see packInputRows). Taps whose input row lies in the top or bottom
// padding are dropped from the step list instead of multiplying zeros.

// step is one (kh, kw, 16-input-channel block) term of a tile's reduction.
//
// Both pointers are ready-made, not base+offset: the kernels then address
// every load as [register+constant] (see gen_kernels.go).
type step struct {
	in unsafe.Pointer // the term's 16 input channels of the tile's first pixel in the packed input
	w  unsafe.Pointer // the term's 16 weight rows in the packed weights (of one output block)
}

// term is a step before it is tied to a tile and an output block: in is its
// offset in the packed input rows from the tile's first pixel, in floats;
// w is the index of its first weight row, (kh*KW+kw)*paddedC + cb*16.
type term struct{ in, w int }

// tileFunc is the micro-kernel contract. It computes a tile of P output
// pixels (P is fixed per function) times one block of output channels:
//
//	tile[p][o] = sum over steps s, ci < 16 of
//	    s.in[64*p + 4*ci] * s.w[ci*rowBytes + 4*o]   (byte offsets)
//
// and stores it, overwriting, at dst + p*dstStride (bytes). rowBytes is 4x
// the block width. The SIMD kernels also store zeros there first, to fetch
// the output lines early, so dst must belong to the caller alone. sink is a
// scratch vector the SIMD kernels store to after every input channel as a
// scheduling barrier; its contents are meaningless.
type tileFunc func(steps []step, dst unsafe.Pointer, dstStride uintptr, sink *[16]float32)

// maxTile bounds the tile width of every path (scratch tiles are this wide).
const maxTile = 16

// packBudget bounds a worker's packed-input buffer, in floats (2 MiB):
// output rows are split into items small enough to fit when rows are wide.
const packBudget = 1 << 19

// geometry is a validated convolution plus the derived sizes the driver uses.
type geometry struct {
	Conv2D
	oh, ow int
	cp, cb int // input channels padded to 16, and their number of 16-blocks
	wq     int // packed columns per stride phase: ceil(padded width / StrideW)
	rowLen int // floats per packed input row: cb * StrideW * wq * 16
	blocks []oBlock
}

func (c Conv2D) geometry() *geometry {
	g := &geometry{Conv2D: c, oh: c.OutH(), ow: c.OutW(), cp: c.paddedC(), blocks: c.oBlocks()}
	g.cb = g.cp / ciBlock
	wp := c.W + c.PadLeft + c.PadRight
	g.wq = (wp + c.StrideW - 1) / c.StrideW
	g.rowLen = g.cb * c.StrideW * g.wq * ciBlock
	return g
}

// Forward computes the convolution out[N,OutH,OutW,O] (contiguous NHWC,
// overwritten, not accumulated) of in[N,H,W,C] (contiguous NHWC) with
// weights packed by PackWeights, splitting the work over up to `workers`
// goroutines (values below 1 mean 1). out must not overlap in or packed.
// It runs on the kernel path reported by Path, and panics if the convolution
// is invalid or a slice is too short.
func (c Conv2D) Forward(out, in, packed []float32, workers int) {
	if err := c.Validate(); err != nil {
		panic(err)
	}
	if len(in) < c.InputSize() {
		panic(fmt.Sprintf("kernels: Conv2D.Forward: input has %d floats, need %d", len(in), c.InputSize()))
	}
	if len(out) < c.OutputSize() {
		panic(fmt.Sprintf("kernels: Conv2D.Forward: output has %d floats, need %d", len(out), c.OutputSize()))
	}
	if len(packed) < c.PackedSize() {
		panic(fmt.Sprintf("kernels: Conv2D.Forward: packed weights have %d floats, need %d (use PackedSize and PackWeights)",
			len(packed), c.PackedSize()))
	}
	g := c.flattened1x1().geometry()
	ks := current.Load()
	rows := g.rowsPerItem(workers)
	chunks := (g.oh + rows - 1) / rows
	items := g.N * chunks
	run := func(w *worker, i int) {
		n, ch := i/chunks, i%chunks
		w.item(g, ks, out, in, packed, n, ch*rows, min(g.oh, (ch+1)*rows))
	}
	workers = max(1, min(workers, items))
	if workers == 1 {
		w := getWorker()
		for i := range items {
			run(w, i)
		}
		workerPool.Put(w)
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			w := getWorker()
			for {
				i := int(next.Add(1)) - 1
				if i >= items {
					break
				}
				run(w, i)
			}
			workerPool.Put(w)
		})
	}
	wg.Wait()
}

// flattened1x1 regroups the H*W pixels of a 1x1, stride-1, unpadded
// convolution into rows of up to 128 pixels (a multiple of W that divides
// H*W): NHWC memory is the same, since every pixel is independent, and
// short rows no longer end in narrow, slower tiles. Rows of that length still
// leave several per image to split among workers.
func (c Conv2D) flattened1x1() Conv2D {
	if c.KH != 1 || c.KW != 1 || c.StrideH != 1 || c.StrideW != 1 ||
		c.PadTop|c.PadBottom|c.PadLeft|c.PadRight != 0 || c.H == 1 {
		return c
	}
	// Keep rows of about 8 tiles: long enough for full tiles, short enough
	// to split an image among workers. Any divisor of H*W keeps the layout.
	hw := c.H * c.W
	best := c.W
	for w := c.W; w <= hw; w += c.W {
		if hw%w == 0 && w <= 128 {
			best = w
		}
	}
	c.W, c.H = best, hw/best
	return c
}

// rowsPerItem picks how many output rows one work item covers: whole images
// when there are enough of them to keep the workers busy, fewer rows when
// the batch is small or a packed row block would not fit packBudget.
func (g *geometry) rowsPerItem(workers int) int {
	r := g.oh
	if target := 4 * workers; workers > 1 && g.N < target {
		chunks := (target + g.N - 1) / g.N
		r = (g.oh + chunks - 1) / chunks
	}
	// Input rows packed for r output rows: (r-1)*StrideH + span of the kernel.
	span := (g.KH-1)*g.DilH + 1
	if fit := (packBudget/g.rowLen-span)/g.StrideH + 1; r > fit {
		r = fit
	}
	r = max(1, r)
	chunks := (g.oh + r - 1) / r
	return (g.oh + chunks - 1) / chunks // even out the chunks
}

// worker is one goroutine's scratch state, pooled across Forward calls.
type worker struct {
	buf      []float32 // packed input rows of the current item
	need     []bool    // which of those rows the item reads
	terms    []term    // the current output row's reduction terms
	steps    [][]step  // the terms tied to each kernel call of a tile
	stepsOw0 int       // the output column the steps point at
	sink     [16]float32
	scratch  [maxTile * 32]float32 // output tile of a block that extends past O
}

var workerPool sync.Pool

func getWorker() *worker {
	if w, ok := workerPool.Get().(*worker); ok {
		return w
	}
	return new(worker)
}

// item computes output rows [oh0, oh1) of image n.
func (w *worker) item(g *geometry, ks *kernelSet, out, in, packed []float32, n, oh0, oh1 int) {
	hp0 := oh0 * g.StrideH // first padded input row the item reads
	nrows := (oh1-1-oh0)*g.StrideH + (g.KH-1)*g.DilH + 1
	if cap(w.buf) < nrows*g.rowLen {
		w.buf = make([]float32, nrows*g.rowLen)
	}
	w.buf = w.buf[:nrows*g.rowLen]
	w.packInputRows(g, in, n, hp0, nrows, oh0, oh1)

	ntiles := (g.ow + ks.maxP - 1) / ks.maxP
	for oh := oh0; oh < oh1; oh++ {
		w.buildSteps(g, ks, packed, oh, hp0)
		ow0 := 0
		for t := range ntiles {
			p := g.ow / ntiles
			if t < g.ow%ntiles {
				p++
			}
			w.tile(g, ks, out, n, oh, ow0, p)
			ow0 += p
		}
	}
}

// buildSteps lists the reduction terms of output row oh, every (kh, kw, cb)
// whose input row is not padding, in the order of the packed weights. It
// writes one step list per kernel call of a tile (per output block, or per
// 16-channel half of a block on a path with halves), pointing at the row's
// first tile; tile moves them along the row.
func (w *worker) buildSteps(g *geometry, ks *kernelSet, packed []float32, oh, hp0 int) {
	w.terms = w.terms[:0]
	for kh := range g.KH {
		hp := oh*g.StrideH + kh*g.DilH
		if h := hp - g.PadTop; h < 0 || h >= g.H {
			continue // the whole tap row is zero padding
		}
		rowOff := (hp - hp0) * g.rowLen
		for kw := range g.KW {
			phase, q := kw*g.DilW%g.StrideW, kw*g.DilW/g.StrideW
			for cb := range g.cb {
				w.terms = append(w.terms, term{
					in: rowOff + ((cb*g.StrideW+phase)*g.wq+q)*ciBlock,
					w:  (kh*g.KW+kw)*g.cp + cb*ciBlock,
				})
			}
		}
	}
	call := 0
	for _, b := range g.blocks {
		for h := 0; h < b.width; h += 16 {
			if call == len(w.steps) {
				w.steps = append(w.steps, nil)
			}
			steps := w.steps[call][:0]
			for _, t := range w.terms {
				steps = append(steps, step{in: unsafe.Pointer(&w.buf[t.in]), w: unsafe.Pointer(&packed[b.off+t.w*b.width+h])})
			}
			w.steps[call] = steps
			call++
			if !ks.halves {
				break // one call covers the whole block
			}
		}
	}
	w.stepsOw0 = 0
}

// tile computes output pixels [ow0, ow0+p) of row oh for every output block.
// Tiles must come in order along the row.
func (w *worker) tile(g *geometry, ks *kernelSet, out []float32, n, oh, ow0, p int) {
	tilesByWidth := [2][]tileFunc{ks.tiles16, ks.tiles32}
	outBase := ((n*g.oh+oh)*g.ow + ow0) * g.O
	shift := uintptr(4 * ciBlock * (ow0 - w.stepsOw0)) // from the previous tile's first pixel to ours
	w.stepsOw0 = ow0
	call := 0
	for _, b := range g.blocks {
		kern := tilesByWidth[b.width/32][p-1]
		valid := min(b.width, g.O-b.co0)
		dst, stride := unsafe.Pointer(&w.scratch[0]), uintptr(4*32)
		if valid == b.width {
			dst, stride = unsafe.Pointer(&out[outBase+b.co0]), uintptr(4*g.O)
		}
		for h := 0; h < b.width; h += 16 {
			steps := w.steps[call]
			call++
			if shift != 0 {
				for i := range steps {
					steps[i].in = unsafe.Add(steps[i].in, shift)
				}
			}
			kern(steps, unsafe.Add(dst, 4*h), stride, &w.sink)
			if !ks.halves {
				break // the kernel covered the whole block
			}
		}
		if valid < b.width {
			for i := range p {
				copy(out[outBase+i*g.O+b.co0:outBase+i*g.O+b.co0+valid], w.scratch[i*32:i*32+valid])
			}
		}
	}
}
