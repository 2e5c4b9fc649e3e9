// Package prune removes weights from networks built with pkg/nn:
// unstructured magnitude pruning with masks, per layer or with one global
// threshold, in one shot or on Zhu & Gupta's gradual schedule (2017).
//
// A pruned layer computes with w * mask: Mask is an nn.WeightQuantizer that
// keeps the mask in a non-trainable variable ("prune_mask") next to the
// layer's "weights", all ones until Update prunes. Update sets the masks of
// every masked layer of a store from the magnitudes of the weights as the
// network uses them (w * mask, so a pruned weight stays pruned as the
// sparsity grows), sets the pruned weights to zero and zeroes their SGD
// velocity (train.MaskVelocity): from then on a pruned weight gets a zero
// gradient, a zero weight-decay term and no momentum, and stays exactly zero
// through training. Hook runs Update on a schedule between training steps
// (train.Config.BeforeStep).
//
// Which layers are masked is the model's choice (where it passes Mask, or
// Then(q) for a quantized layer: prune first, then quantize, Deep
// Compression's order); this package prunes whatever it finds masked.
package prune
