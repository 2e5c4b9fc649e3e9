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
// Adding a method touches four places and no model:
//
//  1. its formula and layer: pkg/quant/<method>.go, and its Method constant
//     and bit-width rules in config.go (a case in parseBits and Validate);
//  2. where the models put it: its Policy entry in models/placement/policy.go
//     (are a ResNet's block and shortcut convolutions quantized, what follows
//     a residual add) and its weight and activation quantizers in
//     placement.go's Weights and Activation;
//  3. its recipe: quant/<method>/<method>.go (the reference table, its cells
//     and presets), and one import line in quant/tables/tables.go so that the
//     runner and the notebooks know the table;
//  4. its notebook: notebooks/<method>.ipynb.
//
// The models (models/resnet, models/mobilenetv2) ask the placement policy
// and name no method but FP; models/svhnnet, the DoReFa-Net paper's Model
// A, accepts FP and DoReFa only, on purpose.
package quant
