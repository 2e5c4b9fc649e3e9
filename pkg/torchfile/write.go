package torchfile

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/nlpodyssey/safetensors"
)

// WriteSafetensors writes sd as a safetensors file with the given string
// metadata (may be nil), atomically (temporary file in the same folder,
// fsync, rename), so an interrupted write never leaves a partial file at
// path.
//
// A tensor whose DType is "int64" (a BN's num_batches_tracked) is written as
// I64, every other as F32 whatever its DType; len(Data) must equal the
// product of Shape (1 for a scalar). The tensors are stored sorted by name, so
// the same state dict always gives the same bytes. The file gets mode 0644;
// a file already at path is replaced.
func WriteSafetensors(path string, sd StateDict, metadata map[string]string) (err error) {
	views := make(map[string]tensorView, len(sd))
	for name, t := range sd {
		if name == "" || name == "__metadata__" {
			return fmt.Errorf("torchfile: writing %s: invalid tensor name %q", path, name)
		}
		shape := make([]uint64, len(t.Shape)) // not nil: a scalar's shape is [], not null
		numel := 1
		for i, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("torchfile: writing %s: tensor %q: negative dimension in shape %v", path, name, t.Shape)
			}
			shape[i] = uint64(d)
			numel *= d
		}
		if len(t.Data) != numel {
			return fmt.Errorf("torchfile: writing %s: tensor %q: shape %v holds %d values, Data has %d",
				path, name, t.Shape, numel, len(t.Data))
		}
		dtype := safetensors.F32
		if t.DType == "int64" {
			dtype = safetensors.I64
		}
		views[name] = tensorView{dtype: dtype, shape: shape, data: t.Data}
	}

	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("torchfile: writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
			err = fmt.Errorf("torchfile: writing %s: %w", path, err)
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err = safetensors.SerializeToWriter(views, metadata, w); err != nil {
		return err
	}
	if err = w.Flush(); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename in dir durable where the file system allows it;
// failures are ignored (some file systems cannot sync a directory).
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// tensorView is a tensor as the safetensors library serializes it (F32 or
// I64); the bytes are made when the library asks for them, one tensor at a
// time.
type tensorView struct {
	dtype safetensors.DType
	shape []uint64
	data  []float32
}

var _ safetensors.View = tensorView{}

func (v tensorView) DType() safetensors.DType { return v.dtype }
func (v tensorView) Shape() []uint64          { return v.shape }
func (v tensorView) DataLen() uint64          { return v.dtype.Size() * uint64(len(v.data)) }

// Data returns the values as little-endian bytes of the view's dtype.
func (v tensorView) Data() []byte {
	if v.dtype == safetensors.I64 {
		b := make([]byte, 8*len(v.data))
		for i, x := range v.data {
			binary.LittleEndian.PutUint64(b[8*i:], uint64(int64(x)))
		}
		return b
	}
	b := make([]byte, 4*len(v.data))
	for i, x := range v.data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}
