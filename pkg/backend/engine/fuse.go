package engine

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/mlsysrep/mlsysrep/pkg/backend/kernels"
)

// Element-wise fusion: the quantizers (PACT, LSQ, DoReFa, PTQ fake
// quantization and their straight-through gradients) and the residual adds
// are chains of element-wise ops, which engine v1 runs one
// pass over memory per op, each into a freshly allocated buffer. fuseElementwise
// turns each tree of such ops into one native node that runs them tile by
// tile (kernels.Program): one pass, one pooled output.
//
// A tree is a root op and, recursively, the element-wise producers of its
// operands whose result nothing else reads: so no value inside a tree is
// needed outside it, and replacing the tree by one node cannot create a
// cycle. The exception are cheap shared ops (recomputable), which every
// reader's tree computes again for itself. Operands are full tensors of the root's shape or scalars. Every
// op keeps the stock op's rounding (kernels.ElementOp), so fusion changes no
// bit of any result: MLSYSREP_ENGINE_OFF=Fusion switches it off to compare.

// fusionOff is the op name MLSYSREP_ENGINE_OFF takes to switch fusion off.
const fusionOff = "Fusion"

// elementOps maps the recorded ops fusion takes to the kernel's ops.
var elementOps = map[string]kernels.ElementOp{
	"Add": kernels.OpAdd, "Sub": kernels.OpSub, "Mul": kernels.OpMul, "Div": kernels.OpDiv,
	"Min": kernels.OpMin, "Max": kernels.OpMax, "Neg": kernels.OpNeg, "Abs": kernels.OpAbs,
	"Sign": kernels.OpSign, "Round": kernels.OpRound,
	"Equal": kernels.OpEqual, "NotEqual": kernels.OpNotEqual, "LessThan": kernels.OpLess,
	"LessOrEqual": kernels.OpLessEqual, "GreaterThan": kernels.OpGreater, "GreaterOrEqual": kernels.OpGreaterEqual,
	"Where": kernels.OpWhere, "ConvertDType": kernels.OpCopy,
}

// reluOpOf returns the program op of a ReLU or of its gradient, as GoMLX
// emits them (FusedActivation, and FusedActivationVJP given one of the
// activation's input and output): a tree then takes the ReLU after a batch
// norm (whose output pass it then saves: see inlineBatchNormOutputs) or
// after a residual add, and the gradient mask with what reads it. Alone,
// the op stays the native ReLU kernel (the same bits).
func reluOpOf(n *node) (kernels.ElementOp, bool) {
	if listed(OffEnvVar, reluFusionOff) {
		return 0, false
	}
	switch n.op {
	case "FusedActivation":
		if _, ok := n.native.(reluKernel); ok && len(n.inputs) == 1 {
			return kernels.OpRelu, true
		}
	case "FusedActivationVJP":
		if _, ok := n.native.(reluGradKernel); ok && len(n.inputs) == 2 { // the reference, then the output gradient
			return kernels.OpReluGrad, true
		}
	}
	return 0, false
}

// reluFusionOff is the name MLSYSREP_ENGINE_OFF takes to keep ReLU and its
// gradient out of fused programs (to compare).
const reluFusionOff = "ReluFusion"

// minFusedSize is the smallest tree output fusion takes. Below it (biases,
// batch-norm vectors, the SGD update of small variables) a native step
// saves less than it costs: each splits the stock segments around it, and
// engine v1 runs the ops of one segment in parallel.
var minFusedSize = 1 << 14 // a variable: tests lower it

// fusedRuns counts native fused-program runs (tests check they ran).
var fusedRuns atomic.Int64

// fusedKernel runs one tree of element-wise ops.
type fusedKernel struct {
	prog     kernels.Program
	outShape shapes.Shape
	// gen, when not nil, marks per input the random bits the program draws
	// itself: that input is an RNGBitGenerator's state (fuseRandomBits).
	gen []bool
}

// floatInput returns a pooled float32 buffer of buf's dimensions, filled by
// convert, and its storage: a non-float32 input as the program reads it.
func (b *Backend) floatInput(buf compute.Buffer, convert func(flat []float32)) (compute.Buffer, []float32, error) {
	shape, err := buf.Shape()
	if err != nil {
		return nil, nil, err
	}
	tmp, flat, err := b.pool.get(b, shapes.Make(dtypes.Float32, shape.Dimensions...))
	if err != nil {
		return nil, nil, err
	}
	convert(flat)
	return tmp, flat, nil
}

// describe lists the program's ops in order, for the profiler's rows by
// shape: [Div Max Min Round Mul] tells an LSQ quantizer's tree from others.
func (k *fusedKernel) describe() string {
	var names []string
	if slices.Contains(k.gen, true) {
		names = append(names, "RNG") // the bits drawn in the program
	}
	for _, ins := range k.prog.Code {
		names = append(names, ins.Op.String())
	}
	return "[" + strings.Join(names, " ") + "]"
}

func (k *fusedKernel) run(b *Backend, in []compute.Buffer) ([]compute.Buffer, error) {
	args, err := b.programInputs(in, k.gen)
	defer args.release()
	if err != nil {
		return nil, err
	}
	out, flat, err := b.pool.get(b, k.outShape)
	if err != nil {
		return nil, err
	}
	k.prog.RunSources(flat, args.inputs, args.sources, runtime.GOMAXPROCS(0))
	fusedRuns.Add(1)
	return []compute.Buffer{out}, nil
}

// programArgs is what a program reads: inputs in memory, and, per input it
// reads tile by tile (random bits, drawn or stored), how to make one
// worker's Source of it.
type programArgs struct {
	inputs    [][]float32
	newSource []func() kernels.Source // nil where inputs holds the values
	converted []compute.Buffer        // float32 copies of bool inputs
	pool      *bufferPool
}

// sources returns one worker's sources (kernels.Program.RunSources), or nil
// when every input is in memory.
func (a *programArgs) sources() []kernels.Source {
	var s []kernels.Source
	for i, f := range a.newSource {
		if f != nil {
			if s == nil {
				s = make([]kernels.Source, len(a.newSource))
			}
			s[i] = f()
		}
	}
	return s
}

// release pools again the float32 copies programInputs made (call it when
// the program has run, also on error).
func (a *programArgs) release() {
	for _, buf := range a.converted {
		a.pool.put(buf)
	}
}

// programInputs returns a program's inputs as it reads them: float32
// tensors as they are, uint32 ones (random bits: float32(v), as the Go
// backend's ConvertDType rounds) and those gen marks (an RNGBitGenerator's
// state: the program draws the bits) as sources, bool ones as float32
// copies of 1 and 0.
func (b *Backend) programInputs(in []compute.Buffer, gen []bool) (*programArgs, error) {
	inputs := make([][]float32, len(in))
	args := &programArgs{inputs: inputs, newSource: make([]func() kernels.Source, len(in)), pool: &b.pool}
	for i, buf := range in {
		data, err := buf.Data()
		if err != nil {
			return args, err
		}
		if i < len(gen) && gen[i] {
			state, ok := data.([]uint64)
			if !ok || len(state) < 2 {
				return args, fmt.Errorf("engine: fused program input %d is %T, want a generator state ([]uint64)", i, data)
			}
			hi, lo := state[0], state[1]
			args.newSource[i] = func() kernels.Source { return newPCGSource(hi, lo) }
			continue
		}
		switch data := data.(type) {
		case []float32:
			inputs[i] = data
		case []uint32:
			args.newSource[i] = func() kernels.Source { return kernels.Uint32Source(data) }
		case []bool: // a condition computed outside the tree: as 1 and 0
			tmp, flat, err := b.floatInput(buf, func(flat []float32) {
				for j, v := range data {
					flat[j] = 0
					if v {
						flat[j] = 1
					}
				}
			})
			if err != nil {
				return args, err
			}
			args.converted, inputs[i] = append(args.converted, tmp), flat
		default:
			return args, fmt.Errorf("engine: fused element-wise input %d is %T", i, data)
		}
	}
	return args, nil
}

// elementOpOf returns the kernel op of a node fusion can take (as a member
// of a tree of output shape dims), and whether it can. Its float32 operands
// must have the tree's dimensions or be scalars; boolean values (what
// comparisons give, Where reads and ConvertDType turns into 1 and 0) are
// 1 and 0 inside the program, uint32 values (random bits, which
// ConvertDType turns into floats) are converted as the program reads them,
// and a tree's root gives float32.
func elementOpOf(b *builder, n *node) (kernels.ElementOp, bool) {
	op, ok := elementOps[n.op]
	if !ok {
		op, ok = reluOpOf(n)
	} else if n.native != nil {
		return 0, false
	}
	if !ok || len(n.outs) != 1 || n.outs[0] < 0 {
		return 0, false
	}
	out := b.slots[n.outs[0]].shape
	// A one-element tensor is a scalar to the Go backend's binary ops, which
	// then treat Min and Max as for a scalar operand: left to them.
	if out.Rank() == 0 || out.Size() < 2 || out.IsDynamic() {
		return 0, false
	}
	wantOut := dtypes.Float32
	switch op {
	case kernels.OpEqual, kernels.OpNotEqual, kernels.OpLess, kernels.OpLessEqual, kernels.OpGreater, kernels.OpGreaterEqual:
		wantOut = dtypes.Bool
	case kernels.OpCopy:
		if to, _ := n.args[1].(dtypes.DType); to != dtypes.Float32 {
			return 0, false
		}
	}
	if out.DType != wantOut || len(n.inputs) != op.Arity() {
		return 0, false
	}
	// Min and Max are fused only where their stock results are known to
	// the bit, NaN and zeros included (see minmax.go).
	if (op == kernels.OpMin || op == kernels.OpMax) && !minMaxFusable(b, n) {
		return 0, false
	}
	for i, s := range n.inputs {
		in := b.slots[s].shape
		if _, ok := spreadOf(in, out); !ok {
			return 0, false
		}
		wantIn := dtypes.Float32
		if (op == kernels.OpWhere && i == 0) || (op == kernels.OpCopy && in.DType == dtypes.Bool) {
			wantIn = dtypes.Bool
		}
		if op == kernels.OpCopy && in.DType == dtypes.Uint32 {
			wantIn = dtypes.Uint32 // random bits made uniform: converted on input (see fusedKernel.run)
		}
		if in.DType != wantIn {
			return 0, false
		}
	}
	return op, true
}

// fuseElementwise replaces each tree of element-wise ops among the live
// nodes by one native node (see above). It runs once per plan, after
// elideIdentities.
func fuseElementwise(b *builder) {
	if !b.backend.native || listed(OffEnvVar, fusionOff) {
		return
	}
	live := liveNodes(b)
	readers := make(map[int]int) // slot -> number of live nodes reading it
	for _, n := range live {
		for _, s := range uniqueSlots(n.inputs) {
			readers[s]++
		}
	}
	for _, s := range b.outs {
		readers[s] += 2 // a returned value is needed outside any tree
	}
	shared := recomputable(b, live, readers)
	absorbed := make(map[*node]bool)
	replace := make(map[*node]*node) // root -> fused node
	for i := len(live) - 1; i >= 0; i-- {
		root := live[i]
		if absorbed[root] {
			continue
		}
		if _, ok := elementOpOf(b, root); !ok || b.slots[root.outs[0]].shape.DType != dtypes.Float32 ||
			b.slots[root.outs[0]].shape.Size() < minFusedSize {
			continue
		}
		dims := b.slots[root.outs[0]].shape.Dimensions
		members := []*node{root}
		inTree := map[*node]bool{root: true}
		for k := 0; k < len(members); k++ {
			for _, s := range uniqueSlots(members[k].inputs) {
				p := b.slots[s].producer
				if p == nil || absorbed[p] || inTree[p] || !slices.Equal(b.slots[s].shape.Dimensions, dims) {
					continue
				}
				if readers[s] != 1 && !shared[p] {
					continue
				}
				if _, ok := elementOpOf(b, p); ok {
					absorbed[p] = !shared[p] // a shared op stays for its other readers' trees
					inTree[p] = true
					members = append(members, p)
				}
			}
		}
		if k := treeKernel(b, members); k != nil {
			replace[root] = &node{op: "Fused", inputs: k.inputs, outs: []int{root.outs[0]}, native: k.kernel, order: root.order}
		}
	}
	replaceNodes(b, replace)
}

// replaceNodes puts each node of the recording that replace maps in its
// place, as the producer of what it writes.
func replaceNodes(b *builder, replace map[*node]*node) {
	for i, n := range b.nodes {
		if r := replace[n]; r != nil {
			b.nodes[i] = r
			for _, s := range r.outs {
				if s >= 0 {
					b.slots[s].producer = r
				}
			}
		}
	}
}

// recomputable returns the element-wise values that every tree reading
// them computes again for itself instead of reading them from memory. Such
// a value (LSQ's x / step, its clipping mask and its rounded value, each
// read by the forward tree and by a gradient's) costs a pass writing it
// and one reading it per reader when stored; recomputed, it costs
// instructions and, per reader, the reads of the full tensors it is
// computed from.
//
// A value qualifies when every reader is an element-wise op of its shape,
// the graph does not return it, recomputing moves no more memory by the
// count below, and it takes at most maxRecomputedOps ops (1 where a
// batch-norm gradient runs the reader's program: feedsBatchNormGradient).
// It is computed from its element-wise producers only it reads (recomputed
// with it: they are marked too, so that no tree absorbs them for itself),
// other recomputed values, and leaves: full tensors, scalars and spread
// operands, which exist anyway. Its output is then read by no one and
// dropped from the plan. The ops and their operands are the same in every
// copy, so the results are. MLSYSREP_ENGINE_OFF=Recompute stores them all.
func recomputable(b *builder, live []*node, readers map[int]int) map[*node]bool {
	readBy := slotReaders(live)
	returned := returnedSlots(b)
	shared := make(map[*node]bool)
	if listed(OffEnvVar, recomputeOff) {
		return shared
	}
	// leaves[n]: the full tensors n's recomputation reads, when it can be
	// recomputed (n's readers all element-wise); absent otherwise.
	leaves := make(map[*node][]int)
	size := make(map[*node]int)              // ops recomputed with n, n included (a shared one once per reader)
	internal := func(n *node, s int) *node { // the producer of operand s recomputed with n, or nil
		p := b.slots[s].producer
		if p == nil || !slices.Equal(b.slots[s].shape.Dimensions, b.slots[n.outs[0]].shape.Dimensions) {
			return nil
		}
		if _, ok := leaves[p]; ok && (readers[s] == 1 || shared[p]) {
			return p
		}
		return nil
	}
	for _, n := range live {
		op, ok := elementOpOf(b, n)
		if !ok || returned[n.outs[0]] || op == kernels.OpCopy && b.slots[n.inputs[0]].shape.DType == dtypes.Uint32 {
			continue // not element-wise, needed outside, or random bits (drawn once)
		}
		dims := b.slots[n.outs[0]].shape.Dimensions
		if slices.ContainsFunc(readBy[n.outs[0]], func(r *node) bool {
			_, elementwise := elementOpOf(b, r)
			return !elementwise || !slices.Equal(b.slots[r.outs[0]].shape.Dimensions, dims)
		}) {
			continue
		}
		var from []int
		closed := true
		size[n] = 1
		for _, s := range uniqueSlots(n.inputs) {
			if p := internal(n, s); p != nil {
				size[n] += size[p]
				for _, l := range leaves[p] {
					if !slices.Contains(from, l) {
						from = append(from, l)
					}
				}
				continue
			}
			if p := b.slots[s].producer; p != nil && readers[s] == 1 && slices.Equal(b.slots[s].shape.Dimensions, dims) {
				if _, elementwise := elementOpOf(b, p); elementwise {
					closed = false // an element-wise value only n reads, which cannot be recomputed
					break
				}
			}
			if _, scalar := scalarSource(b, s); !scalar && b.slots[s].shape.Size() == b.slots[n.outs[0]].shape.Size() && !slices.Contains(from, s) {
				from = append(from, s)
			}
		}
		if !closed {
			continue
		}
		leaves[n] = from
		// Stored, n costs reading what it is computed from, its write and
		// one read per reader: len(from) + 1 + r tensors; recomputed, each
		// of its r readers reads what it is computed from: r * len(from).
		limit := maxRecomputedOps
		if slices.ContainsFunc(readBy[n.outs[0]], func(r *node) bool { return feedsBatchNormGradient(b, r, readBy) }) {
			limit = 1
		}
		if r := readers[n.outs[0]]; r >= 2 && r*len(from) <= len(from)+1+r && size[n] <= limit {
			shared[n] = true
		}
	}
	// What a recomputed value is computed from is recomputed with it.
	var mark func(n *node)
	mark = func(n *node) {
		for _, s := range uniqueSlots(n.inputs) {
			if p := internal(n, s); p != nil && !shared[p] {
				shared[p] = true
				mark(p)
			}
		}
	}
	for n := range shared {
		mark(n)
	}
	return shared
}

// recomputeOff is the name MLSYSREP_ENGINE_OFF takes to store every value
// several trees read (to compare).
const recomputeOff = "Recompute"

// maxRecomputedOps bounds the ops recomputed for one value. A long
// recomputed chain is a graph, not a register chain, in its readers'
// programs, and the interpreter runs those compute-bound: in MobileNetV2's
// LSQ, recomputing its rounded value (13 ops) into the step's gradient
// cost more than the passes it saved; up to 6 ops (the clipping mask, and
// the rounding over a stored clipped value) gained 4% per training step
// (BENCHMARKS.md, twentieth session).
const maxRecomputedOps = 6

// feedsBatchNormGradient reports whether element-wise node r is in a tree
// whose result only a native batch-norm gradient reads, as its output
// gradient: inlineBatchNormGradInputs lets that gradient run the tree's
// program, twice per element (for its sums, then for dx), so a value
// recomputed there is computed twice more (MobileNetV2's DoReFa clipping
// mask cost more than the pass it saved: BENCHMARKS.md, twentieth session).
func feedsBatchNormGradient(b *builder, r *node, readBy map[int][]*node) bool {
	for {
		rs := readBy[r.outs[0]]
		if len(rs) != 1 {
			return false
		}
		next := rs[0]
		if k, ok := next.native.(*bnKernel); ok && k.grad {
			return len(next.inputs) == 5 && next.inputs[4] == r.outs[0]
		}
		if _, elementwise := elementOpOf(b, next); !elementwise {
			return false
		}
		r = next
	}
}

// tree is a fused tree's kernel and the slots it reads, in operand order.
type tree struct {
	kernel *fusedKernel
	inputs []int
}

// treeKernel compiles the members of a tree (root first) into a program, or
// returns nil when a member is not a float32 element-wise op after all.
func treeKernel(b *builder, members []*node) *tree {
	ordered := slices.Clone(members)
	slices.SortFunc(ordered, func(x, y *node) int { return x.order - y.order }) // producers first
	inTree := make(map[int]int)                                                 // slot -> operand number of its result
	for _, m := range ordered {
		inTree[m.outs[0]] = -1
	}
	var t tree
	var scalar []bool
	var spread []kernels.Spread
	out := b.slots[members[0].outs[0]].shape
	operand := make(map[int]int)  // external slot -> input number
	bySource := make(map[int]int) // slot read -> input number
	for _, m := range ordered {
		for _, s := range m.inputs {
			if _, internal := inTree[s]; internal {
				continue
			}
			if _, seen := operand[s]; seen {
				continue
			}
			src, isScalar := scalarSource(b, s)
			if i, read := bySource[src]; read && scalar[i] == isScalar {
				operand[s] = i // two broadcasts of one value: one input
				continue
			}
			operand[s], bySource[src] = len(t.inputs), len(t.inputs)
			t.inputs = append(t.inputs, src)
			scalar = append(scalar, isScalar)
			sp := kernels.Spread{}
			if !isScalar {
				sp, _ = spreadOf(b.slots[src].shape, out)
			}
			spread = append(spread, sp)
		}
	}
	root := members[0]
	size := b.slots[root.outs[0]].shape.Size()
	prog := kernels.Program{Size: size, NumInputs: len(t.inputs), Scalar: scalar, Spread: spread,
		TailFrom: tailFrom(size)}
	for k, m := range ordered {
		op, ok := elementOpOf(b, m)
		if !ok {
			return nil
		}
		ins := kernels.Instruction{Op: op}
		for j, s := range m.inputs {
			if r, internal := inTree[s]; internal {
				ins.Args[j] = r
			} else {
				ins.Args[j] = operand[s]
			}
		}
		if op == kernels.OpMin || op == kernels.OpMax {
			if minMaxScalarFirst(b, m) {
				ins.Args[0], ins.Args[1] = ins.Args[1], ins.Args[0]
			}
			ins.SwapInTail = true
		}
		prog.Code = append(prog.Code, ins)
		inTree[m.outs[0]] = len(t.inputs) + k
	}
	if prog.Validate() != nil || ordered[len(ordered)-1] != root {
		return nil
	}
	// GoMLX's indicators (every clip's gradient) as one comparison each.
	prog = prog.Simplify(func(input int) (float32, bool) { return scalarConstant(b, t.inputs[input]) })
	if prog.Validate() != nil {
		return nil
	}
	t.kernel = &fusedKernel{prog: prog, outShape: b.slots[root.outs[0]].shape}
	return &t
}

// scalarSource is the slot a tree reads for operand slot s, and whether it
// is a scalar: s itself (a scalar when rank 0), or, when s is a
// BroadcastInDim of a one-element value (how GoMLX gives Where and other ops
// their constant operands), that value: the program then broadcasts it
// itself, and the full tensor the stock op would write is never made (its
// node is dropped when nothing else reads it).
func scalarSource(b *builder, s int) (int, bool) {
	if p := b.slots[s].producer; p != nil && p.op == "BroadcastInDim" && len(p.inputs) == 1 {
		in := b.slots[p.inputs[0]].shape
		if in.Size() == 1 && in.DType == b.slots[s].shape.DType && !in.IsDynamic() {
			return p.inputs[0], true
		}
	}
	return s, b.slots[s].shape.Rank() == 0
}

// scalarConstant returns the value of slot s when a one-element float32
// Constant of the graph gives it.
func scalarConstant(b *builder, s int) (float32, bool) {
	p := b.slots[s].producer
	if p == nil || p.op != "Constant" || len(p.args) == 0 {
		return 0, false
	}
	if flat, ok := p.args[0].([]float32); ok && len(flat) == 1 {
		return flat[0], true
	}
	return 0, false
}

// spreadOf says how a tree of shape out reads an operand of shape in: as a
// full tensor or a scalar (the zero Spread), or as a broadcast operand of the
// same rank whose kept axes (those not of size 1) are consecutive, such as a
// per-channel [1, 1, 1, C] or a per-example [N, 1, 1, 1] (see
// kernels.Spread); ok is false for any other shape.
func spreadOf(in, out shapes.Shape) (kernels.Spread, bool) {
	if in.Rank() == 0 || slices.Equal(in.Dimensions, out.Dimensions) {
		return kernels.Spread{}, true
	}
	if in.Rank() != out.Rank() || in.IsDynamic() {
		return kernels.Spread{}, false
	}
	first, last := -1, -1 // the kept axes, where in has more than one value
	for axis, d := range in.Dimensions {
		switch {
		case d == out.Dimensions[axis] && d > 1:
			if first < 0 {
				first = axis
			} else if last != axis-1 {
				return kernels.Spread{}, false // kept axes apart: no (i / Every) % Count
			}
			last = axis
		case d != 1:
			return kernels.Spread{}, false
		}
	}
	if first < 0 { // one value
		return kernels.Spread{Count: 1, Every: out.Size()}, true
	}
	every := 1
	for _, d := range out.Dimensions[last+1:] {
		every *= d
	}
	return kernels.Spread{Count: in.Size(), Every: every}, true
}

// uniqueSlots is the slots a node reads, each once.
func uniqueSlots(inputs []int) []int {
	var out []int
	for _, s := range inputs {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// slotReaders lists, per slot, the nodes among live that read it (each
// once).
func slotReaders(live []*node) map[int][]*node {
	readBy := make(map[int][]*node)
	for _, n := range live {
		for _, s := range uniqueSlots(n.inputs) {
			readBy[s] = append(readBy[s], n)
		}
	}
	return readBy
}

// returnedSlots are the slots the graph returns.
func returnedSlots(b *builder) map[int]bool {
	returned := make(map[int]bool, len(b.outs))
	for _, s := range b.outs {
		returned[s] = true
	}
	return returned
}
