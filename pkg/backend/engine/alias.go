package engine

// elideIdentities makes the readers of an Identity's output read its operand
// instead, which leaves the Identity dead (liveNodes then drops it). The v1
// engine copies the operand of every Identity whose operand is still in use,
// and GoMLX emits one for each StopGradient: the quantizers' straight-through
// estimators make hundreds per training step (460 per MobileNetV2 DoReFa
// step), each a full copy of an activation. Values are immutable once
// written, so reading the operand is the same as reading its copy.
//
// An Identity the graph returns stays: the caller must get distinct buffers,
// not a parameter of its own. MLSYSREP_ENGINE_OFF=Identity keeps them all
// (to measure what this saves). It is idempotent: a second pass finds no
// reader left to rewrite.
func elideIdentities(b *builder) {
	if listed(OffEnvVar, "Identity") {
		return
	}
	returned := make(map[int]bool, len(b.outs))
	for _, s := range b.outs {
		returned[s] = true
	}
	alias := map[int]int{}
	for _, n := range b.nodes { // recording order: an operand is aliased before its readers come
		if len(alias) > 0 {
			rewriteInputs(n, alias)
		}
		if n.op == "Identity" && len(n.inputs) == 1 && len(n.outs) == 1 && n.outs[0] >= 0 && !returned[n.outs[0]] {
			alias[n.outs[0]] = n.inputs[0]
		}
	}
}

// rewriteInputs replaces the aliased slots a node reads, in its inputs and
// in the arguments it is replayed with (a fresh slice for a list of values:
// the recorded one may be shared).
func rewriteInputs(n *node, alias map[int]int) {
	for i, s := range n.inputs {
		if a, ok := alias[s]; ok {
			n.inputs[i] = a
		}
	}
	for i, arg := range n.args {
		switch arg := arg.(type) {
		case slotArg:
			if a, ok := alias[int(arg)]; ok {
				n.args[i] = slotArg(a)
			}
		case slotsArg:
			out := make(slotsArg, len(arg))
			for j, s := range arg {
				out[j] = s
				if a, ok := alias[s]; ok {
					out[j] = a
				}
			}
			n.args[i] = out
		}
	}
}
