package cifar10

import (
	"archive/tar"
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mirrorArchive builds a cifar10-jpeg.tar.gz in the mirror's layout with
// perClass 32x32 JPEGs per class in each split.
func mirrorArchive(t testing.TB, perClass int) []byte { return gzipped(mirrorTar(t, perClass)) }

// mirrorTar is the tar inside mirrorArchive.
func mirrorTar(t testing.TB, perClass int) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, split := range []string{"train", "test"} {
		for c, class := range Classes {
			for i := range perClass {
				img := image.NewRGBA(image.Rect(0, 0, 32, 32))
				for p := range 32 * 32 {
					img.Set(p%32, p/32, color.RGBA{uint8(25 * c), uint8(i), 128, 255})
				}
				var data bytes.Buffer
				if err := jpeg.Encode(&data, img, nil); err != nil {
					t.Fatal(err)
				}
				name := fmt.Sprintf("cifar10-jpeg/%s/%s/%04d.jpg", split, class, i)
				if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(data.Len()), Typeflag: tar.TypeReg}); err != nil {
					t.Fatal(err)
				}
				tw.Write(data.Bytes())
			}
		}
	}
	tw.Close()
	return buf.Bytes()
}

// mirrorFolder is a read-only folder holding a small mirror (one image per
// class and split) as cifar10-jpeg.tar.gz.
func mirrorFolder(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, Mirror), mirrorArchive(t, 1), 0o444); err != nil {
		t.Fatal(err)
	}
	return dir
}

// mirrorSizes are the split sizes of mirrorFolder's archive.
var mirrorSizes = &[2]int{10, 10}

// uncreatable is a data cache path that cannot be created, even by root:
// it lies under a regular file.
func uncreatable(t *testing.T) string {
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(blocker, "cache")
}

// notSaid returns the phrases that msg does not contain (nil if none).
func notSaid(msg string, phrases ...string) []string {
	var missing []string
	for _, p := range phrases {
		if !strings.Contains(msg, p) {
			missing = append(missing, p)
		}
	}
	return missing
}
