package engine

import (
	"fmt"
	"sort"

	"github.com/gomlx/compute"
)

// plan is a compiled schedule: steps in order, each a stock segment (a v1
// executable) or one native kernel, reading and writing numbered slots.
type plan struct {
	steps   []*step
	nSlots  int
	params  []int // slot of each graph parameter
	outs    []int // slots returned
	lastUse []int // per slot: last step that reads it; len(steps) for outputs, -1 if never read
	profile bool
}

// step is one unit of execution.
type step struct {
	in, out []int
	exec    compute.Executable // stock segment
	native  kernel             // or a native kernel (one node)
	nodes   []*node            // a stock segment's nodes, until compiled
	ops     []string           // op names, for the profiler
}

// kernel is an op the engine runs itself.
type kernel interface {
	// run computes the outputs from the inputs (v1 buffers, in the node's
	// argument order).
	run(b *Backend, in []compute.Buffer) ([]compute.Buffer, error)
}

// compiledHook, when set (by tests), sees each plan made.
var compiledHook func(p *plan)

// newPlan schedules the recorded graph. It returns nil when no node is native
// and profiling is off (then the whole shadow graph is the better plan).
// With perOp each stock op becomes its own segment, so that it can be timed.
func newPlan(b *builder, perOp bool) (*plan, error) {
	elideIdentities(b)
	foldKernelReverses(b)
	fuseElementwise(b)
	fuseRandomBits(b)
	inlineBatchNormOutputs(b)
	inlineBatchNormGradInputs(b)
	live := liveNodes(b)
	hasNative := false
	for _, n := range live {
		hasNative = hasNative || n.native != nil
	}
	if !hasNative && !perOp {
		return nil, nil
	}
	p := &plan{nSlots: len(b.slots), params: b.params, outs: b.outs, profile: profileStep() > 0}
	isConst := constSlots(b, live)
	for _, group := range schedule(b, live, perOp) {
		p.steps = append(p.steps, newStep(group))
	}
	p.prune(b, isConst)
	p.computeLastUse()
	if err := p.compileSegments(b, isConst); err != nil {
		return nil, err
	}
	if compiledHook != nil {
		compiledHook(p)
	}
	return p, nil
}

// constSlots marks the values computed from constants alone (constants,
// iotas, their broadcasts and reshapes...). A segment that reads one computes
// it itself instead of receiving a buffer: it is cheap, and the v1 engine
// then sees the same graph shape as when the graph runs whole (its kernels
// differ for a scalar operand and a full one, down to how Max treats NaN).
func constSlots(b *builder, live []*node) []bool {
	isConst := make([]bool, len(b.slots))
	for _, n := range live {
		c := n.native == nil
		for _, s := range n.inputs {
			c = c && isConst[s]
		}
		for _, s := range n.outs {
			if s >= 0 {
				isConst[s] = c
			}
		}
	}
	return isConst
}

// liveNodes are the nodes the outputs depend on, in recording order.
func liveNodes(b *builder) []*node {
	needed := make([]bool, len(b.slots))
	alive := make(map[*node]bool)
	stack := append([]int(nil), b.outs...)
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if needed[s] {
			continue
		}
		needed[s] = true
		if n := b.slots[s].producer; n != nil && !alive[n] {
			alive[n] = true
			stack = append(stack, n.inputs...)
		}
	}
	var live []*node
	for _, n := range b.nodes {
		if alive[n] {
			live = append(live, n)
		}
	}
	return live
}

// schedule groups the live nodes into steps: as many stock nodes as are
// ready form one segment, then every native node that is ready runs, and so
// on. This gives as few segments as the data dependencies allow.
func schedule(b *builder, live []*node, perOp bool) [][]*node {
	pending := make(map[*node]int, len(live)) // unfinished producers of each node
	users := make(map[*node][]*node)
	for _, n := range live {
		seen := map[*node]bool{}
		for _, s := range n.inputs {
			if prod := b.slots[s].producer; prod != nil && !seen[prod] {
				seen[prod] = true
				pending[n]++
				users[prod] = append(users[prod], n)
			}
		}
	}
	var readyStock, readyNative []*node
	push := func(n *node) {
		if n.native != nil {
			readyNative = append(readyNative, n)
		} else {
			readyStock = append(readyStock, n)
		}
	}
	for _, n := range live {
		if pending[n] == 0 {
			push(n)
		}
	}
	done := func(n *node) {
		for _, u := range users[n] {
			if pending[u]--; pending[u] == 0 {
				push(u)
			}
		}
	}
	byOrder := func(ns []*node) {
		sort.Slice(ns, func(i, j int) bool { return ns[i].order < ns[j].order })
	}
	var groups [][]*node
	for len(readyStock)+len(readyNative) > 0 {
		if len(readyStock) > 0 {
			var seg []*node
			for len(readyStock) > 0 {
				byOrder(readyStock)
				n := readyStock[0]
				readyStock = readyStock[1:]
				seg = append(seg, n)
				done(n)
				if perOp {
					groups = append(groups, seg)
					seg = nil
				}
			}
			if len(seg) > 0 {
				groups = append(groups, seg)
			}
			continue
		}
		byOrder(readyNative)
		natives := readyNative
		readyNative = nil
		for _, n := range natives {
			groups = append(groups, []*node{n})
			done(n)
		}
	}
	return groups
}

// newStep makes the step of one group: a native kernel, or a stock segment
// whose inputs and outputs prune decides.
func newStep(group []*node) *step {
	st := &step{}
	for _, n := range group {
		st.ops = append(st.ops, n.op)
	}
	if len(group) == 1 && group[0].native != nil {
		st.native = group[0].native
		st.in = group[0].inputs // the kernel reads its arguments in order
		st.out = group[0].outs
		return st
	}
	st.nodes = group
	return st
}

// prune walks the steps from the last: a stock segment keeps the nodes that
// lead to a value a later step reads or the graph returns, outputs those
// values and reads what its kept nodes need from earlier steps (constants
// excepted: it computes them itself); a step with nothing to output is
// dropped.
func (p *plan) prune(b *builder, isConst []bool) {
	needed := make(map[int]bool)
	for _, s := range p.outs {
		needed[s] = true
	}
	var kept []*step
	for k := len(p.steps) - 1; k >= 0; k-- {
		st := p.steps[k]
		if st.native != nil {
			use := false
			for _, s := range st.out {
				use = use || (s >= 0 && needed[s])
			}
			if use {
				for _, s := range st.in {
					needed[s] = true
				}
				kept = append(kept, st)
			}
			continue
		}
		inSegment := make(map[int]*node)
		for _, n := range st.nodes {
			for _, s := range n.outs {
				if s >= 0 {
					inSegment[s] = n
				}
			}
		}
		st.out = st.out[:0]
		for _, n := range st.nodes {
			for _, s := range n.outs {
				if s >= 0 && needed[s] {
					st.out = append(st.out, s)
				}
			}
		}
		if len(st.out) == 0 {
			continue
		}
		// The nodes the outputs need, and what they read from outside.
		alive := make(map[*node]bool)
		stack := append([]int(nil), st.out...)
		readSeen := make(map[int]bool)
		var reads []int
		for len(stack) > 0 {
			s := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if n := inSegment[s]; n != nil {
				if !alive[n] {
					alive[n] = true
					stack = append(stack, n.inputs...)
				}
			} else if !isConst[s] && !readSeen[s] {
				readSeen[s] = true
				reads = append(reads, s)
			}
		}
		var nodes []*node
		st.ops = st.ops[:0]
		for _, n := range st.nodes {
			if alive[n] {
				nodes = append(nodes, n)
				st.ops = append(st.ops, n.op)
			}
		}
		st.nodes = nodes
		sort.Ints(reads)
		st.in = reads
		for _, s := range reads {
			needed[s] = true
		}
		kept = append(kept, st)
	}
	for i, j := 0, len(kept)-1; i < j; i, j = i+1, j-1 {
		kept[i], kept[j] = kept[j], kept[i]
	}
	p.steps = kept
}

// computeLastUse finds, for each slot, the last step that reads it.
func (p *plan) computeLastUse() {
	p.lastUse = make([]int, p.nSlots)
	for i := range p.lastUse {
		p.lastUse[i] = -1
	}
	for k, st := range p.steps {
		for _, s := range st.in {
			p.lastUse[s] = k
		}
	}
	for _, s := range p.outs {
		p.lastUse[s] = len(p.steps)
	}
}

// compileSegments replays each stock segment's nodes into a fresh v1
// builder, with its inputs as parameters and its constants computed in place,
// and compiles it.
func (p *plan) compileSegments(b *builder, isConst []bool) error {
	for k, st := range p.steps {
		if st.native != nil {
			continue
		}
		inner := b.backend.inner.Builder(fmt.Sprintf("%s#%d", b.name, k))
		fn := inner.Main()
		values := make(map[int]compute.Value, len(st.in))
		for _, s := range st.in {
			v, err := fn.Parameter(fmt.Sprintf("slot%d", s), b.slots[s].shape, nil)
			if err != nil {
				return err
			}
			values[s] = v
		}
		var replayErr error
		var value func(s int) compute.Value
		emit := func(n *node) {
			outs, err := replay(fn, n, value)
			if err != nil {
				replayErr = fmt.Errorf("engine: replaying %s: %w", n.op, err)
				return
			}
			for i, s := range n.outs {
				if s >= 0 {
					values[s] = outs[i]
				}
			}
		}
		value = func(s int) compute.Value {
			if v, ok := values[s]; ok {
				return v
			}
			if isConst[s] && replayErr == nil { // a constant made in another segment: make it here too.
				emit(b.slots[s].producer)
			}
			return values[s]
		}
		for _, n := range st.nodes {
			if replayErr == nil {
				emit(n)
			}
		}
		if replayErr != nil {
			return replayErr
		}
		rets := make([]compute.Value, len(st.out))
		for i, s := range st.out {
			rets[i] = values[s]
		}
		if err := fn.Return(rets, nil); err != nil {
			return err
		}
		exec, err := inner.Compile()
		if err != nil {
			return fmt.Errorf("engine: compiling segment %d: %w", k, err)
		}
		st.exec = exec
		st.nodes = nil // the recording is no longer needed
	}
	return nil
}
