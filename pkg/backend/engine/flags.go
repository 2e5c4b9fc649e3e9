package engine

import (
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
)

// Plans specialized on boolean flags.
//
// A graph parameter that is a scalar boolean and chooses between two values
// with Where (LSQ's step_initialized: Where(initialized, step, 2*mean|x|/
// sqrt(Qp))) makes every execution compute both branches, although after the
// first training step the flag is true for good: the statistic of every LSQ
// layer's input (a pass writing |x| and one summing it) is computed at every
// training step and every evaluation, for nothing. So a graph with such flags
// gets a second plan in which each of those Wheres is its first branch
// (liveNodes then drops what only the other branch needed), and an
// execution whose flags are all true runs it. Where with a true condition
// returns its first operand, so both plans give the same bits.

// flagWhere says whether n is a Where whose condition is a scalar boolean
// parameter (its slot is returned) and whose first branch has the Where's
// shape: a Where a flag plan can replace by that branch.
func flagWhere(b *builder, n *node, isParam map[int]bool) (int, bool) {
	if n.op != "Where" || len(n.inputs) != 3 || len(n.outs) != 1 || n.outs[0] < 0 {
		return 0, false
	}
	cond := n.inputs[0]
	if shape := b.slots[cond].shape; !isParam[cond] || shape.DType != dtypes.Bool || shape.Rank() != 0 {
		return 0, false
	}
	return cond, b.slots[n.inputs[1]].shape.Equal(b.slots[n.outs[0]].shape)
}

// paramSet is the set of b's parameter slots.
func paramSet(b *builder) map[int]bool {
	isParam := make(map[int]bool, len(b.params))
	for _, s := range b.params {
		isParam[s] = true
	}
	return isParam
}

// flagSlots returns the parameters (their slots) that are the condition of
// a Where a flag plan can replace (flagWhere).
func flagSlots(b *builder) []int {
	isParam := paramSet(b)
	var flags []int
	for _, n := range b.nodes {
		if cond, ok := flagWhere(b, n, isParam); ok && !slices.Contains(flags, cond) {
			flags = append(flags, cond)
		}
	}
	return flags
}

// assumeTrue makes every Where a flag plan can replace (flagWhere: those
// whose conditions flagSlots lists) an Identity of its first branch, which
// elideIdentities then removes unless the graph returns it.
func assumeTrue(b *builder) {
	isParam := paramSet(b)
	for _, n := range b.nodes {
		if _, ok := flagWhere(b, n, isParam); ok {
			a := n.inputs[1]
			n.op, n.args, n.inputs, n.native = "Identity", []any{slotArg(a)}, []int{a}, nil
		}
	}
}

// clone returns a copy of the recording that planning can rewrite without
// touching b's (newPlan rewrites nodes' inputs, replaces nodes by fused ones
// and changes slots' producers). Native kernels are shared: they hold no
// state of one execution.
func (b *builder) clone() *builder {
	c := *b
	copies := make(map[*node]*node, len(b.nodes))
	c.nodes = make([]*node, len(b.nodes))
	for i, n := range b.nodes {
		cp := *n
		cp.inputs, cp.outs, cp.args = slices.Clone(n.inputs), slices.Clone(n.outs), slices.Clone(n.args)
		for j, a := range cp.args {
			if ss, ok := a.(slotsArg); ok {
				cp.args[j] = slices.Clone(ss)
			}
		}
		copies[n] = &cp
		c.nodes[i] = &cp
	}
	c.slots = slices.Clone(b.slots)
	for i := range c.slots {
		if p := c.slots[i].producer; p != nil {
			c.slots[i].producer = copies[p]
		}
	}
	c.params, c.outs = slices.Clone(b.params), slices.Clone(b.outs)
	return &c
}

// flagsTrue says whether every flag parameter (by parameter number) holds
// true in inputs.
func flagsTrue(flags []int, inputs []compute.Buffer) bool {
	for _, i := range flags {
		if i >= len(inputs) || inputs[i] == nil {
			return false
		}
		data, err := unwrapBuffer(inputs[i]).Data()
		if err != nil {
			return false
		}
		v, ok := data.([]bool)
		if !ok || len(v) != 1 || !v[0] {
			return false
		}
	}
	return true
}
