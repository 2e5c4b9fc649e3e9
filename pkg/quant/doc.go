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
//     names the function and the range, as GoMLX graph functions do; the
//     layers and Config parsing return errors instead.
package quant
