package imagefolder

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsysrep/mlsysrep/datasets"
)

// pngOf is a w x h PNG whose pixel (x, y) is (v, x, y).
func pngOf(t testing.TB, w, h int, v uint8) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{v, uint8(x), uint8(y), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func jpegOf(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// member is one file of a test tree or archive.
type member struct {
	name string
	data []byte
}

// tree is the test set, plus members that must be ignored. Its order is
// deliberately the reverse of the sorted one (class zebra before ant, b.png
// before a.png), and writeTarGz keeps it, so that a reader that forgot to
// sort gets the classes and the files in the wrong order every time, not
// only when a map happens to iterate that way (TestTreeIsUnsorted keeps it so).
func tree(t testing.TB) []member {
	return []member{
		{"data/split/zebra/b.png", pngOf(t, 4, 3, 20)},
		{"data/split/zebra/a.png", pngOf(t, 4, 3, 10)},
		{"data/split/ant/x.jpg", jpegOf(t, 4, 3)},
		{"data/split/readme.txt", []byte("not an image")},
		{"data/other/ant/y.png", pngOf(t, 4, 3, 99)},
	}
}

// writeTarGz writes the files, in their order, to a .tar.gz; extra may add
// members after them.
func writeTarGz(t *testing.T, files []member, extra func(*tar.Writer)) string {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.data)
	}
	if extra != nil {
		extra(tw)
	}
	tw.Close()
	gz.Close()
	p := filepath.Join(t.TempDir(), "set.tar.gz")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTreeIsUnsorted guards the premise of the order checks: no two image
// members of tree under data/split are in sorted (class, name) order, so an
// unsorted read can pass checkSet by no luck.
func TestTreeIsUnsorted(t *testing.T) {
	var images []string
	for _, m := range tree(t) {
		if rel, ok := strings.CutPrefix(m.name, "data/split/"); ok && isImageName(rel) {
			images = append(images, rel)
		}
	}
	for i := 1; i < len(images); i++ {
		if images[i-1] < images[i] {
			t.Errorf("tree lists %s before %s, their sorted order: a reader that does not sort may still pass", images[i-1], images[i])
		}
	}
}

func checkSet(t *testing.T, im *datasets.Images) {
	t.Helper()
	if im.N != 3 || im.Height != 3 || im.Width != 4 {
		t.Fatalf("N=%d size=%dx%d, want 3 images 4x3", im.N, im.Width, im.Height)
	}
	if strings.Join(im.Classes, ",") != "ant,zebra" {
		t.Errorf("classes %v, want [ant zebra]", im.Classes)
	}
	if im.Labels[0] != 0 || im.Labels[1] != 1 || im.Labels[2] != 1 {
		t.Errorf("labels %v, want [0 1 1]", im.Labels)
	}
	// zebra/a.png (v=10) sorts before zebra/b.png (v=20); pixel (x=2, y=1).
	for i, want := range map[int]uint8{1: 10, 2: 20} {
		px := im.Image(i)[(1*4+2)*3:]
		if px[0] != want || px[1] != 2 || px[2] != 1 {
			t.Errorf("image %d pixel (2,1) = %v, want [%d 2 1]", i, px[:3], want)
		}
	}
}

func TestLoadTarGz(t *testing.T) {
	archive := writeTarGz(t, tree(t), func(tw *tar.Writer) {
		// A symlink with an image name must be skipped, not followed.
		tw.WriteHeader(&tar.Header{Name: "data/split/ant/link.png", Linkname: "/etc/passwd", Typeflag: tar.TypeSymlink})
	})
	im, err := LoadTarGz(archive, "data/split")
	if err != nil {
		t.Fatal(err)
	}
	checkSet(t, im)
}

func TestLoadDir(t *testing.T) {
	root := t.TempDir()
	// Created in tree's unsorted order (filepath.WalkDir reads directories
	// in lexical order whatever the creation order, so here the sort is
	// checked through the tar reader only).
	for _, f := range tree(t) {
		p := filepath.Join(root, filepath.FromSlash(f.name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	im, err := LoadDir(filepath.Join(root, "data", "split"))
	if err != nil {
		t.Fatal(err)
	}
	checkSet(t, im)
}

func TestErrors(t *testing.T) {
	good := writeTarGz(t, tree(t), nil)
	data, _ := os.ReadFile(good)
	truncated := filepath.Join(t.TempDir(), "truncated.tar.gz")
	os.WriteFile(truncated, data[:len(data)/2], 0o644)
	notGzip := filepath.Join(t.TempDir(), "plain.tar.gz")
	os.WriteFile(notGzip, []byte("hello"), 0o644)
	// b.png first: sorted, a.png (4x3) sets the size and b.png is the odd one.
	mixed := writeTarGz(t, []member{{"c/b.png", pngOf(t, 5, 3, 1)}, {"c/a.png", pngOf(t, 4, 3, 1)}}, nil)
	broken := writeTarGz(t, []member{{"c/a.png", []byte("\x89PNG garbage")}}, nil)
	for _, tc := range []struct {
		archive, root, want string
	}{
		{truncated, "data/split", "truncated or corrupted"},
		{notGzip, "", "is not a gzip file"},
		{good, "data/nothing", "no JPEG or PNG files"},
		{mixed, "", "is 5x3, the others 4x3"},
		{broken, "", "c/a.png"},
		{filepath.Join(t.TempDir(), "missing.tar.gz"), "", "no such file"},
	} {
		_, err := LoadTarGz(tc.archive, tc.root)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadTarGz(%s, %q) error = %v, want it to contain %q", filepath.Base(tc.archive), tc.root, err, tc.want)
		}
	}
}
