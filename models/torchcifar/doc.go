// Package torchcifar converts between the state dicts of the widely used
// pytorch-cifar models (kuangliu/pytorch-cifar's ResNet18 and MobileNetV2,
// whose architectures are PROTOCOL section 3's) and the variables of this
// project's models/resnet and models/mobilenetv2, both ways:
//
//   - Import maps a state dict (read by pkg/torchfile, from a torch.save file
//     or safetensors) to variable values by scope path, in the models'
//     layout: convolutions OIHW -> HWIO, depthwise [C,1,k,k] -> [k,k,C], the
//     FC's [out,in] -> [in,out], batch norm weight/bias/running statistics ->
//     scale/offset/running_mean/running_var; num_batches_tracked is ignored.
//     The width (and ResNet's blocks per stage, and the class count) are
//     inferred from the tensors. Every missing, unexpected or mis-shaped key
//     is listed in one error.
//   - Export is the inverse: a trained model's variables as a state dict with
//     pytorch-cifar's names, for pkg/torchfile.WriteSafetensors, so a model
//     trained here loads into PyTorch with load_state_dict(strict=True).
//
// The width rule is the models': a reference channel count c becomes
// max(1, round(c * width)), and MobileNetV2's expansion channels are the
// rounded input count times t. At width 1 the names and shapes are exactly
// pytorch-cifar's; MobileNetV2's activations are ReLU6 as in PROTOCOL (the
// pytorch-cifar file uses ReLU: its weights load, its accuracy is then that
// of a ReLU6 network).
package torchcifar
