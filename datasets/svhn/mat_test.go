package svhn

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlsysrep/mlsysrep/datasets"
)

// element encodes a data element (tag + data + padding to 8 bytes).
func element(typ uint32, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, typ)
	binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	b.Write(make([]byte, (8-len(data)%8)%8))
	return b.Bytes()
}

// matrix encodes a miMATRIX whose real part is stored as dataType.
func matrix(name string, class byte, dims []int32, dataType uint32, data []byte) []byte {
	var body bytes.Buffer
	body.Write(element(miUINT32, []byte{class, 0, 0, 0, 0, 0, 0, 0}))
	var d bytes.Buffer
	for _, x := range dims {
		binary.Write(&d, binary.LittleEndian, x)
	}
	body.Write(element(miINT32, d.Bytes()))
	body.Write(element(miINT8, []byte(name)))
	body.Write(element(dataType, data))
	var out bytes.Buffer
	binary.Write(&out, binary.LittleEndian, uint32(miMATRIX))
	binary.Write(&out, binary.LittleEndian, uint32(body.Len()))
	out.Write(body.Bytes())
	return out.Bytes()
}

// compressed wraps an element in miCOMPRESSED, as MATLAB -v7 writes them.
func compressed(inner []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(inner)
	zw.Close()
	var out bytes.Buffer
	binary.Write(&out, binary.LittleEndian, uint32(miCOMPRESSED))
	binary.Write(&out, binary.LittleEndian, uint32(z.Len()))
	out.Write(z.Bytes())
	return out.Bytes()
}

func header() []byte {
	h := make([]byte, 128)
	copy(h, "MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Thu Nov 26 2026")
	for i := 68; i < 116; i++ {
		h[i] = ' '
	}
	h[124], h[125], h[126], h[127] = 0x00, 0x01, 'I', 'M'
	return h
}

// pixel is the test images' value at (image, row, col, channel).
func pixel(i, r, c, ch int) uint8 { return uint8(i*50 + r*3 + c*5 + ch*7) }

// svhnMat writes a .mat file in the official layout: X as 32x32x3xN uint8
// column-major, y as Nx1 double with 10 meaning 0.
func svhnMat(labels []float64) []byte {
	n := len(labels)
	x := make([]byte, 32*32*3*n)
	for i := range n {
		for r := range 32 {
			for c := range 32 {
				for ch := range 3 {
					x[r+32*c+1024*ch+3072*i] = pixel(i, r, c, ch)
				}
			}
		}
	}
	y := make([]byte, 8*n)
	for i, l := range labels {
		binary.LittleEndian.PutUint64(y[8*i:], math.Float64bits(l))
	}
	var f bytes.Buffer
	f.Write(header())
	f.Write(compressed(matrix("X", mxUINT8, []int32{32, 32, 3, int32(n)}, miUINT8, x)))
	f.Write(compressed(matrix("y", mxDOUBLE, []int32{int32(n), 1}, miDOUBLE, y)))
	return f.Bytes()
}

func writeTemp(t *testing.T, data []byte) string {
	p := filepath.Join(t.TempDir(), "f.mat")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadFile(t *testing.T) {
	im, err := ReadFile(writeTemp(t, svhnMat([]float64{10, 3, 7})), 3)
	if err != nil {
		t.Fatal(err)
	}
	if im.Labels[0] != 0 || im.Labels[1] != 3 || im.Labels[2] != 7 {
		t.Errorf("labels %v, want [0 3 7] (10 means 0)", im.Labels)
	}
	// Column-major X: image 2, row 5, col 9, channel 1 lands at HWC (5, 9, 1).
	if got, want := im.Image(2)[(5*32+9)*3+1], pixel(2, 5, 9, 1); got != want {
		t.Errorf("pixel = %d, want %d", got, want)
	}
	if err := im.Check(); err != nil {
		t.Error(err)
	}
}

func TestBadMatFiles(t *testing.T) {
	good := svhnMat([]float64{1, 2})
	notMat := append([]byte("hello"), make([]byte, 200)...)
	big := append(header(), compressed(matrix("X", mxUINT8, []int32{32, 32, 3, 1 << 30}, miUINT8, []byte{1}))...)
	mismatch := append(header(), compressed(matrix("X", mxUINT8, []int32{32, 32, 3, 2}, miUINT8, make([]byte, 100)))...)
	badLabel := svhnMat([]float64{11})
	for _, tc := range []struct {
		name, want string
		data       []byte
		n          int
	}{
		{"truncated", "truncated", good[:len(good)-40], 2},
		{"cut in the header", "header", good[:100], 2},
		{"not a MAT file", "not a MATLAB level-5", notMat, 2},
		{"huge declared size", "corrupt MAT file", big, 1},
		{"sizes disagree", "declares [32 32 3 2]", mismatch, 2},
		{"wrong count", "holds 2 images, want 5", good, 5},
		{"bad label", "not in 1..10", badLabel, 1},
	} {
		_, err := ReadFile(writeTemp(t, tc.data), tc.n)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestDownloadAndLoad serves both files over HTTP and loads them end to end.
func TestDownloadAndLoad(t *testing.T) {
	train, test := svhnMat([]float64{1, 2, 10, 4}), svhnMat([]float64{5, 10})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data := map[string][]byte{"/train_32x32.mat": train, "/test_32x32.mat": test}[r.URL.Path]
		http.ServeContent(w, r, "f.mat", time.Time{}, bytes.NewReader(data))
	}))
	defer srv.Close()
	file := func(name string, data []byte) datasets.File {
		sum := md5.Sum(data)
		return datasets.File{Name: name, Size: int64(len(data)), MD5: hex.EncodeToString(sum[:])}
	}
	opts := Options{DataDir: t.TempDir(), BaseURL: srv.URL,
		Files: &[2]datasets.File{file("train_32x32.mat", train), file("test_32x32.mat", test)}, Sizes: &[2]int{4, 2}}
	tr, te, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if tr.N != 4 || te.N != 2 || te.Labels[1] != 0 || !strings.Contains(tr.Source, "SVHN") {
		t.Errorf("train %d test %d labels %v source %q", tr.N, te.N, te.Labels, tr.Source)
	}
	// A wrong checksum is refused.
	bad := *opts.Files
	bad[1].MD5 = strings.Repeat("a", 32)
	_, _, err = Load(context.Background(), Options{DataDir: t.TempDir(), BaseURL: srv.URL, Files: &bad, Sizes: opts.Sizes})
	if err == nil || !strings.Contains(err.Error(), "md5") {
		t.Errorf("bad md5: err = %v", err)
	}
}
