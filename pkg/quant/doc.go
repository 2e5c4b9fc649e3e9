// Package quant holds mlsysrep's quantizers: pure graph functions, one per
// formula of the reference experiments (PROTOCOL section 4), and GoMLX layers
// built on them that models drop in where the reference placed them.
//
// Graph functions (usable on any *graph.Node, no model scope needed):
//
//	QuantizeUnit(x, k)            quantize_k on [0,1], straight-through gradient
//	DoReFaWeight(w, k)            DoReFa-Net weights (tanh mapping; sign rule at k=1)
//	DoReFaActivation(x, k)        DoReFa-Net activations: quantize_k(clip(x, 0, 1))
//	DoReFaGradient(x, k, noise)   identity forward, quantized gradient backward
//	PACT(x, alpha, k)             clip to [0, alpha] and quantize, with PACT's gradients
//	LSQ(v, step, k, signed)       learned step size, gradient scaled by 1/sqrt(Qp*N)
//	FakeQuantAffine(x, s, z, lo, hi)  PyTorch's fake quantization
//
// Conventions shared by all of them:
//
//   - round() is round-half-to-even (torch.round's rule);
//   - k == 32 means no quantization: the function is the identity, forward and
//     backward, except PACT, which still clips to [0, alpha];
//   - forward values are computed exactly as the formula reads (the straight-
//     through construction adds an exact zero, never x + (q - x));
//   - a bit width outside a function's valid range panics with a message that
//     names the function and the range, as GoMLX graph functions do; Config
//     parsing returns errors instead.
//
// Layers (one file per method: its formula, then its layer) wrap the graph
// functions for use inside models, GoMLX-style builders ending in Done:
//
//	y := quant.PACTLayer(scope.In("act1"), x).Bits(4).Done()
//
// They read their bit widths from the builder or the scope's
// hyperparameters (params.go), own their trainable parameters (PACT's alpha,
// LSQ's step) as variables of the scope they are given (so give each site
// its own scope), and, as GoMLX's own builders do, Done panics on a bad bit
// width or PTQ mode: a model function runs inside GoMLX's executor, which
// returns the panic as the error of the call that built the graph.
//
// Adding a method: its formula and layer in pkg/quant/<method>.go, its
// config syntax in config.go, where the models place it in
// models/placement, and its recipe (reference table, presets) in
// quant/<method>/.
package quant
