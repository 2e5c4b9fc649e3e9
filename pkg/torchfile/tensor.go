package torchfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/nlpodyssey/gopickle/pytorch"
)

// torchDType names the dtype of a gopickle storage, PyTorch's way.
func torchDType(s pytorch.StorageInterface) string {
	switch s.(type) {
	case *pytorch.FloatStorage:
		return "float32"
	case *halfStorage:
		return "float16"
	case *pytorch.BFloat16Storage:
		return "bfloat16"
	case *pytorch.DoubleStorage:
		return "float64"
	case *pytorch.CharStorage:
		return "int8"
	case *pytorch.ShortStorage:
		return "int16"
	case *pytorch.IntStorage:
		return "int32"
	case *pytorch.LongStorage:
		return "int64"
	case *pytorch.ByteStorage:
		return "uint8"
	case *pytorch.BoolStorage:
		return "bool"
	}
	return ""
}

// fromTorch converts a gopickle tensor: a view (offset, sizes, strides in
// elements) of a typed storage, gathered into C order.
func fromTorch(t *pytorch.Tensor) (Tensor, error) {
	if len(t.Size) != len(t.Stride) {
		return Tensor{}, fmt.Errorf("%d sizes but %d strides", len(t.Size), len(t.Stride))
	}
	v := view{offset: t.StorageOffset, size: t.Size, stride: t.Stride}
	var data []float32
	var err error
	switch s := t.Source.(type) {
	case *pytorch.FloatStorage:
		data, err = gather(s.Data, func(x float32) float32 { return x }, v)
	case *halfStorage:
		data, err = gather(s.bits, halfToFloat32, v)
	case *pytorch.BFloat16Storage: // gopickle converts bfloat16 to float32 on load
		data, err = gather(s.Data, func(x float32) float32 { return x }, v)
	case *pytorch.DoubleStorage:
		data, err = gather(s.Data, func(x float64) float32 { return float32(x) }, v)
	case *pytorch.CharStorage:
		data, err = gather(s.Data, func(x int8) float32 { return float32(x) }, v)
	case *pytorch.ShortStorage:
		data, err = gather(s.Data, func(x int16) float32 { return float32(x) }, v)
	case *pytorch.IntStorage:
		data, err = gather(s.Data, func(x int32) float32 { return float32(x) }, v)
	case *pytorch.LongStorage:
		data, err = gather(s.Data, func(x int64) float32 { return float32(x) }, v)
	case *pytorch.ByteStorage:
		data, err = gather(s.Data, func(x uint8) float32 { return float32(x) }, v)
	case *pytorch.BoolStorage:
		data, err = gather(s.Data, func(x bool) float32 {
			if x {
				return 1
			}
			return 0
		}, v)
	case *unsupportedStorage:
		return Tensor{}, s.err()
	default:
		return Tensor{}, fmt.Errorf("unsupported storage %T", t.Source)
	}
	if err != nil {
		return Tensor{}, err
	}
	return Tensor{DType: torchDType(t.Source), Shape: slices.Clone(t.Size), Data: data}, nil
}

// view is a strided view of a storage, in elements.
type view struct {
	offset       int
	size, stride []int
}

// maxElements bounds a tensor's element count (1 GiB of float32): a state
// dict's tensors are far smaller, and a crafted view (stride 0 over huge
// sizes) must not make Read allocate without bound.
const maxElements = 1 << 28

// gather copies the elements of the view v of src in C order, converted.
func gather[T any](src []T, conv func(T) float32, v view) ([]float32, error) {
	numel, last := 1, v.offset
	for i, n := range v.size {
		if n < 0 || v.stride[i] < 0 {
			return nil, fmt.Errorf("invalid size %v or stride %v", v.size, v.stride)
		}
		if n > 0 && numel > maxElements/n {
			return nil, fmt.Errorf("a view of size %v holds more than %d elements", v.size, maxElements)
		}
		numel *= n
		if n > 1 && v.stride[i] > len(src) { // past the storage (and no overflow): the bounds check says so
			last = len(src)
		} else if n > 0 && last < len(src) {
			last += (n - 1) * v.stride[i]
		}
	}
	if numel == 0 {
		return []float32{}, nil
	}
	if v.offset < 0 || last >= len(src) {
		return nil, fmt.Errorf("the view (offset %d, size %v, stride %v) reaches element %d of a storage of %d",
			v.offset, v.size, v.stride, last, len(src))
	}
	out := make([]float32, 0, numel)
	nd := len(v.size)
	if nd == 0 {
		return append(out, conv(src[v.offset])), nil
	}
	inner, innerStride := v.size[nd-1], v.stride[nd-1]
	idx := make([]int, nd-1)
	pos := v.offset // storage index of the current row's first element
	for {
		p := pos
		for range inner {
			out = append(out, conv(src[p]))
			p += innerStride
		}
		d := nd - 2
		for ; d >= 0; d-- { // odometer over the outer dimensions
			idx[d]++
			pos += v.stride[d]
			if idx[d] < v.size[d] {
				break
			}
			pos -= v.stride[d] * v.size[d]
			idx[d] = 0
		}
		if d < 0 {
			return out, nil
		}
	}
}

// ----- Classes -----

// storageType is a torch.<T>Storage class: its element size and how its
// bytes become one of gopickle's typed storages (nil new: a dtype this
// package cannot convert).
type storageType struct {
	name string
	size int
	new  func(numel int) pytorch.StorageInterface
}

// decode makes a storage of numel values from their little-endian bytes.
func (st *storageType) decode(raw []byte, numel int) (pytorch.StorageInterface, error) {
	s := st.new(numel)
	// A bytes.Reader: gopickle's decoders take whatever one Read returns.
	return s, s.SetFromFileWithSize(bytes.NewReader(raw), numel)
}

// storageTypes are the storages this package decodes, by class name.
var storageTypes = map[string]*storageType{}

func init() {
	for _, st := range []struct {
		name  string
		size  int
		class pytorch.StorageClassInterface
	}{
		{"FloatStorage", 4, &pytorch.FloatStorageClass{}},
		{"DoubleStorage", 8, &pytorch.DoubleStorageClass{}},
		{"BFloat16Storage", 2, &pytorch.BFloat16StorageClass{}},
		{"LongStorage", 8, &pytorch.LongStorageClass{}},
		{"IntStorage", 4, &pytorch.IntStorageClass{}},
		{"ShortStorage", 2, &pytorch.ShortStorageClass{}},
		{"CharStorage", 1, &pytorch.CharStorageClass{}},
		{"ByteStorage", 1, &pytorch.ByteStorageClass{}},
		{"BoolStorage", 1, &pytorch.BoolStorageClass{}},
	} {
		class := st.class
		storageTypes[st.name] = &storageType{name: st.name, size: st.size,
			new: func(numel int) pytorch.StorageInterface { return class.New(numel, "cpu") }}
	}
	// gopickle's HalfStorage converts with a wrong float16 table; this one keeps the bits.
	storageTypes["HalfStorage"] = &storageType{name: "HalfStorage", size: 2,
		new: func(int) pytorch.StorageInterface { return &halfStorage{} }}
}

// halfStorage is a float16 storage kept as its bits.
type halfStorage struct{ bits []uint16 }

func (s *halfStorage) SetFromFile(r io.Reader) error {
	var count [8]byte
	if _, err := io.ReadFull(r, count[:]); err != nil {
		return err
	}
	return s.SetFromFileWithSize(r, int(binary.LittleEndian.Uint64(count[:])))
}

func (s *halfStorage) SetFromFileWithSize(r io.Reader, size int) error {
	raw := make([]byte, 2*size)
	if _, err := io.ReadFull(r, raw); err != nil {
		return err
	}
	s.bits = make([]uint16, size)
	for i := range s.bits {
		s.bits[i] = binary.LittleEndian.Uint16(raw[2*i:])
	}
	return nil
}

// halfToFloat32 converts IEEE 754 binary16 bits exactly: signed zeros,
// subnormals, infinities and NaNs (payload kept) included.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch exp {
	case 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case 0: // zero or subnormal: man * 2^-24, exact in float32
		return math.Float32frombits(sign | math.Float32bits(float32(man)*0x1p-24))
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
}
