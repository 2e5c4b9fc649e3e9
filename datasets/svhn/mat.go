package svhn

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// This file reads the subset of the MATLAB level-5 MAT-file format that the
// SVHN files use: a 128-byte header, then top-level data elements, each a
// zlib-compressed (miCOMPRESSED) numeric matrix (miMATRIX) with array flags,
// dimensions, a name and a real part, stored column-major. Declared sizes are
// checked against limits before anything is allocated.

// MAT-file data types (MATLAB's "mi" constants) and array classes ("mx").
const (
	miINT8       = 1
	miUINT8      = 2
	miINT16      = 3
	miUINT16     = 4
	miINT32      = 5
	miUINT32     = 6
	miSINGLE     = 7
	miDOUBLE     = 9
	miINT64      = 12
	miUINT64     = 13
	miMATRIX     = 14
	miCOMPRESSED = 15

	mxDOUBLE = 6
	mxSINGLE = 7
	mxUINT8  = 9
)

// typeSize is the byte size of a numeric mi type (0: not numeric).
func typeSize(t uint32) int {
	switch t {
	case miINT8, miUINT8:
		return 1
	case miINT16, miUINT16:
		return 2
	case miINT32, miUINT32, miSINGLE:
		return 4
	case miDOUBLE, miINT64, miUINT64:
		return 8
	}
	return 0
}

// Array is a numeric matrix read from a MAT file. Bytes holds the real part
// when it is stored as uint8; otherwise Values holds it converted to float64.
// Both are column-major (the first dimension varies fastest).
type Array struct {
	Name   string
	Dims   []int
	Class  int
	Bytes  []uint8
	Values []float64
}

// Len is the number of elements.
func (a *Array) Len() int {
	n := 1
	for _, d := range a.Dims {
		n *= d
	}
	return n
}

// At returns element i as float64.
func (a *Array) At(i int) float64 {
	if a.Bytes != nil {
		return float64(a.Bytes[i])
	}
	return a.Values[i]
}

// MaxElementBytes bounds any declared element size (the SVHN training images
// are 225 MB): larger declarations are rejected as corrupt before allocating.
var MaxElementBytes int64 = 1 << 30

// ReadMat reads every matrix of a level-5 MAT file (little-endian).
func ReadMat(r io.Reader) (map[string]*Array, error) {
	br := bufio.NewReader(r)
	header := make([]byte, 128)
	if _, err := io.ReadFull(br, header); err != nil {
		return nil, fmt.Errorf("not a MAT file: header: %w", err)
	}
	if !bytes.HasPrefix(header, []byte("MATLAB 5.0 MAT-file")) {
		return nil, errors.New("not a MATLAB level-5 MAT file (header text)")
	}
	if header[126] != 'I' || header[127] != 'M' {
		return nil, fmt.Errorf("unsupported MAT file byte order %q (only little-endian files are read)", header[126:128])
	}
	arrays := map[string]*Array{}
	for {
		typ, size, small, err := readTag(br)
		if err == io.EOF {
			return arrays, nil
		}
		if err != nil {
			return nil, fmt.Errorf("truncated MAT file: %w", err)
		}
		if small != nil || typ != miCOMPRESSED && typ != miMATRIX {
			// Not a matrix: skip it (and its padding).
			if small == nil {
				if _, err := br.Discard(int(size + pad8(size))); err != nil {
					return nil, fmt.Errorf("truncated MAT file: %w", err)
				}
			}
			continue
		}
		if int64(size) > MaxElementBytes {
			return nil, fmt.Errorf("corrupt MAT file: element of %d bytes (limit %d)", size, MaxElementBytes)
		}
		var a *Array
		if typ == miCOMPRESSED {
			a, err = readCompressed(io.LimitReader(br, int64(size)))
		} else {
			a, err = readMatrix(io.LimitReader(br, int64(size)), int64(size))
			if err == nil {
				_, err = br.Discard(int(pad8(size)))
			}
		}
		if err != nil {
			return nil, err
		}
		arrays[a.Name] = a
	}
}

// pad8 is the padding that brings n to a multiple of 8.
func pad8(n uint32) uint32 { return (8 - n%8) % 8 }

// readTag reads a data element tag. For the small element format (data in the
// tag's second word) it returns the 4 data bytes in small.
func readTag(r io.Reader) (typ, size uint32, small []byte, err error) {
	var b [8]byte
	if _, err = io.ReadFull(r, b[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			err = errors.New("truncated element tag")
		}
		return
	}
	first := binary.LittleEndian.Uint32(b[:4])
	if first>>16 != 0 {
		return first & 0xffff, first >> 16, b[4:8], nil
	}
	return first, binary.LittleEndian.Uint32(b[4:]), nil, nil
}

// readCompressed inflates a miCOMPRESSED element holding one miMATRIX.
func readCompressed(r io.Reader) (*Array, error) {
	zr, err := zlib.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("corrupt MAT file: compressed element: %w", err)
	}
	defer zr.Close()
	typ, size, small, err := readTag(zr)
	if err != nil {
		return nil, fmt.Errorf("corrupt MAT file: compressed element: %w", err)
	}
	if small != nil || typ != miMATRIX {
		return nil, fmt.Errorf("unsupported MAT file: compressed element holds type %d, not a matrix", typ)
	}
	if int64(size) > MaxElementBytes {
		return nil, fmt.Errorf("corrupt MAT file: matrix of %d bytes (limit %d)", size, MaxElementBytes)
	}
	return readMatrix(io.LimitReader(zr, int64(size)), int64(size))
}

// readMatrix reads a miMATRIX body of the given declared size.
func readMatrix(r io.Reader, size int64) (*Array, error) {
	a := &Array{}
	// Array flags.
	typ, n, small, err := readTag(r)
	if err != nil || small != nil || typ != miUINT32 || n != 8 {
		return nil, fmt.Errorf("corrupt MAT file: matrix array flags (type %d, %d bytes, %v)", typ, n, err)
	}
	var flags [8]byte
	if _, err := io.ReadFull(r, flags[:]); err != nil {
		return nil, fmt.Errorf("truncated MAT file: array flags: %w", err)
	}
	a.Class = int(flags[0])
	if flags[1]&0x08 != 0 {
		return nil, errors.New("unsupported MAT file: complex matrix")
	}
	// Dimensions.
	typ, n, small, err = readTag(r)
	if err != nil || typ != miINT32 {
		return nil, fmt.Errorf("corrupt MAT file: matrix dimensions (type %d, %v)", typ, err)
	}
	dimBytes := small
	if dimBytes == nil {
		if int64(n) > size || n%4 != 0 {
			return nil, fmt.Errorf("corrupt MAT file: %d bytes of dimensions", n)
		}
		dimBytes = make([]byte, n+pad8(n))
		if _, err := io.ReadFull(r, dimBytes); err != nil {
			return nil, fmt.Errorf("truncated MAT file: dimensions: %w", err)
		}
	}
	total := int64(1)
	for i := 0; i+4 <= int(n); i += 4 {
		d := int64(int32(binary.LittleEndian.Uint32(dimBytes[i:])))
		if d < 0 || (d > 0 && total > MaxElementBytes/d) {
			return nil, fmt.Errorf("corrupt MAT file: dimension %d", d)
		}
		total *= d
		a.Dims = append(a.Dims, int(d))
	}
	// Name.
	typ, n, small, err = readTag(r)
	if err != nil || typ != miINT8 {
		return nil, fmt.Errorf("corrupt MAT file: matrix name (type %d, %v)", typ, err)
	}
	if small != nil {
		a.Name = string(small[:n])
	} else {
		if n > 1024 {
			return nil, fmt.Errorf("corrupt MAT file: name of %d bytes", n)
		}
		name := make([]byte, n+pad8(n))
		if _, err := io.ReadFull(r, name); err != nil {
			return nil, fmt.Errorf("truncated MAT file: name: %w", err)
		}
		a.Name = string(name[:n])
	}
	// Real part.
	typ, n, small, err = readTag(r)
	if err != nil {
		return nil, fmt.Errorf("truncated MAT file: data of %q: %w", a.Name, err)
	}
	ts := typeSize(typ)
	if ts == 0 {
		return nil, fmt.Errorf("unsupported MAT file: %q stored as type %d", a.Name, typ)
	}
	if int64(n) != total*int64(ts) {
		return nil, fmt.Errorf("corrupt MAT file: %q declares %v (%d elements) but %d bytes of type %d", a.Name, a.Dims, total, n, typ)
	}
	data := small
	if data == nil {
		data = make([]byte, n)
		if _, err := io.ReadFull(r, data); err != nil {
			return nil, fmt.Errorf("truncated MAT file: data of %q: %w", a.Name, err)
		}
	}
	data = data[:n]
	if typ == miUINT8 && a.Class == mxUINT8 {
		a.Bytes = data
		return a, nil
	}
	a.Values = make([]float64, total)
	for i := range a.Values {
		b := data[i*ts:]
		switch typ {
		case miINT8:
			a.Values[i] = float64(int8(b[0]))
		case miUINT8:
			a.Values[i] = float64(b[0])
		case miINT16:
			a.Values[i] = float64(int16(binary.LittleEndian.Uint16(b)))
		case miUINT16:
			a.Values[i] = float64(binary.LittleEndian.Uint16(b))
		case miINT32:
			a.Values[i] = float64(int32(binary.LittleEndian.Uint32(b)))
		case miUINT32:
			a.Values[i] = float64(binary.LittleEndian.Uint32(b))
		case miSINGLE:
			a.Values[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
		case miDOUBLE:
			a.Values[i] = math.Float64frombits(binary.LittleEndian.Uint64(b))
		case miINT64:
			a.Values[i] = float64(int64(binary.LittleEndian.Uint64(b)))
		case miUINT64:
			a.Values[i] = float64(binary.LittleEndian.Uint64(b))
		}
	}
	return a, nil
}
