// Package prune removes weights from networks built with pkg/nn:
// unstructured magnitude pruning with masks, per layer or with one global
// threshold, in one shot or on Zhu & Gupta's gradual schedule (2017).
//
// A pruned layer computes with w * mask: Mask is an nn.WeightQuantizer that
// keeps the mask in a non-trainable variable ("prune_mask") next to the
// layer's "weights", all ones until Update prunes. Update sets the masks of
// every masked layer of a store from the magnitudes of the weights as the
// network uses them (w * mask, so a pruned weight stays pruned as the
// sparsity grows) and sets the pruned weights to zero. train.Pruning runs
// Update on a Schedule between training steps and zeroes the pruned
// weights' SGD velocity: from then on a pruned weight gets a zero gradient,
// a zero weight-decay term and no momentum, and stays exactly zero through
// training. (This package knows no optimizer: the models use it, and models
// know nothing of training.)
//
// Structured filter pruning's shared pieces (FilterNorms, KeepFilters,
// SelectAxis, Surgery) are here too; the surgery itself is the models'.
//
// Which layers are masked is the model's choice (where it passes Mask, or
// Then(q) for a quantized layer: prune first, then quantize, Deep
// Compression's order); this package prunes whatever it finds masked.
package prune
