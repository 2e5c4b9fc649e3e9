package svhn

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"strings"
	"testing"
)

// tagClaiming is a small-format tag of type typ that claims n bytes (legal
// only up to 4) followed by the 4 data bytes.
func tagClaiming(typ, n uint32, data ...byte) []byte {
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:4], n<<16|typ)
	copy(b[4:], data)
	return b[:]
}

// rawMatrix is a top-level uncompressed miMATRIX tag declaring size bytes,
// followed by the given body parts (which may be shorter than declared).
func rawMatrix(size uint32, parts ...[]byte) []byte {
	var out bytes.Buffer
	out.Write(header())
	binary.Write(&out, binary.LittleEndian, uint32(miMATRIX))
	binary.Write(&out, binary.LittleEndian, size)
	for _, p := range parts {
		out.Write(p)
	}
	return out.Bytes()
}

// tag is a full-format tag of type typ declaring n bytes, without the data.
func tag(typ, n uint32) []byte {
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:4], typ)
	binary.LittleEndian.PutUint32(b[4:], n)
	return b[:]
}

var uint8Flags = element(miUINT32, []byte{mxUINT8, 0, 0, 0, 0, 0, 0, 0})

// TestMalformedMat holds the inputs that made ReadMat panic (the first found
// by FuzzReadMat, the other two written from reading the code) and other
// malformed files: each must give an error naming what is wrong.
func TestMalformedMat(t *testing.T) {
	dims8x1 := element(miINT32, []byte{8, 0, 0, 0, 1, 0, 0, 0})
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		// Used to panic: index out of range reading dimension 2 of 4 bytes.
		{"small dimensions tag claiming 8 bytes", "small element of type 5 claims 8 bytes",
			rawMatrix(64, uint8Flags, tagClaiming(miINT32, 8, 1, 0, 0, 0))},
		// Used to panic: slice bounds out of range [:5] with capacity 4.
		{"small name tag claiming 5 bytes", "small element of type 1 claims 5 bytes",
			rawMatrix(64, uint8Flags, dims8x1, tagClaiming(miINT8, 5, 'X'))},
		// Used to panic: slice bounds out of range [:8] with capacity 4.
		{"small data tag claiming 8 bytes", "small element of type 2 claims 8 bytes",
			rawMatrix(64, uint8Flags, dims8x1, tagClaiming(miINT8, 1, 'X'), tagClaiming(miUINT8, 8, 1, 2, 3, 4))},
		{"top-level small tag claiming 6 bytes", "claims 6 bytes",
			append(header(), tagClaiming(miUINT8, 6, 1, 2, 3, 4)...)},
		{"dimensions not a multiple of 4 bytes", "matrix dimensions (type 5, 3 bytes)",
			rawMatrix(64, uint8Flags, tagClaiming(miINT32, 3, 1, 0, 0))},
		{"matrix cut after its flags", "matrix dimensions: truncated MAT file",
			rawMatrix(64, uint8Flags)},
		{"data longer than the matrix", "64 bytes of data in a matrix of 48 bytes",
			rawMatrix(48, uint8Flags, element(miINT32, []byte{64, 0, 0, 0, 1, 0, 0, 0}), tagClaiming(miINT8, 1, 'X'), tag(miUINT8, 64), make([]byte, 64))},
		{"matrix shorter than declared", "ends 8 bytes early",
			rawMatrix(56, uint8Flags, element(miINT32, []byte{1, 0, 0, 0, 1, 0, 0, 0}), tagClaiming(miINT8, 1, 'X'), tagClaiming(miUINT8, 1, 7))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadMat(bytes.NewReader(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestMatAllocationBounded checks that a file of a few dozen bytes declaring
// huge elements fails without allocating what it declares.
func TestMatAllocationBounded(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"1 GiB of data", rawMatrix(1<<30, uint8Flags, element(miINT32, []byte{0, 0, 0, 0x40, 1, 0, 0, 0}),
			tagClaiming(miINT8, 1, 'X'), tag(miUINT8, 1<<30))},
		{"512 MiB of dimensions", rawMatrix(1<<30, uint8Flags, tag(miINT32, 1<<29))},
		{"1 GiB of doubles", rawMatrix(1<<30, element(miUINT32, []byte{mxDOUBLE, 0, 0, 0, 0, 0, 0, 0}),
			element(miINT32, []byte{0, 0, 0, 8, 1, 0, 0, 0}), tagClaiming(miINT8, 1, 'y'), tag(miDOUBLE, 1<<30))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := ReadMat(bytes.NewReader(tc.data))
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatalf("a %d-byte file was read without error", len(tc.data))
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
				t.Errorf("a %d-byte file made ReadMat allocate %d MiB (%v)", len(tc.data), got>>20, err)
			}
		})
	}
}
