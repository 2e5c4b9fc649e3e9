package engine

import (
	"slices"

	"github.com/gomlx/compute/dtypes"
)

// Random bits drawn where they are read: DoReFa's gradient noise is an
// RNGBitGenerator tensor of the gradient's size that only one fused program
// reads (ConvertDType to float32, then the quantizer). Stored, it costs a
// pass writing it and one reading it, and until this pass a third and a
// fourth converting it to float32 first; 13% of a MobileNetV2 DoReFa step
// went to the generator and its conversion. fuseRandomBits gives such a
// program the generator's state instead of the bits: its runners draw the
// same words tile by tile (pcgSource), from the same place in the stream,
// and the generator node only moves its state past the words it no longer
// draws (pcgJump). No value changes: MLSYSREP_ENGINE_OFF=RandomFusion
// switches this off to compare.

// randomFusionOff is the name MLSYSREP_ENGINE_OFF takes to keep random
// bits stored.
const randomFusionOff = "RandomFusion"

// fuseRandomBits rewrites each fused program that is the only reader of a
// native RNGBitGenerator's bits (a full uint32 tensor of the program's
// size, not returned) to draw them itself. It runs after fuseElementwise.
func fuseRandomBits(b *builder) {
	if !b.backend.native || listed(OffEnvVar, randomFusionOff) {
		return
	}
	live := liveNodes(b)
	readBy := slotReaders(live)
	returned := returnedSlots(b)
	replace := make(map[*node]*node)
	for _, n := range live {
		fk, ok := n.native.(*fusedKernel)
		if !ok {
			continue
		}
		inputs := slices.Clone(n.inputs)
		gen := slices.Clone(fk.gen)
		if gen == nil {
			gen = make([]bool, len(inputs))
		}
		drawn := false
		for i, s := range n.inputs {
			g := b.slots[s].producer
			if g == nil || replace[g] != nil {
				continue
			}
			rk, ok := g.native.(*rngKernel)
			shape := b.slots[s].shape
			if !ok || rk.stateOnly || len(g.outs) != 2 || g.outs[1] != s || returned[s] || len(readBy[s]) != 1 ||
				slices.Index(n.inputs[i+1:], s) >= 0 || shape.DType != dtypes.Uint32 || shape.Size() != fk.prog.Size ||
				fk.prog.Scalar[i] || (fk.prog.Spread != nil && fk.prog.Spread[i].Count > 0) {
				continue
			}
			inputs[i], gen[i], drawn = g.inputs[0], true, true
			replace[g] = &node{op: g.op, args: g.args, inputs: g.inputs, outs: []int{g.outs[0], -1}, order: g.order,
				native: &rngKernel{stateShape: rk.stateShape, shape: rk.shape, stateOnly: true}}
		}
		if drawn {
			replace[n] = &node{op: n.op, args: n.args, inputs: inputs, outs: slices.Clone(n.outs), order: n.order,
				native: &fusedKernel{prog: fk.prog, outShape: fk.outShape, gen: gen}}
		}
	}
	replaceNodes(b, replace)
}
