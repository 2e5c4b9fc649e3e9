package engine

import "slices"

// How fused Min and Max give the stock Go backend's bits.
//
// For NaN and for two zeros of opposite signs, Min and Max return one of
// their operands, and which one the Go backend returns depends on the
// shapes and on where the element sits. Measured (TestFusionMatchesStock
// plants NaN and zeros of both signs in the first and in the last, partial
// vector): with pick(a, b) = a > b ? a : b for Max (a < b ? a : b for Min),
// which returns b on NaN and on equal zeros, the Go backend computes
//
//	two tensors x, y:         pick(x, y) in its vector loop, pick(y, x) in the last partial vector;
//	tensor x and scalar c:    pick(c, x) in its vector loop, pick(x, c) in the last partial vector
//	(either operand order),
//
// where its vector loop covers the tensor in vectors of simd.Float32s and
// the last partial vector is the rest. So a fused Min or Max is
// pick(a, b) with its scalar operand (if any) as a, and with a and b swapped
// from TailFrom = Size rounded down to the vector length on
// (kernels.Instruction.SwapInTail). This was measured with AVX-512, where
// the vector is 16 floats, and with AVX2 (an AMD EPYC without AVX-512), where
// it is 8; with any other vector length (no GOEXPERIMENT=simd, other
// architectures) Min and Max stay stock.
//
// A scalar is what the Go backend sees as one: an operand of one element,
// or a BroadcastInDim of one whose input is a scalar or has the operand's
// rank (its ImplicitBroadcastFusion pass hands the binary op the broadcast's
// input instead). A BroadcastInDim of a larger value of the same rank
// becomes a row-by-row broadcast there, whose partial vectors are per row:
// such a Min or Max stays stock.

// minMaxVectorLens are the stock vector lengths the rule above was
// measured with.
var minMaxVectorLens = []int{8, 16}

// tailFrom is where the stock Go backend's last partial vector starts in a
// tensor of size elements (size itself when there is none, or when Min and
// Max do not fuse: then no instruction swaps).
func tailFrom(size int) int {
	l := stockVectorLen()
	if !slices.Contains(minMaxVectorLens, l) {
		return size
	}
	return size / l * l
}

// minMaxFusable says whether fusion can give a Min or Max node the stock
// bits: with the measured vector length, and no operand the Go backend
// broadcasts row by row.
func minMaxFusable(b *builder, n *node) bool {
	if !slices.Contains(minMaxVectorLens, stockVectorLen()) {
		return false
	}
	out := b.slots[n.outs[0]].shape
	for _, s := range n.inputs {
		if _, ok := stockOperand(b, s); !ok {
			return false
		}
		if in := b.slots[s].shape; in.Size() != 1 && !slices.Equal(in.Dimensions, out.Dimensions) {
			return false // a per-channel or per-example operand: row by row there too
		}
	}
	return true
}

// minMaxScalarFirst says whether a Min or Max node's second operand is the
// scalar one (and the first is not), so that the fused instruction must
// read its operands swapped to put the scalar first.
func minMaxScalarFirst(b *builder, n *node) bool {
	lhs, _ := stockOperand(b, n.inputs[0])
	rhs, _ := stockOperand(b, n.inputs[1])
	return rhs && !lhs
}

// stockOperand says how the Go backend's binary ops see operand slot s:
// as a scalar, or as a tensor of the op's shape; ok is false for a
// row-by-row broadcast (see above).
func stockOperand(b *builder, s int) (scalar, ok bool) {
	shape := b.slots[s].shape
	if shape.Size() == 1 {
		return true, true
	}
	if p := b.slots[s].producer; p != nil && p.op == "BroadcastInDim" && len(p.inputs) == 1 {
		in := b.slots[p.inputs[0]].shape
		if in.Rank() == 0 || in.Rank() == shape.Rank() {
			return in.Size() == 1, in.Size() == 1
		}
	}
	return false, true
}
