package engine

import (
	"slices"

	"github.com/gomlx/compute/dtypes"
)

// Batch-norm epilogues: in MobileNetV2 every expansion and depthwise batch
// norm is read only by element-wise programs (the ReLU6 clip forward and its
// gradient mask; a quantizer after it), and a projection's by the residual
// add. The training forward (v1-exact, or accurate with
// MLSYSREP_ENGINE_EXPERIMENTAL=BatchNormForTraining) writes its normalized
// output y = (x - mean) * a + offset in a pass of its own (reading x,
// writing y), and each program
// then reads y back. inlineBatchNormOutputs instead lets the batch norm
// compute its statistics only, and each program reading y reads x and the
// three per-channel vectors and normalizes each tile as it reads it, with
// the batch norm's own row operation (kernels.Normalization): every
// program computes the same bits as before. It saves the write of y and one
// read of x per batch norm; the programs read x
// instead of y. MLSYSREP_ENGINE_OFF=BatchNormEpilogue keeps the output
// pass (to compare).

// epilogueOff is the op name MLSYSREP_ENGINE_OFF takes to keep batch norms'
// output passes.
const epilogueOff = "BatchNormEpilogue"

// inlineBatchNormOutputs rewrites each training batch norm (v1-exact or
// accurate) whose output only fused programs read (see above). It runs after
// fuseElementwise.
func inlineBatchNormOutputs(b *builder) {
	if listed(OffEnvVar, epilogueOff) {
		return
	}
	returned := returnedSlots(b)
	live := liveNodes(b)
	readBy := slotReaders(live)
	replace := make(map[*node]*node)
	for _, n := range live {
		k, ok := n.native.(*bnKernel)
		if !ok || k.grad || k.statsOnly || len(n.outs) != 3 || len(n.inputs) != 3 {
			continue
		}
		y := n.outs[0]
		if y < 0 || n.outs[1] < 0 || n.outs[2] < 0 || returned[y] {
			continue
		}
		readers := readBy[y]
		rewritten := make([]*node, len(readers))
		for i, r := range readers {
			if replace[r] != nil { // read two batch norms' outputs: left as it is
				rewritten = nil
				break
			}
			if rewritten[i] = normalizingReader(b, r, n); rewritten[i] == nil {
				break
			}
		}
		if len(readers) == 0 || rewritten == nil || slices.Contains(rewritten, nil) {
			continue
		}
		stats := &node{op: n.op, args: n.args, inputs: n.inputs, order: n.order,
			native: &bnKernel{bn: k.bn, exact: k.exact, statsOnly: true}}
		vec := b.slots[n.outs[1]].shape
		b.slots = append(b.slots, slot{producer: stats, shape: vec})
		stats.outs = []int{n.outs[1], n.outs[2], len(b.slots) - 1}
		replace[n] = stats
		for i, r := range readers {
			r2 := rewritten[i]
			r2.inputs[len(r2.inputs)-2] = len(b.slots) - 1 // a: known only now
			replace[r] = r2
		}
	}
	replaceNodes(b, replace)
}

// normalizingReader returns fused node r rewritten to read batch norm bn's
// operand x, mean, factor a (a placeholder slot the caller sets) and offset
// instead of its output y, or nil when r is not a fused program reading y
// as a full float32 tensor of its own shape.
func normalizingReader(b *builder, r, bn *node) *node {
	fk, ok := r.native.(*fusedKernel)
	y, x := bn.outs[0], bn.inputs[0]
	if !ok || len(r.outs) != 1 || !slices.Equal(b.slots[r.outs[0]].shape.Dimensions, b.slots[y].shape.Dimensions) {
		return nil
	}
	at := slices.Index(r.inputs, y)
	if at < 0 || slices.Index(r.inputs[at+1:], y) >= 0 || fk.prog.Scalar[at] ||
		(fk.prog.Spread != nil && fk.prog.Spread[at].Count > 0) {
		return nil
	}
	xShape := b.slots[x].shape
	if xShape.DType != dtypes.Float32 || !slices.Equal(xShape.Dimensions, b.slots[y].shape.Dimensions) {
		return nil
	}
	prog, err := fk.prog.NormalizingInput(at, b.slots[bn.outs[1]].shape.Size())
	if err != nil {
		return nil
	}
	inputs := slices.Clone(r.inputs)
	inputs[at] = x
	inputs = append(inputs, bn.outs[1], -1, bn.inputs[2]) // mean, a (set by the caller), offset
	return &node{op: r.op, inputs: inputs, outs: slices.Clone(r.outs), order: r.order,
		native: &fusedKernel{prog: prog, outShape: fk.outShape, gen: fk.gen}}
}
