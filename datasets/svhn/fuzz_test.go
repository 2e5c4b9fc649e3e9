package svhn

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// smallElement encodes a data element in the small format MATLAB uses for
// up to 4 bytes: the byte count in the tag's upper half, the data in its
// second word.
func smallElement(typ uint32, data []byte) []byte {
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:4], uint32(len(data))<<16|typ)
	copy(b[4:], data)
	return b[:]
}

// smallMatrix is a miMATRIX of one uint8 value whose dimensions and name use
// small elements, as MATLAB writes short ones.
func smallMatrix(name string, v byte) []byte {
	var body bytes.Buffer
	body.Write(element(miUINT32, []byte{mxUINT8, 0, 0, 0, 0, 0, 0, 0}))
	body.Write(element(miINT32, []byte{1, 0, 0, 0, 1, 0, 0, 0}))
	body.Write(smallElement(miINT8, []byte(name)))
	body.Write(smallElement(miUINT8, []byte{v}))
	var out bytes.Buffer
	binary.Write(&out, binary.LittleEndian, uint32(miMATRIX))
	binary.Write(&out, binary.LittleEndian, uint32(body.Len()))
	out.Write(body.Bytes())
	return out.Bytes()
}

// matSeeds are small valid MAT files covering compressed, uncompressed and
// small-format elements.
func matSeeds() [][]byte {
	return [][]byte{
		svhnMat([]float64{1}),
		svhnMat([]float64{10, 3}),
		append(header(), matrix("y", mxDOUBLE, []int32{2, 1}, miDOUBLE, make([]byte, 16))...),
		append(header(), smallMatrix("a", 7)...),
		append(header(), compressed(smallMatrix("b", 9))...),
		append(header(), smallElement(miUINT8, []byte{1, 2})...),
	}
}

// FuzzReadMat checks that ReadMat returns an error, never panics, on any
// input, and that every matrix it returns holds as many values as its
// dimensions say.
func FuzzReadMat(f *testing.F) {
	for _, s := range matSeeds() {
		f.Add(s)
	}
	// A matrix declaring 1 GiB of data in a file of a few dozen bytes.
	f.Add(rawMatrix(1<<30, uint8Flags, element(miINT32, []byte{0, 0, 0, 0x40, 1, 0, 0, 0}), tagClaiming(miINT8, 1, 'X'), tag(miUINT8, 1<<30)))
	f.Fuzz(func(t *testing.T, data []byte) {
		arrays, err := ReadMat(bytes.NewReader(data))
		if err != nil {
			return
		}
		for name, a := range arrays {
			if a.Name != name {
				t.Fatalf("matrix %q stored under %q", a.Name, name)
			}
			n := len(a.Values)
			if a.Bytes != nil {
				n = len(a.Bytes)
			}
			if n != a.Len() {
				t.Fatalf("matrix %q of dimensions %v holds %d values", name, a.Dims, n)
			}
		}
	})
}

// FuzzDecode checks that reading an SVHN file never panics and that a file
// read without error gives consistent images: as many labels as images, the
// pixel bytes of N 32x32 RGB images and every label a digit.
func FuzzDecode(f *testing.F) {
	for _, s := range matSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		arrays, err := ReadMat(bytes.NewReader(data))
		if err != nil {
			return
		}
		im, err := decode(arrays)
		if err != nil {
			return
		}
		if len(im.Pixels) != im.N*32*32*3 || len(im.Labels) != im.N {
			t.Fatalf("%d images with %d pixel bytes and %d labels", im.N, len(im.Pixels), len(im.Labels))
		}
		if err := im.Check(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestMatSeeds checks that the fuzz seeds are valid files, so that fuzzing
// starts from inputs that reach the end of the reader, and that small-format
// names and data are read back.
func TestMatSeeds(t *testing.T) {
	for i, s := range matSeeds() {
		if _, err := ReadMat(bytes.NewReader(s)); err != nil {
			t.Errorf("seed %d: %v", i, err)
		}
	}
	arrays, err := ReadMat(bytes.NewReader(append(append(header(), smallMatrix("a", 7)...), compressed(smallMatrix("bc", 9))...)))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := arrays["a"], arrays["bc"]; a == nil || b == nil || a.At(0) != 7 || b.At(0) != 9 || len(a.Bytes) != 1 {
		t.Errorf("small elements read back as %v", arrays)
	}
}
