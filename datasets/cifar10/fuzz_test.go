package cifar10

import (
	"archive/tar"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/mlsysrep/mlsysrep/datasets"
	"github.com/mlsysrep/mlsysrep/datasets/imagefolder"
)

// FuzzDecodeRecords checks that decoding binary records never panics, that
// a refused input leaves the images unchanged, and that an accepted one
// gives one image of 32x32x3 bytes and one label in 0..9 per record, with
// the planes interleaved.
func FuzzDecodeRecords(f *testing.F) {
	f.Add(record(0, 1))
	f.Add(append(record(1, 2), record(5, 0)...))
	f.Add(append([]byte{10}, record(0, 0)[1:]...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		im := &datasets.Images{Height: 32, Width: 32, Classes: Classes}
		if err := decodeRecords(data, "fuzz", im); err != nil {
			if im.N != 0 || len(im.Pixels) != 0 || len(im.Labels) != 0 {
				t.Fatalf("a refused input left %d images", im.N)
			}
			return
		}
		if im.N != len(data)/recordSize || len(data)%recordSize != 0 {
			t.Fatalf("%d bytes decoded to %d images", len(data), im.N)
		}
		if err := im.Check(); err != nil {
			t.Fatal(err)
		}
		if im.N > 0 && !bytes.Equal(im.Image(0)[:3], []byte{data[1], data[1+1024], data[1+2048]}) {
			t.Fatalf("pixel 0 is %v, want the first byte of each plane", im.Image(0)[:3])
		}
	})
}

// FuzzExtract checks that reading the members of an archive never panics,
// that only the six members of the right size are passed on, with the
// digests the manifest records, and that they decode (unless a record's
// label is out of range). Members are kept in memory, not written, to keep
// each run cheap. The input is the tar, compressed here, so that mutations
// reach the tar layer instead of breaking the gzip checksum.
func FuzzExtract(f *testing.F) {
	const records = 1
	f.Add(officialTar(f, records))
	f.Add(officialTar(f, records, member{name: "cifar-10-batches-bin/../../evil.bin", data: []byte("x"), typ: tar.TypeReg}))
	f.Fuzz(func(t *testing.T, data []byte) {
		archive := gzipped(data)
		got := map[string][]byte{}
		m, err := extractFrom(bytes.NewReader(archive), "fuzz.tar.gz", records, func(name string, r io.Reader, size int64) (string, error) {
			if !isMember(name) || size != records*recordSize {
				t.Fatalf("member %q of %d bytes passed on", name, size)
			}
			b, err := io.ReadAll(io.LimitReader(r, size))
			if err != nil || int64(len(b)) != size {
				return "", fmt.Errorf("short member: %v", err)
			}
			got[name] = b
			sum := sha256.Sum256(b)
			return hex.EncodeToString(sum[:]), nil
		})
		if err != nil {
			return
		}
		if sum := md5.Sum(archive); m.archiveMD5 != hex.EncodeToString(sum[:]) {
			t.Fatalf("manifest md5 %s, archive md5 %x", m.archiveMD5, sum)
		}
		if _, err := parseManifest(m.encode()); err != nil {
			t.Fatalf("manifest does not read back: %v", err)
		}
		im := &datasets.Images{Height: 32, Width: 32, Classes: Classes}
		for _, name := range members {
			if err := m.verify(name, got[name]); err != nil {
				t.Fatal(err)
			}
			if err := decodeRecords(got[name], name, im); err != nil && !strings.Contains(err.Error(), "has label") {
				t.Fatal(err)
			}
		}
	})
}

// FuzzFolderArchive checks that reading an image-folder copy of CIFAR-10
// never panics, and that an accepted one holds the wanted number of 32x32
// images per split with CIFAR-10's classes.
func FuzzFolderArchive(f *testing.F) {
	pixels := imagefolder.MaxImagePixels
	imagefolder.MaxImagePixels = 64 * 64 // a declared large image costs little per run
	f.Cleanup(func() { imagefolder.MaxImagePixels = pixels })
	f.Add(mirrorTar(f, 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		archive := gzipped(data) // the input is the tar, as in FuzzExtract
		train, test, err := folderSplits("fuzz", *mirrorSizes, func(root string) (*datasets.Images, error) {
			return imagefolder.ReadTarGz(bytes.NewReader(archive), "fuzz", root)
		})
		if err != nil {
			return
		}
		for i, im := range []*datasets.Images{train, test} {
			if im.N != mirrorSizes[i] || im.Width != 32 || im.Height != 32 || len(im.Classes) != len(Classes) {
				t.Fatalf("%s: %d images of %dx%d, %d classes", im.Source, im.N, im.Width, im.Height, len(im.Classes))
			}
			if err := im.Check(); err != nil {
				t.Fatal(err)
			}
		}
	})
}
