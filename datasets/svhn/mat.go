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
// are 225 MB) and the float64 values a matrix converts to: larger
// declarations are rejected as corrupt before allocating.
var MaxElementBytes int64 = 1 << 30

// maxDims bounds the number of dimensions of a matrix (SVHN's have 2 and 4).
const maxDims = 32

// ReadMat reads every matrix of a level-5 MAT file (little-endian). It returns
// an error, never panics, on a malformed file, and allocates in proportion to
// the bytes actually present (or inflated), not to the sizes a file declares.
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
			return nil, err
		}
		if small != nil || typ != miCOMPRESSED && typ != miMATRIX {
			// Not a matrix: skip it (and its padding).
			if small == nil {
				if _, err := br.Discard(int(int64(size) + int64(pad8(size)))); err != nil {
					return nil, fmt.Errorf("truncated MAT file: element of type %d: %w", typ, err)
				}
			}
			continue
		}
		if int64(size) > MaxElementBytes {
			return nil, fmt.Errorf("corrupt MAT file: element of %d bytes (limit %d)", size, MaxElementBytes)
		}
		body := &io.LimitedReader{R: br, N: int64(size)}
		var a *Array
		if typ == miCOMPRESSED {
			a, err = readCompressed(body)
		} else {
			a, err = readMatrix(body, int64(size))
		}
		if err != nil {
			return nil, err
		}
		// Skip what the matrix did not use (a zlib trailer, fields this
		// reader ignores) so that the next tag is read where it starts.
		if _, err := io.Copy(io.Discard, body); err != nil || body.N != 0 {
			return nil, fmt.Errorf("truncated MAT file: the element of %q ends %d bytes early (%v)", a.Name, body.N, err)
		}
		if typ == miMATRIX {
			if _, err := br.Discard(int(pad8(size))); err != nil {
				return nil, fmt.Errorf("truncated MAT file: padding after %q: %w", a.Name, err)
			}
		}
		arrays[a.Name] = a
	}
}

// pad8 is the padding that brings n to a multiple of 8.
func pad8(n uint32) uint32 { return (8 - n%8) % 8 }

// readTag reads a data element tag. For the small element format (at most 4
// data bytes in the tag's second word) it returns those n bytes in small. It
// returns io.EOF only when r ends exactly before the tag; a tag cut short or
// a small element claiming more than 4 bytes is an error.
func readTag(r io.Reader) (typ, size uint32, small []byte, err error) {
	var b [8]byte
	if _, err = io.ReadFull(r, b[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			err = errors.New("truncated MAT file: element tag cut short")
		}
		return 0, 0, nil, err
	}
	first := binary.LittleEndian.Uint32(b[:4])
	if n := first >> 16; n != 0 {
		if n > 4 {
			return 0, 0, nil, fmt.Errorf("corrupt MAT file: small element of type %d claims %d bytes (at most 4 fit in a tag)", first&0xffff, n)
		}
		return first & 0xffff, n, b[4 : 4+n], nil
	}
	return first, binary.LittleEndian.Uint32(b[4:]), nil, nil
}

// readInnerTag reads a tag inside a matrix, where the end of the data is
// never a clean end.
func readInnerTag(r io.Reader, what string) (typ, size uint32, small []byte, err error) {
	typ, size, small, err = readTag(r)
	if err == io.EOF {
		err = errors.New("truncated MAT file: element tag missing")
	}
	if err != nil {
		err = fmt.Errorf("%s: %w", what, err)
	}
	return typ, size, small, err
}

// readBytes reads exactly n bytes, growing the buffer as the data arrives
// instead of allocating n up front: a short corrupt file that declares a huge
// element fails at its end having allocated about what it holds.
func readBytes(r io.Reader, n int64) ([]byte, error) {
	const chunk = 1 << 20
	buf := make([]byte, 0, min(n, chunk))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			// Double, but never past n: the last buffer is exactly n long.
			grown := make([]byte, len(buf), min(n, 2*int64(cap(buf))))
			copy(grown, buf)
			buf = grown
		}
		end := min(int64(cap(buf)), n)
		m, err := io.ReadFull(r, buf[len(buf):end])
		buf = buf[:len(buf)+m]
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// readCompressed inflates a miCOMPRESSED element holding one miMATRIX.
func readCompressed(r io.Reader) (*Array, error) {
	zr, err := zlib.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("corrupt MAT file: compressed element: %w", err)
	}
	defer zr.Close()
	typ, size, small, err := readInnerTag(zr, "compressed element")
	if err != nil {
		return nil, err
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
	typ, n, small, err := readInnerTag(r, "matrix array flags")
	if err != nil {
		return nil, err
	}
	if small != nil || typ != miUINT32 || n != 8 {
		return nil, fmt.Errorf("corrupt MAT file: matrix array flags (type %d, %d bytes)", typ, n)
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
	typ, n, small, err = readInnerTag(r, "matrix dimensions")
	if err != nil {
		return nil, err
	}
	if typ != miINT32 || n%4 != 0 || n > 4*maxDims {
		return nil, fmt.Errorf("corrupt MAT file: matrix dimensions (type %d, %d bytes)", typ, n)
	}
	dimBytes := small
	if dimBytes == nil {
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
	typ, n, small, err = readInnerTag(r, "matrix name")
	if err != nil {
		return nil, err
	}
	if typ != miINT8 || n > 1024 {
		return nil, fmt.Errorf("corrupt MAT file: matrix name (type %d, %d bytes)", typ, n)
	}
	if small != nil {
		a.Name = string(small)
	} else {
		name := make([]byte, n+pad8(n))
		if _, err := io.ReadFull(r, name); err != nil {
			return nil, fmt.Errorf("truncated MAT file: name: %w", err)
		}
		a.Name = string(name[:n])
	}
	// Real part.
	typ, n, small, err = readInnerTag(r, fmt.Sprintf("data of %q", a.Name))
	if err != nil {
		return nil, err
	}
	ts := typeSize(typ)
	if ts == 0 {
		return nil, fmt.Errorf("unsupported MAT file: %q stored as type %d", a.Name, typ)
	}
	if int64(n) != total*int64(ts) {
		return nil, fmt.Errorf("corrupt MAT file: %q declares %v (%d elements) but %d bytes of type %d", a.Name, a.Dims, total, n, typ)
	}
	if int64(n) > size {
		return nil, fmt.Errorf("corrupt MAT file: %q has %d bytes of data in a matrix of %d bytes", a.Name, n, size)
	}
	data := small
	if data == nil {
		if data, err = readBytes(r, int64(n)); err != nil {
			return nil, fmt.Errorf("truncated MAT file: data of %q: %w", a.Name, err)
		}
	}
	if typ == miUINT8 && a.Class == mxUINT8 {
		a.Bytes = data
		return a, nil
	}
	if total > MaxElementBytes/8 {
		return nil, fmt.Errorf("unsupported MAT file: %q has %d elements, over %d bytes as float64", a.Name, total, MaxElementBytes)
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
