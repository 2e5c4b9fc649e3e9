package engine

// Kernel reverses: GoMLX's input gradient of a convolution convolves the
// output gradient with the forward kernel reversed along its spatial axes,
// a stock Reverse that copies the kernel at every step (3.4% of a ResNet-18
// width 1 batch 32 training step on the AVX2 machine). A native
// convolution can read the kernel reversed while it packs it instead
// (kernels.Conv2D.PackWeights with negative strides), so
// foldKernelReverses gives it the Reverse's operand, and the Reverse is
// dropped from the plan when nothing else reads it. MLSYSREP_ENGINE_OFF=Reverse
// keeps the Reverses, to compare.

// reverseOff is the op name MLSYSREP_ENGINE_OFF takes to keep the Reverses.
const reverseOff = "Reverse"

// kernelFlipper is a native convolution that can read its kernel (operand
// 1) reversed along some of its axes.
type kernelFlipper interface {
	// flipped returns the same convolution reading its kernel operand
	// reversed along axes (of the kernel tensor), or nil when it cannot.
	flipped(axes []int) kernel
}

// foldKernelReverses replaces each native convolution whose kernel is a
// Reverse it can read through by one reading the Reverse's operand. It runs
// once per plan, after elideIdentities.
func foldKernelReverses(b *builder) {
	if !b.backend.native || listed(OffEnvVar, reverseOff) {
		return
	}
	for i, n := range b.nodes {
		f, ok := n.native.(kernelFlipper)
		if !ok || len(n.inputs) != 2 || len(n.outs) != 1 || n.outs[0] < 0 {
			continue
		}
		r := b.slots[n.inputs[1]].producer
		if r == nil || r.op != "Reverse" || len(r.inputs) != 1 || len(r.args) != 2 {
			continue
		}
		axes, _ := r.args[1].([]int)
		k := f.flipped(axes)
		if k == nil {
			continue
		}
		m := &node{op: n.op, inputs: []int{n.inputs[0], r.inputs[0]}, outs: n.outs, native: k, order: n.order}
		b.nodes[i] = m
		b.slots[m.outs[0]].producer = m
	}
}

// flipAxes returns the strides of a kernel's two spatial axes (tensor axes
// spatial[0] and spatial[1]) for reading it reversed along axes: negated
// for each reversed one. ok is false when axes names another axis or one
// twice.
func flipAxes(axes []int, spatial [2]int, sH, sW int) (int, int, bool) {
	seen := [2]bool{}
	for _, a := range axes {
		j := -1
		for k, s := range spatial {
			if a == s {
				j = k
			}
		}
		if j < 0 || seen[j] {
			return 0, 0, false
		}
		seen[j] = true
	}
	if seen[0] {
		sH = -sH
	}
	if seen[1] {
		sW = -sW
	}
	return sH, sW, true
}
