package imagefolder

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// tarGzOf packs files (name, data pairs) into a .tar.gz in memory.
func tarGzOf(t testing.TB, files ...string) []byte { return gzipped(tarOf(t, files...)) }

// tarOf packs files (name, data pairs) into a tar in memory.
func tarOf(t testing.TB, files ...string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		if err := tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(files[i+1]))
	}
	tw.Close()
	return buf.Bytes()
}

// gzipped compresses data as a .tar.gz holds its tar.
func gzipped(data []byte) []byte {
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	gz.Write(data)
	gz.Close()
	return buf.Bytes()
}

// hugePNG is a 1x1 PNG whose header is rewritten to declare w x h pixels
// (its checksum fixed): a few dozen bytes that a decoder trusting the header
// allocates w*h*4 bytes for.
func hugePNG(t testing.TB, w, h uint32) []byte {
	b := pngOf(t, 1, 1, 5)
	// Signature (8), IHDR length (4) and type (4), then width and height.
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// hugeJPEG is an 8x8 JPEG whose frame header is rewritten to declare w x h.
func hugeJPEG(t testing.TB, w, h uint16) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 8, 8)), nil); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	sof := bytes.Index(b, []byte{0xff, 0xc0})
	if sof < 0 {
		t.Fatal("no baseline frame header")
	}
	// Marker (2), length (2), precision (1), then height and width.
	binary.BigEndian.PutUint16(b[sof+5:], h)
	binary.BigEndian.PutUint16(b[sof+7:], w)
	return b
}

// TestImageAllocationBounded checks that an image file declaring a huge
// size is refused from its header, before anything that size is allocated.
func TestImageAllocationBounded(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"PNG declaring 20000x20000", hugePNG(t, 20000, 20000)},
		{"JPEG declaring 20000x20000", hugeJPEG(t, 20000, 20000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := decode([]file{{class: "c", name: "f", data: tc.data}}, "test")
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), "declares 20000x20000 pixels") {
				t.Errorf("err = %v, want the declared size refused", err)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
				t.Errorf("a %d-byte file made decode allocate %d MiB", len(tc.data), got>>20)
			}
		})
	}
}

// TestMalformedImages checks inputs that must be refused with a message.
func TestMalformedImages(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"PNG declaring 0x5", "invalid", hugePNG(t, 0, 5)},
		{"JPEG declaring 0 rows", "declares 8x0 pixels", hugeJPEG(t, 8, 0)},
		{"empty file", "EOF", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decode([]file{{class: "c", name: "f", data: tc.data}}, "test")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestFileSizeLimit checks that a file over MaxFileBytes is refused, in an
// archive before it is read and in a folder before it is loaded.
func TestFileSizeLimit(t *testing.T) {
	defer func(n int64) { MaxFileBytes = n }(MaxFileBytes)
	MaxFileBytes = 100
	big := string(pngOf(t, 40, 40, 1)) + strings.Repeat("x", 100)
	_, err := ReadTarGz(bytes.NewReader(tarGzOf(t, "c/a.png", big)), "set.tar.gz", "")
	if err == nil || !strings.Contains(err.Error(), "over the 100-byte limit") {
		t.Errorf("archive: err = %v", err)
	}
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "c"), 0o755)
	os.WriteFile(filepath.Join(root, "c", "a.png"), []byte(big), 0o644)
	_, err = LoadDir(root)
	if err == nil || !strings.Contains(err.Error(), "over the 100-byte limit") {
		t.Errorf("folder: err = %v", err)
	}
}
