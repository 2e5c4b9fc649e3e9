// Package torchfile reads and writes PyTorch weight files: the state dicts
// that torch.save writes, and safetensors files.
//
// Read takes a torch.save file (the zip format of PyTorch >= 1.6, or the
// legacy format of older versions) or a safetensors file, and returns the
// tensors by name as float32 values in PyTorch's layout (row-major, C order),
// with the dtype the file stored. The format is chosen from the file's first
// bytes, never from its extension. Reading a torch.save file runs no Python
// code: the pickle is interpreted by github.com/nlpodyssey/gopickle, with
// only the few classes a state dict needs (tensors, typed storages, dicts);
// any other object a checkpoint carries is kept as an opaque value and
// ignored. Tensors with a storage offset, non-contiguous or zero strides
// (views, transposes, expands) are gathered into C order.
//
// This package reads the two torch.save containers itself (zip records,
// legacy stream) instead of calling gopickle's pytorch.Load, and decodes
// float16 itself: gopickle v0.2.0's float16 table maps -0, subnormals and NaN
// to wrong values, and its storage decoders trust a single Read to fill
// their buffer (pytorch.Load fails with EOF on a zip whose records are
// compressed, which torch.load reads).
//
// Checkpoints are unwrapped: a dict that holds the state dict under "net"
// (kuangliu/pytorch-cifar's {"net": state_dict, "acc": ..., "epoch": ...}),
// "state_dict" or "model" gives that state dict, and a "module." prefix that
// every name carries (what nn.DataParallel adds) is removed. Non-tensor
// entries of a state dict (rare: a number or a string saved next to the
// tensors) are skipped; a file that gives no tensor at all is an error.
//
// WriteSafetensors writes a StateDict as a float32 safetensors file, with
// optional string metadata, atomically.
//
// The package depends only on the standard library, gopickle and
// github.com/nlpodyssey/safetensors.
package torchfile
