package kernels

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// How BackwardFilter works
//
// For each tap (kh, kw) the kernel gradient is a matrix product,
// dw[kh,kw] (C x O) = X_tap^T (C x pixels) * dY (pixels x O), where row p of
// X_tap is the input pixel that tap (kh, kw) of output pixel p reads (zero
// on padding). The micro-kernels (filterFunc) accumulate a tile of up to 8
// input channels x 32 output channels in registers, broadcasting input
// values and loading output-gradient vectors, 16 pixels per iteration.
//
// The pixels are processed in chunks (a block of output rows of one image,
// or a few whole images when images are small), each packed into a
// goroutine's buffer so that every tap reads both operands contiguously:
//
//   - the output gradient as [block][pixel][lanes], one 32- (or 16-) lane
//     block of output channels per output pixel, zero past O;
//   - the input once per kernel column kw, as [kw][channel block][row
//     phase][row][column][16], where column ow of copy kw holds input column
//     ow*StrideW + kw*DilW - PadLeft, and row r of row phase ph holds input
//     row (oh0 + r)*StrideH + ph - PadTop: tap (kh, kw) of output row oh is
//     then row oh - oh0 + kh*DilH/StrideH of phase kh*DilH%StrideH of copy kw.
//     Row phases no tap reads (a 1x1 kernel with stride 2 reads one of two)
//     are left out.
//
// Pixels are ordered (row, column, image) in both, so one tap's pixels are a
// single contiguous run in each: the output rows whose tap row is inside
// the input, taken whole. Padding columns are stored as zeros, the only
// multiplications by padding. A run is rounded up to 16 pixels; what the
// rounding reads past it is either output gradient that meets zero input
// (rows below the run are bottom padding for this tap) or zero output
// gradient (16 zero pixels follow each packed block). (Zero output gradient
// times an infinite input there gives NaN, so an Inf or NaN in the input
// can reach a few more sums than the exact definition would.)
//
// Work is split between goroutines in one of two ways, whichever the cost
// estimate in planFilter finds cheaper: by pixels (chunks go to whichever
// goroutine is free, each accumulating into its own copy of dw, added up at
// the end), or by tiles of dw (groups of input-channel and output-channel
// blocks, each computed over every pixel by one goroutine, so no sums need
// adding up, at the price of packing each pixel's data more than once).
// Groups also keep a large dw's sums in cache across chunks, so even one
// goroutine may take them one after the other.

// filterFunc is the weight-gradient micro-kernel contract. It accumulates a
// tile of R input-channel rows x Wd output-channel lanes (R and Wd fixed per
// function) over n groups of 16 pixels:
//
//	dst[i*dstStride + 4j] += sum over q < 16n of x[64q + 4i] * dy[q*rowBytes + 4j]
//
// (byte offsets, i < R, j < Wd). x points at the tile's first channel in a
// packed input (16 channels per pixel), dy at its first lane in a packed
// output-gradient block, whose rowBytes per pixel are 4x the block width
// (128 for the filter32 tables, 64 for filter16). Wd is the block width,
// or 16 on a path with halves. sink is a scratch vector the SIMD kernels
// store to as a scheduling barrier, as for tileFunc. The SIMD kernels
// advance x and dy by 16 pixels per iteration, so x + 1024n and dy +
// 16n*rowBytes must still lie inside their allocations (unsafe.Pointer
// rules): the packed blocks end in 16 spare pixels.
type filterFunc func(x, dy unsafe.Pointer, n int, dst unsafe.Pointer, dstStride uintptr, sink *[16]float32)

// filterBudget bounds the floats of one chunk's packed input and output
// gradient (512 KiB, half an L2 cache of the machines this was tuned on),
// unless a chunk that small would have too few pixels per tap.
const filterBudget = 1 << 17

// filterMinPixels is the fewest output pixels a chunk has when the batch
// allows: each kernel call loads and stores its tile of sums once per chunk.
const filterMinPixels = 512

// filterSumBudget is the most floats of sums one goroutine accumulates into
// (1 MiB) before the planner counts their loads and stores as memory
// traffic: a group of dw tiles that large no longer stays in cache from one
// chunk to the next.
const filterSumBudget = 1 << 18

// filterPlan is a validated convolution plus how BackwardFilter splits it.
type filterPlan struct {
	Conv2D
	oh, ow     int
	dilH, dilW int // input dilation
	cb         int // input-channel blocks of 16
	blocks     []oBlock
	op         int   // floats per row of the sums: the block widths added up
	halo       int   // packed input rows per row phase beyond a chunk's output rows
	phase      []int // packed position of each row phase, -1 for the phases no tap reads
	nph        int   // row phases some tap reads

	nb, rows         int // images and output rows per chunk (rows < oh only with nb = 1)
	chunksN, chunksH int // chunks along the batch and along the rows

	byPixels bool     // split by chunks with per-goroutine sums, not by groups
	groups   []fgroup // tiles of dw; a single group when byPixels
}

// fgroup is a tile of dw: input-channel blocks [cb0, cb1) x output blocks
// [ob0, ob1).
type fgroup struct{ cb0, cb1, ob0, ob1 int }

// chunk is one block of pixels: images [n0, n0+nb), output rows [oh0, oh0+rows).
type chunk struct{ n0, nb, oh0, rows int }

func (p *filterPlan) chunkAt(i int) chunk {
	cn, ch := i/p.chunksH, i%p.chunksH
	ck := chunk{n0: cn * p.nb, oh0: ch * p.rows}
	ck.nb = min(p.nb, p.N-ck.n0)
	ck.rows = min(p.rows, p.oh-ck.oh0)
	return ck
}

// BackwardFilter computes the kernel gradient of the convolution c,
//
//	dw[kh,kw,ci,co] = sum over n, oh, ow of
//	    inD[n, oh*StrideH + kh*DilH - PadTop, ow*StrideW + kw*DilW - PadLeft, ci] * dy[n,oh,ow,co]
//
// with inD the padded, dilated input as in Conv2D (terms outside the input
// are zero). in is NHWC [N,H,W,C], dy is [N,OutH(),OutW(),O] contiguous and
// dw is [KH,KW,C,O] contiguous (HWIO), overwritten. The work is split over
// up to `workers` goroutines (values below 1 mean 1). It runs on the kernel
// path reported by Path and panics if the convolution is invalid or a slice
// is too short. Sums are float32, accumulated per chunk of pixels and then
// across chunks, in an order fixed by the shapes and the number of workers:
// the same call gives the same bits. With input dilation the inserted zeros are multiplied like
// data: correct, but not faster than materialising them.
func (c Conv2D) BackwardFilter(dw, in, dy []float32, workers int) {
	if err := c.Validate(); err != nil {
		panic(err)
	}
	if len(in) < c.InputSize() {
		panic(fmt.Sprintf("kernels: Conv2D.BackwardFilter: input has %d floats, need %d", len(in), c.InputSize()))
	}
	if len(dy) < c.OutputSize() {
		panic(fmt.Sprintf("kernels: Conv2D.BackwardFilter: output gradient has %d floats, need %d", len(dy), c.OutputSize()))
	}
	nw := c.KH * c.KW * c.C * c.O
	if len(dw) < nw {
		panic(fmt.Sprintf("kernels: Conv2D.BackwardFilter: kernel gradient has %d floats, need %d", len(dw), nw))
	}
	workers = max(1, workers)
	p := c.cachedPlanFilter(workers)
	ks := current.Load()
	nsums := c.KH * c.KW * c.C * p.op // floats of one copy of the sums
	chunks := p.chunksN * p.chunksH

	if p.byPixels {
		workers = min(workers, chunks)
		// Goroutine 0 sums straight into dw when its rows have no padding.
		direct := p.op == c.O
		parts := make([][]float32, workers)
		fws := make([]*filterWorker, workers)
		// Each goroutine takes a fixed, contiguous range of chunks, so that
		// every partial sum, and so the result, is the same on every call
		// (with the same number of workers): a training run must resume
		// bit for bit from a checkpoint.
		per := (chunks + workers - 1) / workers
		runWorkers(workers, func(wi int) {
			fw := getFilterWorker()
			fws[wi] = fw
			sums := dw[:nw]
			if wi > 0 || !direct {
				sums = fw.sumsBuf(nsums)
			}
			clear(sums)
			parts[wi] = sums
			for i := wi * per; i < min(chunks, (wi+1)*per); i++ {
				fw.run(p, ks, sums, in, dy, p.chunkAt(i), p.groups[0])
			}
		})
		// Add the copies up into dw, by rows of dw.
		parallelRows(workers, c.KH*c.KW*c.C, nw*workers >= 1<<16, func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				d := dw[r*c.O : (r+1)*c.O]
				if !direct {
					copy(d, parts[0][r*p.op:])
				}
				for _, part := range parts[1:] {
					addTo(d, part[r*p.op:])
				}
			}
		})
		for _, fw := range fws {
			filterPool.Put(fw)
		}
		return
	}

	// By groups: every goroutine sums its groups' tiles into one shared copy,
	// dw itself when its rows have no padding.
	sums := dw[:nw]
	var padded *filterWorker
	if p.op != c.O {
		padded = getFilterWorker()
		sums = padded.sumsBuf(nsums)
	}
	clear(sums)
	var next atomic.Int64
	runWorkers(min(workers, len(p.groups)), func(int) {
		fw := getFilterWorker()
		for {
			gi := int(next.Add(1)) - 1
			if gi >= len(p.groups) {
				break
			}
			for i := range chunks {
				fw.run(p, ks, sums, in, dy, p.chunkAt(i), p.groups[gi])
			}
		}
		filterPool.Put(fw)
	})
	if padded != nil {
		for r := range c.KH * c.KW * c.C {
			copy(dw[r*c.O:(r+1)*c.O], sums[r*p.op:r*p.op+c.O])
		}
		filterPool.Put(padded)
	}
}

// runWorkers runs body(0), ..., body(workers-1), concurrently when workers > 1.
func runWorkers(workers int, body func(wi int)) {
	if workers <= 1 {
		body(0)
		return
	}
	var wg sync.WaitGroup
	for wi := range workers {
		wg.Go(func() { body(wi) })
	}
	wg.Wait()
}

// parallelRows calls f on consecutive ranges of [0, rows), split over the
// workers when parallel is true.
func parallelRows(workers, rows int, parallel bool, f func(r0, r1 int)) {
	if !parallel || workers <= 1 {
		f(0, rows)
		return
	}
	per := (rows + workers - 1) / workers
	runWorkers(workers, func(wi int) {
		if r0 := wi * per; r0 < rows {
			f(r0, min(rows, r0+per))
		}
	})
}

// addTo adds src to dst element-wise.
func addTo(dst, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}

// filterPlans holds planFilter's result per convolution and goroutine
// count. The search over groupings costs as much as a small layer's
// gradient (512 candidates for 512 channels): run on every call it took 4%
// of a ResNet-18 training step at batch 32 (2026-12-03). A model has a few
// dozen convolution shapes, so the map stays small.
var filterPlans sync.Map // filterPlanKey -> *filterPlan

type filterPlanKey struct {
	c       Conv2D
	workers int
}

// cachedPlanFilter is planFilter, computed once per convolution and
// goroutine count. The plan is never changed after planning.
func (c Conv2D) cachedPlanFilter(workers int) *filterPlan {
	key := filterPlanKey{c, workers}
	if p, ok := filterPlans.Load(key); ok {
		return p.(*filterPlan)
	}
	p, _ := filterPlans.LoadOrStore(key, c.planFilter(workers))
	return p.(*filterPlan)
}

// planFilter picks the chunk size and the way work is split for the given
// number of goroutines.
func (c Conv2D) planFilter(workers int) *filterPlan {
	p := &filterPlan{Conv2D: c, oh: c.OutH(), ow: c.OutW(), dilH: c.inDilH(), dilW: c.inDilW(),
		cb: c.paddedC() / ciBlock, blocks: c.oBlocks()}
	for _, b := range p.blocks {
		p.op += b.width
	}
	p.halo = (c.KH - 1) * c.DilH / c.StrideH
	p.phase = make([]int, c.StrideH)
	for ph := range p.phase {
		p.phase[ph] = -1
	}
	for kh := range c.KH {
		if ph := kh * c.DilH % c.StrideH; p.phase[ph] < 0 {
			p.phase[ph] = 0
		}
	}
	for ph, used := range p.phase {
		if used == 0 {
			p.phase[ph] = p.nph
			p.nph++
		}
	}

	// Costs in cycles of one core, roughly as measured: 32 multiply-add
	// lanes a cycle (two AVX-512 FMAs), a cycle per float packed (packing
	// streams the input and output gradient from memory, again for each
	// group that packs them), a cycle per float of sums cleared or added
	// up, and, when a goroutine's sums do not stay in its L2 cache (over
	// filterSumBudget), a quarter cycle per float of sums per chunk for the
	// kernels' loads and stores of them.
	pixels := float64(c.N * p.oh * p.ow)
	xFloats := c.KW * p.nph * ciBlock // packed input floats per output pixel and channel block
	sumFloats := float64(c.KH * c.KW * c.C * p.op)
	wf := float64(workers)
	type size struct{ lanes, pack, sums float64 }
	sizeOf := func(g fgroup) size {
		w := 0
		for _, b := range p.blocks[g.ob0:g.ob1] {
			w += b.width
		}
		ncb := g.cb1 - g.cb0
		return size{
			lanes: pixels * float64(c.KH*c.KW*ncb*ciBlock*w),
			pack:  pixels * float64(xFloats*ncb+w),
			sums:  float64(c.KH * c.KW * min(c.C, ncb*ciBlock) * w),
		}
	}
	sumCost := func(sums float64, chunks int) float64 {
		if sums <= filterSumBudget {
			return 0
		}
		return 0.25 * sums * float64(chunks)
	}
	all := fgroup{0, p.cb, 0, len(p.blocks)}
	// By pixels.
	p.byPixels, p.groups = true, []fgroup{all}
	p.chunking(workers)
	sz := sizeOf(all)
	best := sz.lanes/32/wf + sz.pack/wf + sumCost(sumFloats, p.chunksN*p.chunksH)/wf + sumFloats*(wf+2)/wf
	if workers == 1 {
		best -= sumFloats * 2 // one copy of the sums: nothing to add up
	}
	// By groups: each goroutine takes the next group and runs it over all
	// chunks; the groups pack their own blocks of every pixel.
	byPixels := *p
	nob := len(p.blocks)
	for gc := 1; gc <= p.cb; gc++ {
		for gob := 1; gob <= nob; gob++ {
			// At least two groups per goroutine, for the free ones to even
			// out a slow one (other processes share these cores).
			if g := gc * gob; g < min(2*workers, p.cb*nob) || g < 2 || g > 256 {
				continue
			}
			q := byPixels
			q.byPixels, q.groups = false, splitGroups(p.cb, nob, gc, gob)
			q.chunking(workers)
			finish := make([]float64, workers)
			for _, g := range q.groups {
				w := 0
				for i := range finish {
					if finish[i] < finish[w] {
						w = i
					}
				}
				sz := sizeOf(g)
				finish[w] += sz.lanes/32 + sz.pack + sumCost(sz.sums, q.chunksN*q.chunksH)
			}
			cost := sumFloats
			for _, f := range finish {
				cost = max(cost, f+sumFloats)
			}
			if cost < best {
				best = cost
				*p = q
			}
		}
	}
	return p
}

// chunking sizes the chunks: as many pixels as the packed data of the
// largest group allows within filterBudget, but at least filterMinPixels
// when the batch has them, and, split by pixels, enough chunks for every
// goroutine to have several.
func (p *filterPlan) chunking(workers int) {
	perPixel := 0 // packed floats per output pixel of the largest group
	for _, g := range p.groups {
		w := 0
		for _, b := range p.blocks[g.ob0:g.ob1] {
			w += b.width
		}
		perPixel = max(perPixel, p.KW*p.nph*ciBlock*(g.cb1-g.cb0)+w)
	}
	target := max(filterMinPixels, filterBudget/perPixel)
	if p.byPixels && workers > 1 {
		target = min(target, max(1, p.N*p.oh*p.ow/(4*workers)))
	}
	img := p.oh * p.ow
	if img >= target {
		p.nb, p.chunksN = 1, p.N
		p.rows = max(1, target/p.ow)
		p.chunksH = (p.oh + p.rows - 1) / p.rows
		p.rows = (p.oh + p.chunksH - 1) / p.chunksH
	} else {
		p.nb = min(p.N, max(1, target/img))
		p.chunksN = (p.N + p.nb - 1) / p.nb
		p.nb = (p.N + p.chunksN - 1) / p.chunksN
		p.rows, p.chunksH = p.oh, 1
	}
}

// splitGroups splits cb input-channel blocks and nob output blocks into
// gc x gob nearly equal groups.
func splitGroups(cb, nob, gc, gob int) []fgroup {
	var gs []fgroup
	for i := range gc {
		for j := range gob {
			gs = append(gs, fgroup{cb0: i * cb / gc, cb1: (i + 1) * cb / gc, ob0: j * nob / gob, ob1: (j + 1) * nob / gob})
		}
	}
	return gs
}

// filterWorker is one goroutine's scratch state, pooled across calls.
type filterWorker struct {
	buf    []float32 // the current chunk's packed input and output gradient
	sums   []float32 // a private copy of the sums, when the split needs one
	srcW   []int     // input column of each packed column of each kw copy, -1 for padding
	subOff []int     // offsets of the packed input's copies and blocks in buf
	dyOff  []int     // offset in buf of each packed output-gradient block
	sink   [16]float32
}

var filterPool sync.Pool

func getFilterWorker() *filterWorker {
	if w, ok := filterPool.Get().(*filterWorker); ok {
		return w
	}
	return new(filterWorker)
}

func (w *filterWorker) sumsBuf(n int) []float32 {
	if cap(w.sums) < n {
		w.sums = make([]float32, n)
	}
	return w.sums[:n]
}

// run adds group g's share of the sums of chunk ck to sums, laid out
// [kh][kw][ci][op].
func (w *filterWorker) run(p *filterPlan, ks *kernelSet, sums, in, dy []float32, ck chunk, g fgroup) {
	rowPix := p.ow * ck.nb // pixels per packed row
	nq := ck.rows + p.halo // packed input rows per row phase
	xSub := (nq*rowPix + 16) * ciBlock
	ncb := g.cb1 - g.cb0
	xLen := p.KW * ncb * p.nph * xSub
	total := xLen
	w.dyOff = w.dyOff[:0]
	for _, b := range p.blocks[g.ob0:g.ob1] {
		w.dyOff = append(w.dyOff, total)
		total += (ck.rows*rowPix + 16) * b.width
	}
	if cap(w.buf) < total {
		w.buf = make([]float32, total)
	}
	buf := w.buf[:total]
	w.packDy(p, buf, dy, ck, g, rowPix)
	w.packIn(p, buf[:xLen], in, ck, g, rowPix, nq, xSub)

	byWidth := [2][]filterFunc{ks.filter16, ks.filter32}
	for bi, b := range p.blocks[g.ob0:g.ob1] {
		kerns := byWidth[b.width/32]
		for kw := range p.KW {
			for cbl := range ncb {
				ci0 := (g.cb0 + cbl) * ciBlock
				valid := min(ciBlock, p.C-ci0)
				ntiles := (valid + len(kerns) - 1) / len(kerns) // the table's tallest tile
				for kh := range p.KH {
					// Output rows of the chunk whose tap row is inside the
					// (dilated) input: hd = oh*StrideH + kh*DilH - PadTop in
					// [0, dilatedH).
					base := kh*p.DilH - p.PadTop
					lo := max(ck.oh0, ceilDiv(-base, p.StrideH))
					hi := min(ck.oh0+ck.rows, floorDiv(p.dilatedH()-1-base, p.StrideH)+1)
					if lo >= hi {
						continue
					}
					steps := ((hi-lo)*rowPix + 15) / 16
					ph, dq := kh*p.DilH%p.StrideH, kh*p.DilH/p.StrideH
					xOff := ((kw*ncb+cbl)*p.nph+p.phase[ph])*xSub + (lo-ck.oh0+dq)*rowPix*ciBlock
					dyOff := w.dyOff[bi] + (lo-ck.oh0)*rowPix*b.width
					tap := kh*p.KW + kw
					row0 := 0
					for t := range ntiles {
						rows := valid / ntiles
						if t < valid%ntiles {
							rows++
						}
						kern := kerns[rows-1]
						xp := unsafe.Pointer(&buf[xOff+row0])
						dst := unsafe.Pointer(&sums[(tap*p.C+ci0+row0)*p.op+b.co0])
						for h := 0; h < b.width; h += 16 {
							kern(xp, unsafe.Pointer(&buf[dyOff+h]), steps, unsafe.Add(dst, 4*h), uintptr(4*p.op), &w.sink)
							if !ks.halves {
								break // the kernel covered the whole block
							}
						}
						row0 += rows
					}
				}
			}
		}
	}
}

// packDy copies the chunk's output gradient for group g's output blocks
// into buf: per block, pixel (row r, column ow, image i) at
// ((r*OW + ow)*nb + i) * width, zero past O, then 16 zero pixels.
func (w *filterWorker) packDy(p *filterPlan, buf, dy []float32, ck chunk, g fgroup, rowPix int) {
	blocks := p.blocks[g.ob0:g.ob1]
	rowLen := p.ow * p.O
	for i := range ck.nb {
		for r := range ck.rows {
			src := dy[((ck.n0+i)*p.oh+ck.oh0+r)*rowLen:][:rowLen]
			pix0 := r*rowPix + i // the row's first pixel
			for bi, b := range blocks {
				d := w.dyOff[bi] + pix0*b.width
				stride := ck.nb * b.width // floats from one pixel of the row to the next
				if b.co0+b.width <= p.O {
					_ = buf[d+(p.ow-1)*stride+b.width-1]
					for j := 0; j < b.width; j += 16 {
						copyGroups(unsafe.Pointer(&buf[d+j]), unsafe.Pointer(&src[b.co0+j]), p.ow,
							uintptr(4*stride), uintptr(4*p.O))
					}
					continue
				}
				for ow := range p.ow { // the last block, past O
					dd := buf[d+ow*stride : d+ow*stride+b.width]
					n := copy(dd, src[ow*p.O+b.co0:(ow+1)*p.O])
					clear(dd[n:])
				}
			}
		}
	}
	for bi, b := range blocks {
		o := w.dyOff[bi] + ck.rows*rowPix*b.width
		clear(buf[o : o+16*b.width])
	}
}

// packIn copies the chunk's input for group g's channel blocks into buf, one
// copy per kernel column kw: copy kw, block cbl, row phase ph holds at
// ((r*OW + ow)*nb + i) * 16 the 16 channels of the dilated, padded input at
// row (oh0 + r)*StrideH + ph, column ow*StrideW + kw*DilW (zeros for padding
// and inserted zeros), followed by 16 zero pixels.
func (w *filterWorker) packIn(p *filterPlan, buf, in []float32, ck chunk, g fgroup, rowPix, nq, xSub int) {
	ncb := g.cb1 - g.cb0
	// Channel blocks [0, nfull) of the group are whole, the others (the
	// last block of the input, when C is not a multiple of 16) partial.
	nfull := max(0, min(ncb, p.C/ciBlock-g.cb0))
	if cap(w.subOff) < p.KW*ncb {
		w.subOff = make([]int, p.KW*ncb)
	}
	subOff := w.subOff[:p.KW*ncb] // where copy kw, block cbl of the current row phase starts
	if cap(w.srcW) < p.KW*p.ow {
		w.srcW = make([]int, p.KW*p.ow)
	}
	srcW := w.srcW[:p.KW*p.ow] // input column of output column ow in copy kw, at kw*OW + ow; -1 for zeros
	for kw := range p.KW {
		for ow := range p.ow {
			srcW[kw*p.ow+ow] = srcIndex(ow*p.StrideW+kw*p.DilW-p.PadLeft, p.dilW, p.W)
		}
	}
	stride := ck.nb * ciBlock // floats from one packed column to the next
	for ph := range p.StrideH {
		if p.phase[ph] < 0 {
			continue // no tap reads these rows
		}
		for kc := range subOff {
			subOff[kc] = (kc*p.nph + p.phase[ph]) * xSub
		}
		for r := range nq {
			rowOff := r * rowPix * ciBlock
			h := srcIndex((ck.oh0+r)*p.StrideH+ph-p.PadTop, p.dilH, p.H)
			if h < 0 {
				for _, o := range subOff {
					clear(buf[o+rowOff : o+rowOff+rowPix*ciBlock])
				}
				continue
			}
			for i := range ck.nb {
				src := in[((ck.n0+i)*p.H+h)*p.W*p.C : ((ck.n0+i)*p.H+h+1)*p.W*p.C]
				for kw := range p.KW {
					cols := srcW[kw*p.ow : (kw+1)*p.ow]
					for cbl, o := range subOff[kw*ncb : (kw+1)*ncb] {
						d := o + rowOff + i*ciBlock // column 0
						ci0 := (g.cb0 + cbl) * ciBlock
						// Without input dilation the input columns of a
						// copy are a run between padding columns.
						ow := 0
						for ow < p.ow && cols[ow] < 0 {
							*(*[ciBlock]float32)(buf[d+ow*stride:]) = [ciBlock]float32{}
							ow++
						}
						if cbl < nfull && p.dilW == 1 {
							run := 0
							for ow+run < p.ow && cols[ow+run] >= 0 {
								run++
							}
							if run > 0 {
								_ = buf[d+(ow+run-1)*stride+ciBlock-1]
								_ = src[cols[ow+run-1]*p.C+ci0+ciBlock-1]
								copyGroups(unsafe.Pointer(&buf[d+ow*stride]), unsafe.Pointer(&src[cols[ow]*p.C+ci0]), run,
									uintptr(4*stride), uintptr(4*p.StrideW*p.C))
								ow += run
							}
						}
						for ; ow < p.ow; ow++ {
							dd := (*[ciBlock]float32)(buf[d+ow*stride:])
							switch x := cols[ow]; {
							case x < 0:
								*dd = [ciBlock]float32{}
							case cbl < nfull:
								copy16(dd, (*[ciBlock]float32)(src[x*p.C+ci0:]))
							default: // the last, partial channel block
								n := copy(dd[:], src[x*p.C+ci0:(x+1)*p.C])
								clear(dd[n:])
							}
						}
					}
				}
			}
		}
	}
	for i := range p.KW * ncb * p.nph {
		clear(buf[i*xSub+nq*rowPix*ciBlock : (i+1)*xSub])
	}
}

// srcIndex maps a coordinate of the padded, dilated input (padding already
// subtracted) to the input row or column it holds, or -1 for padding and
// inserted zeros.
func srcIndex(i, dil, size int) int {
	if i < 0 || i%dil != 0 || i/dil >= size {
		return -1
	}
	return i / dil
}
