package torchfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// Read reads a state dict from a torch.save file (the zip format of
// PyTorch >= 1.6, and the legacy format of older versions) or a safetensors
// file. The format is chosen from the file's content, never its extension.
// A checkpoint dict that holds the state dict under "net", "state_dict" or
// "model" (pytorch-cifar saves {"net": state_dict, "acc": ..., "epoch":
// ...}) is unwrapped; a "module." prefix carried by every key
// (nn.DataParallel) is removed. Errors name the file and say what was found
// (e.g. "a dict with keys [a b c], no tensors" or "not a torch.save or
// safetensors file").
//
// Non-tensor entries of a state dict are skipped. A file that yields no
// tensor is an error, and so is a tensor whose dtype or kind this package
// cannot convert (complex, quantized or sparse tensors, for instance); the
// error names the tensor.
func Read(path string) (StateDict, error) {
	info, err := os.Stat(path)
	if err == nil && info.IsDir() {
		err = fmt.Errorf("%s: is a directory", path)
	}
	if err != nil {
		return nil, fmt.Errorf("torchfile: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("torchfile: %w", err)
	}
	return Decode(path, data)
}

// Decode is Read of a file's bytes already in memory (name says which file
// in errors): a caller that hashes the file reads it once.
func Decode(name string, data []byte) (StateDict, error) {
	f := sniff(data)
	var sd StateDict
	var err error
	switch f.kind {
	case kindSafetensors:
		sd, err = readSafetensors(data)
	case kindTorchZip, kindTorchLegacy:
		sd, err = readTorch(data, f.kind)
	case kindTorchLegacyTar:
		err = errors.New("a torch.save file in the tar format of early PyTorch versions, which this package does not read")
	default:
		err = fmt.Errorf("not a torch.save or safetensors file (%d bytes, starting with %q)", f.size, f.head)
	}
	if err != nil {
		return nil, fmt.Errorf("torchfile: %s: %w", name, err)
	}
	stripPrefix(sd, "module.")
	return sd, nil
}

type kind int

const (
	kindUnknown kind = iota
	kindTorchZip
	kindTorchLegacy
	kindTorchLegacyTar
	kindSafetensors
)

// sniffed is what the first bytes of a file say about its format.
type sniffed struct {
	kind kind
	size int64
	head []byte // at most the first 16 bytes, for error messages
}

// legacyMagic is how the legacy torch.save format starts: pickle protocol 2
// (0x80 0x02), then LONG1 (0x8a) of 10 bytes holding the magic number
// 0x1950a86a20f9469cfc6c, little-endian.
var legacyMagic = []byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}

// maxSafetensorsHeader is the largest header the safetensors library accepts.
const maxSafetensorsHeader = 100_000_000

// sniff says from a file's first bytes which format it is in.
func sniff(data []byte) sniffed {
	buf := data[:min(len(data), 512)]
	n := len(buf)
	s := sniffed{size: int64(len(data)), head: buf[:min(n, 16)]}
	switch {
	case bytes.HasPrefix(buf, []byte("PK\x03\x04")):
		s.kind = kindTorchZip
	case bytes.HasPrefix(buf, legacyMagic):
		s.kind = kindTorchLegacy
	case n >= 262 && string(buf[257:262]) == "ustar":
		s.kind = kindTorchLegacyTar
	case n >= 10 && buf[8] == '{' && binary.LittleEndian.Uint64(buf) <= maxSafetensorsHeader:
		s.kind = kindSafetensors
	}
	return s
}
