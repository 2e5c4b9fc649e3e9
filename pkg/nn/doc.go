// Package nn holds the layers the project's models are built from, with
// PyTorch's semantics where they differ from GoMLX's defaults: batch
// normalization with PyTorch's momentum and unbiased running variance,
// convolutions and dense layers with PyTorch's default initialization and a
// hook to quantize their weights, a depthwise convolution whose gradients are
// single convolutions, BN folding for post-training quantization, and a model
// summary that records every layer and quantizer a model places.
package nn
