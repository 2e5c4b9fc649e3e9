package purego

import (
	"log"
	"sync"
	"sync/atomic"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
)

// convParams is a ConvGeneral call with every optional argument made explicit
// and the derived sizes computed once.
type convParams struct {
	axes                          compute.ConvolveAxesConfig
	strides, inputDil, kernelDil  []int
	paddings                      [][2]int
	groups, batchGroups           int
	batch, inChannels             int   // input
	inSpatial                     []int // input
	kernelSpatial                 []int
	kernelInChannels, outChannels int
	paddedSpatial, outSpatial     []int // after padding and input dilation; output
	numTaps, numOut               int   // products of kernelSpatial and outSpatial
	depthwise                     bool  // one input channel per group: no matmul in it
	dtype                         dtypes.DType
}

var (
	fallbackLogged sync.Map
	// loweredConvs counts the convolutions built by the lowering (tests check
	// the fast path really ran).
	loweredConvs atomic.Int64
)

// ConvGeneral implements compute.Function with an im2col lowering (or a
// shifted multiply-add for depthwise convolutions). Cases the lowering does not
// cover fall back to the Go backend's direct convolution, logged once each.
func (f *function) ConvGeneral(input, kernel compute.Value, axes compute.ConvolveAxesConfig,
	strides []int, paddings [][2]int, inputDilations, kernelDilations []int,
	channelGroupCount, batchGroupCount int) (out compute.Value, err error) {
	e := emitter{f: f.Function, w: f}
	defer catchEmit("ConvGeneral", &err)
	p := newConvParams(e, input, kernel, axes, strides, paddings, inputDilations, kernelDilations, channelGroupCount, batchGroupCount)
	if f.builder.backend.directConv {
		return f.Function.ConvGeneral(input, kernel, axes, strides, paddings, inputDilations, kernelDilations,
			channelGroupCount, batchGroupCount)
	}
	if reason := p.unsupported(); reason != "" {
		if _, seen := fallbackLogged.LoadOrStore(reason, true); !seen {
			log.Printf("purego: ConvGeneral falls back to the Go backend's direct convolution (%s)", reason)
		}
		return f.Function.ConvGeneral(input, kernel, axes, strides, paddings, inputDilations, kernelDilations,
			channelGroupCount, batchGroupCount)
	}
	loweredConvs.Add(1)
	if p.fullContraction() {
		return lowerFullContraction(e, input, kernel, p), nil
	}
	if p.numTaps > p.numOut && p.groups == 1 && p.batchGroups == 1 {
		return lowerWeightGradConv(e, input, kernel, p), nil
	}
	if p.isDepthwiseFilter() {
		return lowerDepthwiseFilter(e, input, kernel, p), nil
	}
	return lowerConv(e, input, kernel, p), nil
}

func orOnes(v []int, n int) []int {
	if len(v) == n {
		return v
	}
	ones := make([]int, n)
	for i := range ones {
		ones[i] = 1
	}
	return ones
}

func newConvParams(e emitter, input, kernel compute.Value, axes compute.ConvolveAxesConfig,
	strides []int, paddings [][2]int, inputDil, kernelDil []int, groups, batchGroups int) *convParams {
	xs, ks := e.shape(input), e.shape(kernel)
	d := len(axes.InputSpatial)
	p := &convParams{
		axes:      axes,
		strides:   orOnes(strides, d),
		inputDil:  orOnes(inputDil, d),
		kernelDil: orOnes(kernelDil, d),
		paddings:  paddings,
		groups:    max(groups, 1), batchGroups: max(batchGroups, 1),
		batch:            xs.Dimensions[axes.InputBatch],
		inChannels:       xs.Dimensions[axes.InputChannels],
		kernelInChannels: ks.Dimensions[axes.KernelInputChannels],
		outChannels:      ks.Dimensions[axes.KernelOutputChannels],
		dtype:            xs.DType,
		numTaps:          1,
		numOut:           1,
	}
	if len(p.paddings) != d {
		p.paddings = make([][2]int, d)
	}
	for j := range d {
		size := xs.Dimensions[axes.InputSpatial[j]]
		k := ks.Dimensions[axes.KernelSpatial[j]]
		p.inSpatial = append(p.inSpatial, size)
		p.kernelSpatial = append(p.kernelSpatial, k)
		padded := (size-1)*p.inputDil[j] + 1 + p.paddings[j][0] + p.paddings[j][1]
		if size == 0 {
			padded = p.paddings[j][0] + p.paddings[j][1]
		}
		effKernel := (k-1)*p.kernelDil[j] + 1
		o := 0
		if padded >= effKernel {
			o = (padded-effKernel)/p.strides[j] + 1
		}
		p.paddedSpatial = append(p.paddedSpatial, padded)
		p.outSpatial = append(p.outSpatial, o)
		p.numTaps *= k
		p.numOut *= o
	}
	p.depthwise = p.groups > 1 && p.kernelInChannels == 1 && p.batchGroups == 1
	return p
}

// unsupported says why the lowering can't take this call, or "" when it can.
func (p *convParams) unsupported() string {
	switch {
	case p.dtype != dtypes.Float32 && p.dtype != dtypes.Float64:
		return "dtype " + p.dtype.String()
	case p.groups > 1 && p.batchGroups > 1:
		return "channel and batch groups together"
	case p.numOut == 0 || p.numTaps == 0 || p.batch == 0:
		return "empty output"
	case len(p.inSpatial) == 0:
		return "no spatial axes"
	}
	return ""
}

// lowerConv builds the convolution from Pad, Slice, Concatenate and DotGeneral
// in a channels-last layout ([batch, spatial..., channels]).
func lowerConv(e emitter, input, kernel compute.Value, p *convParams) compute.Value {
	d := len(p.inSpatial)
	ax := p.axes

	// Input to [B, S..., C], padded and dilated.
	x := e.transpose(input, append(append([]int{ax.InputBatch}, ax.InputSpatial...), ax.InputChannels)...)
	x = padAndDilate(e, x, p)

	// Kernel to [kernelSpatial..., Cin/groups, Cout].
	k := e.transpose(kernel, append(append(append([]int{}, ax.KernelSpatial...), ax.KernelInputChannels), ax.KernelOutputChannels)...)

	var y compute.Value // [B/batchGroups, outSpatial..., Cout]
	outDims := append(append([]int{p.batch / p.batchGroups}, p.outSpatial...), p.outChannels)
	switch {
	case p.depthwise:
		y = e.reshape(depthwiseTaps(e, x, k, p), outDims...)
	case p.groups > 1 || p.batchGroups > 1:
		y = e.reshape(groupedIm2colDot(e, x, k, p), outDims...)
	case p.numTaps == 1 && allOnes(p.strides):
		// A 1x1 convolution at stride 1: the (padded) input is its own patch
		// matrix, so no gather; the matmul reads it in place.
		y = e.dot(x, []int{d + 1}, nil, e.reshape(k, p.inChannels, p.outChannels), []int{0}, nil)
	default:
		var parts []compute.Value
		for _, rows := range splitRows(p, false) {
			P := gatherRows(e, x, p, p.batch, p.inChannels, false, rows) // [B, O..., K..., C]
			parts = append(parts, e.dot(P, seq(d+1, 2*d+2), nil, k, seq(0, d+1), nil))
		}
		y = e.concat(1, parts...)
	}

	return toOutputLayout(e, y, ax)
}

// toOutputLayout transposes y [batch, spatial..., channels] to the output
// layout the convolution was asked for.
func toOutputLayout(e emitter, y compute.Value, ax compute.ConvolveAxesConfig) compute.Value {
	d := len(ax.OutputSpatial)
	perm := make([]int, d+2)
	perm[ax.OutputBatch] = 0
	for j, a := range ax.OutputSpatial {
		perm[a] = 1 + j
	}
	perm[ax.OutputChannels] = d + 1
	return e.transpose(y, perm...)
}

// padAndDilate applies the edge paddings (negative ones crop) and the input
// dilation (zeros inserted between elements) to a channels-last input in one
// Pad. For depthwise convolutions it pads the end further so that each spatial
// size is a multiple of the stride (see stridedCrop).
func padAndDilate(e emitter, x compute.Value, p *convParams) compute.Value {
	d := len(p.inSpatial)
	padAxes := make([]compute.PadAxis, d+2)
	needPad := false
	for j := range d {
		extra := 0
		if p.depthwise { // depthwiseTaps crops strided views: see stridedCrop.
			extra = (p.strides[j] - p.paddedSpatial[j]%p.strides[j]) % p.strides[j]
		}
		pa := compute.PadAxis{Start: p.paddings[j][0], End: p.paddings[j][1] + extra, Interior: p.inputDil[j] - 1}
		p.paddedSpatial[j] += extra
		padAxes[1+j] = pa
		needPad = needPad || pa != (compute.PadAxis{})
	}
	if !needPad {
		return x
	}
	return e.must(e.f.Pad(x, e.scalar(p.dtype, 0), padAxes...))
}

// stridedCrop takes, along each spatial axis j of x [B, spatial..., C], the
// counts[j] elements starting at starts[j] every steps[j]. The Go backend's
// Slice copies element by element; this instead splits each strided axis in
// (size/step, step) with a free Reshape and crops with a negative Pad, which
// copies whole channel vectors (or rows) at a time: several times faster.
// Spatial sizes must be multiples of the steps (padAndDilate sees to it).
func stridedCrop(e emitter, x compute.Value, p *convParams, starts, counts, steps []int) compute.Value {
	d := len(starts)
	identity := true
	for j := range d {
		identity = identity && starts[j] == 0 && counts[j] == p.paddedSpatial[j] && (steps[j] == 1 || counts[j] == 1)
	}
	if identity {
		return x
	}
	split := []int{p.batch}
	padAxes := []compute.PadAxis{{}}
	for j := range d {
		size, step := p.paddedSpatial[j], steps[j]
		q, r := starts[j]/step, starts[j]%step
		split = append(split, size/step)
		padAxes = append(padAxes, compute.PadAxis{Start: -q, End: -(size/step - q - counts[j])})
		if step > 1 {
			split = append(split, step)
			padAxes = append(padAxes, compute.PadAxis{Start: -r, End: -(step - 1 - r)})
		}
	}
	split = append(split, p.inChannels)
	padAxes = append(padAxes, compute.PadAxis{})
	y := e.must(e.f.Pad(e.reshape(x, split...), e.scalar(p.dtype, 0), padAxes...))
	return e.reshape(y, append(append([]int{p.batch}, counts...), p.inChannels)...)
}

// forEachIndex calls fn with every multi-index of the given sizes, in
// row-major order (the last axis varies fastest, matching Reshape).
func forEachIndex(sizes []int, fn func(idx []int)) {
	idx := make([]int, len(sizes))
	for {
		fn(idx)
		j := len(sizes) - 1
		for ; j >= 0; j-- {
			idx[j]++
			if idx[j] < sizes[j] {
				break
			}
			idx[j] = 0
		}
		if j < 0 {
			return
		}
	}
}

// tapSlice is the strided view of the padded input that kernel tap `tap`
// multiplies: shape [B, outSpatial..., C].
func tapSlice(e emitter, x compute.Value, p *convParams, tap []int) compute.Value {
	starts := make([]int, len(tap))
	for j := range tap {
		starts[j] = tap[j] * p.kernelDil[j]
	}
	return stridedCrop(e, x, p, starts, p.outSpatial, p.strides)
}

// gatherRows gathers from x [lead, spatial..., trail] the positions
// o*stride + t*dilation for every output position o and kernel tap t, into
// [lead, outSpatial..., kernelSpatial..., trail], or into
// [lead, kernelSpatial..., outSpatial..., trail] when tapsOuter.
//
// The Go backend's Gather copies one contiguous run per index (its Slice
// copies element by element), so the runs are made as long as possible: when
// the innermost enumerated index moves one element at a time along the last
// spatial axis (dilation 1 for taps, stride 1 for output positions), each
// index takes the whole run along that axis, e.g. the three taps of a 3x3
// kernel row at once.
//
// Only output positions with first coordinate in rows are gathered (the
// output-position axis then has rows[1]-rows[0] elements): see splitRows.
func gatherRows(e emitter, x compute.Value, p *convParams, lead, trail int, tapsOuter bool, rows [2]int) compute.Value {
	d := len(p.inSpatial)
	outSizes := append([]int{rows[1] - rows[0]}, p.outSpatial[1:]...)
	outerSizes, innerSizes := outSizes, p.kernelSpatial
	outerStep, innerStep := p.strides, p.kernelDil
	outerFirst, innerFirst := rows[0], 0
	if tapsOuter {
		outerFirst, innerFirst = innerFirst, outerFirst
		outerSizes, innerSizes = innerSizes, outerSizes
		outerStep, innerStep = innerStep, outerStep
	}
	run := 1
	innerIter := append([]int{}, innerSizes...)
	if innerStep[d-1] == 1 {
		run, innerIter[d-1] = innerSizes[d-1], 1
	}
	var indices []int32
	forEachIndex(outerSizes, func(outer []int) {
		forEachIndex(innerIter, func(inner []int) {
			for j := range d {
				o, i := outer[j], inner[j]
				if j == 0 {
					o, i = o+outerFirst, i+innerFirst
				}
				indices = append(indices, int32(o*outerStep[j]+i*innerStep[j]))
			}
		})
	})
	// The index tensor keeps one axis per enumerated dimension, so the result
	// needs no reshape (the Go backend reshapes in place only buffers it owns,
	// and copies otherwise); likewise x is read in its own rank.
	idxDims := append(append([]int{}, outerSizes...), innerIter...)
	collapsed := seq(1, d)
	sliceSizes := make([]int, d+2)
	for j := range sliceSizes {
		sliceSizes[j] = 1
	}
	sliceSizes[0], sliceSizes[d+1] = lead, trail
	offsetAxes := []int{0, 2*d + 1}
	if run > 1 {
		idxDims = idxDims[:2*d-1] // the run axis comes from the slice instead
		sliceSizes[d] = run
		offsetAxes = []int{0, 2 * d, 2*d + 1}
	} else {
		collapsed = append(collapsed, d)
	}
	idx := e.must(e.f.Constant(indices, append(idxDims, d)...))
	return e.must(e.f.Gather(x, idx, len(idxDims), offsetAxes, collapsed, seq(1, d+1), sliceSizes, false))
}

// splitRows cuts the first output axis in convSplits pieces, so that the
// gathers (single-threaded in the Go backend) and their products can run in
// parallel; their outputs are concatenated (1/numTaps of the
// patches' size). Not done when that axis is the run axis of a weight
// gradient's gather.
func splitRows(p *convParams, weightGrad bool) [][2]int {
	n := p.outSpatial[0]
	if n < 2 || (weightGrad && len(p.outSpatial) == 1) {
		return [][2]int{{0, n}}
	}
	parts := min(n, convSplits)
	var rows [][2]int
	for i := range parts {
		rows = append(rows, [2]int{i * n / parts, (i + 1) * n / parts})
	}
	return rows
}

// convSplits is how many pieces splitRows cuts the output rows into: 2
// measured best on 2 cores (4 was 20% slower at 1/4 width, no better at full).
const convSplits = 2

// patches builds the im2col tensor [B, numOut, numTaps, C]: row (o, t) of
// every image is the channel vector of the padded input at o*stride + t*dilation.
func patches(e emitter, x compute.Value, p *convParams) compute.Value {
	g := gatherRows(e, x, p, p.batch, p.inChannels, false, [2]int{0, p.outSpatial[0]})
	return e.reshape(g, p.batch, p.numOut, p.numTaps, p.inChannels)
}

// fullContraction reports a convolution whose only output position reads
// the whole input: kernel as large as the unpadded, undilated input, one
// group. GoMLX expresses the kernel gradient of every 1x1 convolution at
// stride 1 this way (the output gradient plays the kernel).
func (p *convParams) fullContraction() bool {
	if p.numOut != 1 || p.groups != 1 || p.batchGroups != 1 || !allOnes(p.inputDil) {
		return false
	}
	for j := range p.inSpatial {
		if p.paddings[j] != [2]int{} || p.kernelSpatial[j] != p.inSpatial[j] || (p.kernelSpatial[j] > 1 && p.kernelDil[j] != 1) {
			return false
		}
	}
	return true
}

// lowerFullContraction computes a fullContraction convolution as one matmul,
//
//	out[b', c'] = sum over ci, s of x[b', ci, s] * k[ci, s, c']
//
// The Go backend's matmul reads its right operand in place when it is
// contracted on its leading axes, but transposes a left operand not
// contracted on its last ones. For a kernel gradient both operands arrive
// contracted on their leading axes (x [ci, s, b'], k [ci, s, c'] in memory),
// so one must be transposed: the smaller, i.e. the one with fewer channels
// left over (b' or c'), and the result (tiny) is transposed back if needed.
func lowerFullContraction(e emitter, input, kernel compute.Value, p *convParams) compute.Value {
	d := len(p.inSpatial)
	ax := p.axes
	var y compute.Value // [b', c']
	if p.outChannels < p.batch {
		k := e.transpose(kernel, append([]int{ax.KernelOutputChannels, ax.KernelInputChannels}, ax.KernelSpatial...)...)
		x := e.transpose(input, append(append([]int{ax.InputChannels}, ax.InputSpatial...), ax.InputBatch)...)
		y = e.transpose(e.dot(k, seq(1, d+2), nil, x, seq(0, d+1), nil), 1, 0)
	} else {
		x := e.transpose(input, append([]int{ax.InputBatch, ax.InputChannels}, ax.InputSpatial...)...)
		k := e.transpose(kernel, append(append([]int{ax.KernelInputChannels}, ax.KernelSpatial...), ax.KernelOutputChannels)...)
		y = e.dot(x, seq(1, d+2), nil, k, seq(0, d+1), nil)
	}
	dims := []int{p.batch}
	for range d {
		dims = append(dims, 1)
	}
	return toOutputLayout(e, e.reshape(y, append(dims, p.outChannels)...), ax)
}

func allOnes(v []int) bool {
	for _, x := range v {
		if x != 1 {
			return false
		}
	}
	return true
}

// lowerWeightGradConv handles convolutions whose kernel is larger than their
// output: GoMLX expresses the gradient of a convolution with respect to its
// kernel this way (the activations' batch axis plays the channels, the output
// gradient plays the kernel). Contracting over the *leading* axes lets both
// operands stay in the layout they arrive in (no transposes of activations).
//
//	out[b', o, c'] = sum over t, ci of x[b', o*s + t*d, ci] * k[t, ci, c']
func lowerWeightGradConv(e emitter, input, kernel compute.Value, p *convParams) compute.Value {
	d := len(p.inSpatial)
	ax := p.axes
	x := e.transpose(input, append(append([]int{ax.InputChannels}, ax.InputSpatial...), ax.InputBatch)...)
	x = padAndDilate(e, x, p)
	// The Go backend's matmul wants its left operand contracted on its last
	// axes and takes its right one as [K..., N...] in place; otherwise it
	// transposes both. So transpose the kernel (1/numOut of P's size) to
	// [c', ci, T...] and keep P as it is.
	kT := e.transpose(kernel, append([]int{ax.KernelOutputChannels, ax.KernelInputChannels}, ax.KernelSpatial...)...)
	var parts []compute.Value
	for _, rows := range splitRows(p, true) {
		P := gatherRows(e, x, p, p.inChannels, p.batch, true, rows) // [ci, T..., O..., b']
		parts = append(parts, e.dot(kT, seq(1, d+2), nil, P, seq(0, d+1), nil))
	}
	y := e.concat(1, parts...) // [c', O..., b']
	perm := make([]int, d+2)
	perm[ax.OutputBatch] = d + 1
	for j, a := range ax.OutputSpatial {
		perm[a] = 1 + j
	}
	perm[ax.OutputChannels] = 0
	return e.transpose(y, perm...)
}

// groupedIm2colDot contracts the patches with the kernel
// [kernelSpatial..., Cin/groups, Cout] for channel groups or batch groups,
// returning [B/batchGroups, numOut, Cout].
func groupedIm2colDot(e emitter, x, k compute.Value, p *convParams) compute.Value {
	P := patches(e, x, p)
	if p.groups > 1 {
		g, cg, cog := p.groups, p.inChannels/p.groups, p.outChannels/p.groups
		P = e.reshape(P, p.batch, p.numOut, p.numTaps, g, cg)
		k = e.reshape(k, p.numTaps, cg, g, cog)
		y := e.dot(P, []int{2, 4}, []int{3}, k, []int{0, 1}, []int{2}) // [G, B, numOut, Cout/G]
		return e.transpose(y, 1, 2, 0, 3)
	}
	bg := p.batchGroups
	P = e.reshape(P, bg, p.batch/bg, p.numOut, p.numTaps, p.inChannels)
	k = e.reshape(k, p.numTaps, p.inChannels, bg, p.outChannels/bg)
	y := e.dot(P, []int{3, 4}, []int{0}, k, []int{0, 1}, []int{2}) // [BG, B/BG, numOut, Cout/BG]
	return e.transpose(y, 1, 2, 0, 3)
}

// depthwiseTaps computes a convolution with one input channel per group as a
// sum over taps of (strided input view) x (per-channel weight): no matmul, no
// im2col buffer. The channel multiplier m = Cout/Cin may be > 1.
func depthwiseTaps(e emitter, x, k compute.Value, p *convParams) compute.Value {
	c, m := p.inChannels, p.outChannels/p.inChannels
	k = e.reshape(k, p.numTaps, c, m)
	var sum compute.Value
	tapIdx := 0
	forEachIndex(p.kernelSpatial, func(tap []int) {
		// [N, c, 1] x [1, c, m]: the backend broadcasts both without copies.
		// With one output per channel (m = 1), [N, c] x [1, c] instead: a
		// per-channel operand on the last axis takes the tiled SIMD path,
		// where a trailing axis of 1 would be materialized (broadcast.go).
		vDims, wDims := []int{p.batch * p.numOut, c, 1}, []int{1, c, m}
		if m == 1 {
			vDims, wDims = vDims[:2], wDims[:2]
		}
		v := e.reshape(tapSlice(e, x, p, tap), vDims...)
		w := e.reshape(e.slice(k, []int{tapIdx, 0, 0}, []int{tapIdx + 1, c, m}, nil), wDims...)
		term := e.mul(v, w)
		if sum == nil {
			sum = term
		} else {
			sum = e.add(sum, term)
		}
		tapIdx++
	})
	return e.reshape(sum, p.batch, p.numOut, p.outChannels)
}

// seq returns the integers from..to-1.
func seq(from, to int) []int {
	s := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}
