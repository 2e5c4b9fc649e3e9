package kernels

import (
	"fmt"
	"math"
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
//
// A convolution with input dilation is split into output phases (see
// dimPhases and phaseSet), each an ordinary convolution of the undilated
// input with some of the kernel's taps, whose output pixels are spread out
// in the real output: a tile's pixels are then colMul output pixels apart,
// which the kernels' output stride absorbs. One packing of the input rows
// serves every phase of an item.

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

// geometry is a validated convolution without input dilation plus the
// derived sizes the driver uses. For a convolution with input dilation it is
// one output phase of it (see phaseSet): a convolution of the
// undilated input with a subset of the kernel's taps, whose outputs are
// every rowMul-th row and colMul-th column of the real output.
type geometry struct {
	Conv2D
	oh, ow int
	cp, cb int // input channels padded to 16, and their number of 16-blocks
	wq     int // packed columns per stride phase: ceil(padded width / StrideW)
	rowLen int // floats per packed input row: cb * StrideW * wq * 16
	blocks []oBlock

	// Where the taps are in the packed weights: tap (kh, kw) of this
	// convolution is tap (tapH0 + kh*tapHStep, tapW0 + kw*tapWStep) of a
	// kernel packed with width wKW. Where its input is: padded row hp and
	// column wp of this convolution are row hp + rowShift and column
	// wp + colShift of the packed input (see phaseSet).
	wKW                              int
	tapH0, tapHStep, tapW0, tapWStep int
	rowShift, colShift               int
	outH, outW                       int  // the output tensor's height and width
	rowOff, rowMul, colOff, colMul   int  // output (oh, ow) is tensor row rowOff + oh*rowMul, column colOff + ow*colMul
	zero                             bool // no tap ever lands on an input pixel: the outputs are zeros
}

func (c Conv2D) geometry() *geometry {
	oh, ow := c.OutH(), c.OutW()
	g := &geometry{Conv2D: c, oh: oh, ow: ow, cp: c.paddedC(), blocks: c.oBlocks(),
		wKW: c.KW, tapHStep: 1, tapWStep: 1, outH: oh, outW: ow, rowMul: 1, colMul: 1}
	g.cb = g.cp / ciBlock
	wp := c.W + c.PadLeft + c.PadRight
	g.wq = (wp + c.StrideW - 1) / c.StrideW
	g.rowLen = g.cb * c.StrideW * g.wq * ciBlock
	return g
}

// dimPhase is one output phase of one spatial axis of an input-dilated
// convolution: the outputs off + m*mul, m < n, see only the kernel taps
// k0 + j*kStep, j < k, and those read undilated input m*stride + j*dil - pad.
type dimPhase struct {
	off, mul, n      int
	k0, kStep, k     int // k = 0: every tap of these outputs lands on an inserted zero
	stride, dil, pad int
}

// dimPhases splits one axis of an input-dilated convolution (output size
// out, kernel size kernel with dilation dil, stride, padding pad in front of
// the dilated input, input dilation inDil) into output phases.
//
// Output o, tap k reads dilated input i = o*stride + k*dil - pad, an input
// pixel only when i is a multiple of inDil. Whether it is depends on o only
// through o mod mul, mul = inDil/gcd(stride, inDil), and then holds for the
// taps k = k0 (mod inDil/gcd(dil, inDil)). Within a phase, input i/inDil
// moves by stride/gcd(stride, inDil) per output and by dil/gcd(dil, inDil)
// per tap: each phase is an ordinary convolution of the undilated input.
func dimPhases(out, kernel, dil, stride, pad, inDil int) []dimPhase {
	mul := inDil / gcd(stride, inDil)
	kStep := inDil / gcd(dil, inDil)
	var ps []dimPhase
	for off := range min(mul, out) {
		p := dimPhase{off: off, mul: mul, n: (out - off + mul - 1) / mul, kStep: kStep,
			stride: stride / gcd(stride, inDil), dil: dil / gcd(dil, inDil)}
		for k := range min(kernel, kStep) {
			if i := off*stride + k*dil - pad; mod(i, inDil) == 0 {
				p.k0, p.k, p.pad = k, (kernel-k+kStep-1)/kStep, -floorDiv(i, inDil)
				break
			}
		}
		ps = append(ps, p)
	}
	return ps
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// A phaseSet is the convolutions Forward computes from one packing of the
// input rows: a convolution without input dilation alone (pack is then that
// convolution itself), or every output phase of one with input dilation.
// The phases all have the same strides and kernel dilations, so one packed
// layout serves them all, with the largest of their top and left paddings:
// each phase reads it shifted by rowShift and colShift.
type phaseSet struct {
	pack   *geometry   // the packed input's layout: H, W, C, strides, PadTop, PadLeft, wq, rowLen, cb
	phases []*geometry // by row phase, then column phase
	oh     int         // rows of the tallest phase: items split these
	// Packed rows read by phase row m: from m*StrideH + minShift to
	// m*StrideH + reach at most.
	minShift, reach int
}

// plainSet is the phase set of a convolution without input dilation.
func (c Conv2D) plainSet() *phaseSet {
	g := c.flattened1x1().geometry()
	return &phaseSet{pack: g, phases: []*geometry{g}, oh: g.oh, reach: (g.KH - 1) * g.DilH}
}

// phaseSet splits a convolution with input dilation into one geometry per
// output phase (row phase x column phase), each an ordinary convolution of
// the undilated input over the taps that can land on input pixels. A phase
// whose taps all land on inserted zeros is marked zero.
func (c Conv2D) phaseSet() *phaseSet {
	oh, ow := c.OutH(), c.OutW()
	blocks := c.oBlocks()
	set := &phaseSet{}
	var gs []*geometry
	for _, ph := range dimPhases(oh, c.KH, c.DilH, c.StrideH, c.PadTop, c.inDilH()) {
		for _, pw := range dimPhases(ow, c.KW, c.DilW, c.StrideW, c.PadLeft, c.inDilW()) {
			sub := Conv2D{N: c.N, H: c.H, W: c.W, C: c.C, O: c.O,
				KH: max(1, ph.k), KW: max(1, pw.k),
				StrideH: ph.stride, StrideW: pw.stride, DilH: ph.dil, DilW: pw.dil,
				PadTop: ph.pad, PadLeft: pw.pad}
			// The far padding that gives exactly the phase's n outputs.
			sub.PadBottom = (ph.n-1)*sub.StrideH + sub.DilH*(sub.KH-1) + 1 - c.H - sub.PadTop
			sub.PadRight = (pw.n-1)*sub.StrideW + sub.DilW*(sub.KW-1) + 1 - c.W - sub.PadLeft
			g := sub.geometry()
			g.blocks = blocks
			g.wKW = c.KW
			g.tapH0, g.tapHStep, g.tapW0, g.tapWStep = ph.k0, ph.kStep, pw.k0, pw.kStep
			g.outH, g.outW = oh, ow
			g.rowOff, g.rowMul, g.colOff, g.colMul = ph.off, ph.mul, pw.off, pw.mul
			g.zero = ph.k == 0 || pw.k == 0
			gs = append(gs, g)
			set.oh = max(set.oh, g.oh)
		}
	}
	set.phases = gs
	// The shared packing: the largest top and left paddings, and enough
	// columns for every phase.
	pk := Conv2D{N: c.N, H: c.H, W: c.W, C: c.C, O: c.O, KH: 1, KW: 1, DilH: 1, DilW: 1,
		StrideH: gs[0].StrideH, StrideW: gs[0].StrideW, PadTop: math.MinInt, PadLeft: math.MinInt}
	for _, g := range gs {
		if !g.zero {
			pk.PadTop, pk.PadLeft = max(pk.PadTop, g.PadTop), max(pk.PadLeft, g.PadLeft)
		}
	}
	if pk.PadTop == math.MinInt { // every phase is zero: nothing is read
		pk.PadTop, pk.PadLeft = 0, 0
	}
	wp, first := 1, true
	for _, g := range gs {
		if g.zero {
			continue
		}
		g.rowShift, g.colShift = pk.PadTop-g.PadTop, pk.PadLeft-g.PadLeft
		wp = max(wp, g.colShift+(g.ow-1)*g.StrideW+(g.KW-1)*g.DilW+1)
		if first || g.rowShift < set.minShift {
			set.minShift = g.rowShift
		}
		set.reach = max(set.reach, g.rowShift+(g.KH-1)*g.DilH)
		first = false
	}
	pk.PadRight = wp - c.W - pk.PadLeft
	set.pack = pk.geometry()
	return set
}

// Forward computes the convolution out[N,OutH,OutW,O] (contiguous NHWC,
// overwritten, not accumulated) of in[N,H,W,C] (contiguous NHWC) with
// weights packed by PackWeights, splitting the work over up to `workers`
// goroutines (values below 1 mean 1). out must not overlap in or packed.
// It runs on the kernel path reported by Path, and panics if the convolution
// is invalid or a slice is too short.
//
// With input dilation the zero-dilated input is never built: the outputs
// split into phases by row and column (InDilH x InDilW of them for a
// stride-1 convolution), and each phase is an ordinary convolution of the
// undilated input with the taps that land on input pixels, written with an
// output stride (see dimPhases). That is how GoMLX writes the input gradient
// of a strided convolution: the output gradient dilated by the stride,
// convolved with the spatially reversed kernel.
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
	set := c.plainSet()
	if c.inDilH() != 1 || c.inDilW() != 1 {
		set = c.phaseSet()
	}
	rows := set.rowsPerItem(workers)
	chunks := (set.oh + rows - 1) / rows
	items := c.N * chunks
	ks := current.Load()
	run := func(w *worker, i int) {
		n, ch := i/chunks, i%chunks
		w.item(set, ks, out, in, packed, n, ch*rows, min(set.oh, (ch+1)*rows))
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
		c.PadTop|c.PadBottom|c.PadLeft|c.PadRight != 0 || c.H == 1 || c.inDilH() != 1 || c.inDilW() != 1 {
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

// rowsPerItem picks how many (phase) output rows one work item covers: whole
// images when there are enough of them to keep the workers busy, fewer rows
// when the batch is small or a packed row block would not fit packBudget.
func (set *phaseSet) rowsPerItem(workers int) int {
	pk := set.pack
	r := set.oh
	if target := 4 * workers; workers > 1 && pk.N < target {
		chunks := (target + pk.N - 1) / pk.N
		r = (set.oh + chunks - 1) / chunks
	}
	// Input rows packed for r output rows: (r-1)*StrideH + span of the kernel.
	span := set.reach - set.minShift + 1
	if fit := (packBudget/pk.rowLen-span)/pk.StrideH + 1; r > fit {
		r = fit
	}
	r = max(1, r)
	chunks := (set.oh + r - 1) / r
	return (set.oh + chunks - 1) / chunks // even out the chunks
}

// worker is one goroutine's scratch state, pooled across Forward calls.
type worker struct {
	buf      []float32    // packed input rows of the current item
	need     []bool       // which of those rows the item reads
	terms    []term       // the current output row's reduction terms
	steps    [][]step     // the terms tied to each kernel call of a tile
	stepsOw0 int          // the output column the steps point at
	calls    []kernelCall // the current phase's kernel calls (appendCalls), kept across items
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

// item computes (phase) output rows [oh0, oh1) of image n for every phase
// of the set, from one packing of the input rows they read.
func (w *worker) item(set *phaseSet, ks *kernelSet, out, in, packed []float32, n, oh0, oh1 int) {
	pk := set.pack
	hp0 := oh0*pk.StrideH + set.minShift // first packed row the item reads
	nrows := (oh1-1-oh0)*pk.StrideH + set.reach - set.minShift + 1
	if cap(w.need) < nrows {
		w.need = make([]bool, nrows)
	}
	need := w.need[:nrows]
	clear(need)
	for _, g := range set.phases {
		if g.zero {
			continue
		}
		for oh := oh0; oh < min(oh1, g.oh); oh++ {
			for kh := range g.KH {
				need[oh*g.StrideH+kh*g.DilH+g.rowShift-hp0] = true
			}
		}
	}
	if cap(w.buf) < nrows*pk.rowLen {
		w.buf = make([]float32, nrows*pk.rowLen)
	}
	w.buf = w.buf[:nrows*pk.rowLen]
	w.packInputRows(pk, in, n, hp0, need)

	for _, g := range set.phases {
		if g.zero {
			for oh := oh0; oh < min(oh1, g.oh); oh++ {
				for ow := range g.ow {
					o := g.outIndex(n, oh, ow)
					clear(out[o : o+g.O])
				}
			}
			continue
		}
		maxP := ks.tileWidth(g.blocks)
		ntiles := (g.ow + maxP - 1) / maxP
		w.calls = g.appendCalls(w.calls[:0], ks)
		calls := w.calls
		per := g.callsPerChunk(ks)
		for c0 := 0; c0 < len(calls); c0 += per {
			chunk := calls[c0:min(len(calls), c0+per)]
			for oh := oh0; oh < min(oh1, g.oh); oh++ {
				w.buildSteps(g, pk, packed, chunk, oh, hp0)
				ow0 := 0
				for t := range ntiles {
					p := g.ow / ntiles
					if t < g.ow%ntiles {
						p++
					}
					w.tile(g, ks, chunk, out, n, oh, ow0, p)
					ow0 += p
				}
			}
		}
	}
}

// kernelCall is one micro-kernel call of a tile: the lanes [h, h+width) of
// output block b (the whole block, or a 16-lane half of a 32-wide one on a
// path with halves).
type kernelCall struct {
	b        oBlock
	h, width int
}

// calls lists a row's kernel calls in order.
func (g *geometry) calls(ks *kernelSet) []kernelCall { return g.appendCalls(nil, ks) }

// appendCalls appends a row's kernel calls to calls, in order. A worker
// keeps its slice between items: listing them afresh allocated 2.7 MB per
// MobileNetV2 training step, garbage the collector then swept and the
// kernel faulted in again.
func (g *geometry) appendCalls(calls []kernelCall, ks *kernelSet) []kernelCall {
	for _, b := range g.blocks {
		if !ks.halves {
			calls = append(calls, kernelCall{b: b, width: b.width})
			continue
		}
		for h := 0; h < b.width; h += 16 {
			calls = append(calls, kernelCall{b: b, h: h, width: 16})
		}
	}
	return calls
}

// chunkBytes bounds the packed weights of the kernel calls an item's rows
// go through together (see callsPerChunk): about half a 512 KiB L2.
const chunkBytes = 256 << 10

// callsPerChunk is how many kernel calls an item makes for all its rows
// before it moves to the next ones. Row after row over every call re-reads
// all the packed weights for each row: a ResNet-18 4x4x512 layer's 9.4 MB
// came from L3 for every 4-pixel row, and the convolution ran at half the
// speed of the 32x32x64 ones. A chunk's weights stay in L2 while the item's
// rows go by; a layer whose weights fit keeps one chunk, row after row.
func (g *geometry) callsPerChunk(ks *kernelSet) int {
	width := 32
	if ks.halves {
		width = 16
	}
	perCall := g.KH * g.KW * g.cp * width * 4 // bytes of one call's weights
	return max(1, chunkBytes/perCall)
}

// buildSteps lists the reduction terms of output row oh, every (kh, kw, cb)
// whose input row is not padding, in the order of the packed weights. It
// writes one step list per kernel call of calls, pointing at the row's
// first tile; tile moves them along the row.
func (w *worker) buildSteps(g, pk *geometry, packed []float32, calls []kernelCall, oh, hp0 int) {
	w.terms = w.terms[:0]
	for kh := range g.KH {
		hp := oh*g.StrideH + kh*g.DilH + g.rowShift // packed row
		if h := hp - pk.PadTop; h < 0 || h >= pk.H {
			continue // the whole tap row is zero padding
		}
		rowOff := (hp - hp0) * pk.rowLen
		for kw := range g.KW {
			wp := kw*g.DilW + g.colShift // packed column of the row's first pixel
			phase, q := wp%pk.StrideW, wp/pk.StrideW
			tap := (g.tapH0+kh*g.tapHStep)*g.wKW + g.tapW0 + kw*g.tapWStep // in the packed weights
			for cb := range g.cb {
				w.terms = append(w.terms, term{
					in: rowOff + ((cb*pk.StrideW+phase)*pk.wq+q)*ciBlock,
					w:  tap*g.cp + cb*ciBlock,
				})
			}
		}
	}
	for len(w.steps) < len(calls) {
		w.steps = append(w.steps, nil)
	}
	for i, c := range calls {
		steps := w.steps[i][:0]
		for _, t := range w.terms {
			steps = append(steps, step{in: unsafe.Pointer(&w.buf[t.in]), w: unsafe.Pointer(&packed[c.b.off+t.w*c.b.width+c.h])})
		}
		w.steps[i] = steps
	}
	w.stepsOw0 = 0
}

// tile computes output pixels [ow0, ow0+p) of row oh for the kernel calls
// buildSteps was given. Tiles must come in order along the row.
func (w *worker) tile(g *geometry, ks *kernelSet, calls []kernelCall, out []float32, n, oh, ow0, p int) {
	tilesByWidth := [2][]tileFunc{ks.tiles16, ks.tiles32}
	outBase := g.outIndex(n, oh, ow0)
	pixStride := g.colMul * g.O                        // floats from one output pixel of the tile to the next
	shift := uintptr(4 * ciBlock * (ow0 - w.stepsOw0)) // from the previous tile's first pixel to ours
	w.stepsOw0 = ow0
	for i, c := range calls {
		kern := tilesByWidth[c.b.width/32][p-1]
		valid := min(c.b.width, g.O-c.b.co0)
		dst, stride := unsafe.Pointer(&w.scratch[0]), uintptr(4*32)
		if valid == c.b.width {
			dst, stride = unsafe.Pointer(&out[outBase+c.b.co0]), uintptr(4*pixStride)
		}
		steps := w.steps[i]
		if shift != 0 {
			for j := range steps {
				steps[j].in = unsafe.Add(steps[j].in, shift)
			}
		}
		kern(steps, unsafe.Add(dst, 4*c.h), stride, &w.sink)
		if valid < c.b.width {
			// The call's lanes that are output channels, from the scratch tile.
			lo, hi := c.h, min(c.h+c.width, valid)
			for j := range p {
				o := outBase + j*pixStride + c.b.co0
				copy(out[o+lo:o+hi], w.scratch[j*32+lo:j*32+hi])
			}
		}
	}
}

// outIndex returns the index in the output tensor of output pixel (oh, ow)
// of image n.
func (g *geometry) outIndex(n, oh, ow int) int {
	return ((n*g.outH+g.rowOff+oh*g.rowMul)*g.outW + g.colOff + ow*g.colMul) * g.O
}
