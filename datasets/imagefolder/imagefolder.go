// Package imagefolder loads labeled images stored as root/<class>/<file>
// (JPEG or PNG), from a directory or straight from a .tar.gz of such a tree,
// into a datasets.Images.
// Classes are sorted by name and numbered from 0; files are read in sorted
// name order within each class.
package imagefolder

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mlsysrep/mlsysrep/datasets"
)

// file is one image file found in the tree, before decoding.
type file struct {
	class, name string
	data        []byte
}

// LoadDir reads root/<class>/<file>.
func LoadDir(root string) (*datasets.Images, error) {
	var files []file
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !isImageName(p) {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) != 2 {
			return nil // not root/<class>/<file>
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, file{class: parts[0], name: parts[1], data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("imagefolder: reading %s: %w", root, err)
	}
	return decode(files, root)
}

// LoadTarGz reads the members <root>/<class>/<file> of a gzip-compressed tar
// archive without extracting it (root is a path inside the archive, e.g.
// "cifar10-jpeg/test"). Links and other non-regular members are skipped.
func LoadTarGz(archive, root string) (*datasets.Images, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, fmt.Errorf("imagefolder: %w", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("imagefolder: %s is not a gzip file: %w", archive, err)
	}
	tr := tar.NewReader(gz)
	root = strings.Trim(root, "/")
	var files []file
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("imagefolder: %s is truncated or corrupted: %w", archive, err)
		}
		if hdr.Typeflag != tar.TypeReg || !isImageName(hdr.Name) {
			continue
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		rel, ok := strings.CutPrefix(name, root+"/")
		if root == "" {
			rel, ok = name, true
		}
		parts := strings.Split(rel, "/")
		if !ok || len(parts) != 2 {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("imagefolder: %s is truncated or corrupted at %s: %w", archive, hdr.Name, err)
		}
		files = append(files, file{class: parts[0], name: parts[1], data: data})
	}
	return decode(files, archive+":"+root)
}

func isImageName(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".jpg", ".jpeg", ".png":
		return true
	}
	return false
}

// decode sorts the files by (class, name), numbers the classes and decodes
// every image to RGB; all images must have the size of the first.
func decode(files []file, source string) (*datasets.Images, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("imagefolder: no JPEG or PNG files under %s (want <root>/<class>/<file>)", source)
	}
	sort.Slice(files, func(i, j int) bool {
		if files[i].class != files[j].class {
			return files[i].class < files[j].class
		}
		return files[i].name < files[j].name
	})
	im := &datasets.Images{Source: source}
	classIndex := map[string]int32{}
	for i, f := range files {
		idx, ok := classIndex[f.class]
		if !ok {
			idx = int32(len(im.Classes))
			classIndex[f.class] = idx
			im.Classes = append(im.Classes, f.class)
		}
		img, err := decodeImage(f.data)
		if err != nil {
			return nil, fmt.Errorf("imagefolder: %s/%s in %s: %w", f.class, f.name, source, err)
		}
		b := img.Bounds()
		if i == 0 {
			im.Height, im.Width = b.Dy(), b.Dx()
			im.Pixels = make([]uint8, 0, len(files)*im.ImageSize())
		} else if b.Dy() != im.Height || b.Dx() != im.Width {
			return nil, fmt.Errorf("imagefolder: %s/%s in %s is %dx%d, the others %dx%d",
				f.class, f.name, source, b.Dx(), b.Dy(), im.Width, im.Height)
		}
		im.Pixels = appendRGB(im.Pixels, img)
		im.Labels = append(im.Labels, idx)
	}
	im.N = len(files)
	return im, nil
}

func decodeImage(data []byte) (image.Image, error) {
	if bytes.HasPrefix(data, []byte("\x89PNG")) {
		return png.Decode(bytes.NewReader(data))
	}
	return jpeg.Decode(bytes.NewReader(data))
}

// appendRGB appends the pixels of img as RGB bytes, row-major.
func appendRGB(dst []uint8, img image.Image) []uint8 {
	b := img.Bounds()
	rgba, ok := img.(*image.RGBA)
	if !ok || rgba.Rect.Min != (image.Point{}) {
		rgba = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(rgba, rgba.Rect, img, b.Min, draw.Src)
	}
	for y := range b.Dy() {
		row := rgba.Pix[y*rgba.Stride : y*rgba.Stride+4*b.Dx()]
		for x := 0; x < len(row); x += 4 {
			dst = append(dst, row[x], row[x+1], row[x+2])
		}
	}
	return dst
}
