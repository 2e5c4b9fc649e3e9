package torchfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/nlpodyssey/safetensors"
)

// readSafetensors reads every tensor of a safetensors file.
func readSafetensors(buf []byte) (sd StateDict, err error) {
	defer func() {
		if p := recover(); p != nil { // the library panics on some malformed inputs
			sd, err = nil, fmt.Errorf("invalid safetensors file: %v", p)
		}
	}()
	n := binary.LittleEndian.Uint64(buf)
	if 8+n > uint64(len(buf)) {
		return nil, fmt.Errorf("truncated safetensors file: its header length is %d bytes, the file has %d bytes", n, len(buf))
	}
	st, err := safetensors.Deserialize(buf)
	if err != nil {
		if strings.Contains(err.Error(), "incomplete buffer") {
			return nil, fmt.Errorf("invalid safetensors file (%d bytes, header %d bytes): truncated or padded, the tensors' data does not end where the file does (%w)", len(buf), n, err)
		}
		return nil, fmt.Errorf("invalid safetensors file (%d bytes, header %d bytes): %w", len(buf), n, err)
	}
	if st.Len() == 0 {
		return nil, errors.New("a safetensors file with no tensors")
	}
	sd = make(StateDict, st.Len())
	for _, nt := range st.Tensors() {
		t, err := fromSafetensors(nt.TensorView)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", nt.Name, err)
		}
		sd[nt.Name] = t
	}
	return sd, nil
}

// safetensorsDTypes maps the safetensors dtypes to PyTorch's names.
var safetensorsDTypes = map[safetensors.DType]string{
	safetensors.BOOL: "bool",
	safetensors.U8:   "uint8",
	safetensors.I8:   "int8",
	safetensors.I16:  "int16",
	safetensors.U16:  "uint16",
	safetensors.F16:  "float16",
	safetensors.BF16: "bfloat16",
	safetensors.I32:  "int32",
	safetensors.U32:  "uint32",
	safetensors.F32:  "float32",
	safetensors.F64:  "float64",
	safetensors.I64:  "int64",
	safetensors.U64:  "uint64",
}

// fromSafetensors converts one tensor view (contiguous little-endian bytes).
func fromSafetensors(v safetensors.TensorView) (Tensor, error) {
	dt := v.DType()
	name, ok := safetensorsDTypes[dt]
	if !ok {
		return Tensor{}, fmt.Errorf("unsupported dtype %d", dt)
	}
	shape := make([]int, len(v.Shape()))
	numel := 1
	for i, d := range v.Shape() {
		if d > math.MaxInt32 {
			return Tensor{}, fmt.Errorf("dimension %d too large", d)
		}
		shape[i] = int(d)
		numel *= int(d)
	}
	raw := v.Data()
	size := int(dt.Size())
	if len(raw) != numel*size {
		return Tensor{}, fmt.Errorf("shape %v of %s needs %d bytes, the file has %d", shape, name, numel*size, len(raw))
	}
	data := make([]float32, numel)
	le := binary.LittleEndian
	for i := range data {
		b := raw[i*size : (i+1)*size]
		var x float32
		switch dt {
		case safetensors.BOOL:
			if b[0] != 0 {
				x = 1
			}
		case safetensors.U8:
			x = float32(b[0])
		case safetensors.I8:
			x = float32(int8(b[0]))
		case safetensors.I16:
			x = float32(int16(le.Uint16(b)))
		case safetensors.U16:
			x = float32(le.Uint16(b))
		case safetensors.F16:
			x = halfToFloat32(le.Uint16(b))
		case safetensors.BF16:
			x = math.Float32frombits(uint32(le.Uint16(b)) << 16)
		case safetensors.I32:
			x = float32(int32(le.Uint32(b)))
		case safetensors.U32:
			x = float32(le.Uint32(b))
		case safetensors.F32:
			x = math.Float32frombits(le.Uint32(b))
		case safetensors.F64:
			x = float32(math.Float64frombits(le.Uint64(b)))
		case safetensors.I64:
			x = float32(int64(le.Uint64(b)))
		case safetensors.U64:
			x = float32(le.Uint64(b))
		}
		data[i] = x
	}
	return Tensor{DType: name, Shape: shape, Data: data}, nil
}
