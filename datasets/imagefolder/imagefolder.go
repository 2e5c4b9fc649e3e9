// Package imagefolder loads labeled images stored as root/<class>/<file>
// (JPEG or PNG), from a directory or straight from a .tar.gz of such a tree,
// into a datasets.Images.
// Classes are sorted by name and numbered from 0; files are read in sorted
// name order within each class.
package imagefolder

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"image"
	"image/draw"
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
		data, err := readFileLimited(p, MaxFileBytes)
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
	return ReadTarGz(f, archive, root)
}

// ReadTarGz is LoadTarGz reading the archive from r; name says in messages
// and in the source of the images where it came from.
func ReadTarGz(r io.Reader, name, root string) (*datasets.Images, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("imagefolder: %s is not a gzip file: %w", name, err)
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
			return nil, fmt.Errorf("imagefolder: %s is truncated or corrupted: %w", name, err)
		}
		if hdr.Typeflag != tar.TypeReg || !isImageName(hdr.Name) {
			continue
		}
		member := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		rel, ok := strings.CutPrefix(member, root+"/")
		if root == "" {
			rel, ok = member, true
		}
		parts := strings.Split(rel, "/")
		if !ok || len(parts) != 2 {
			continue
		}
		if hdr.Size > MaxFileBytes {
			return nil, fmt.Errorf("imagefolder: %s: member %s declares %d bytes, over the %d-byte limit for one image", name, hdr.Name, hdr.Size, MaxFileBytes)
		}
		// ReadAll grows with the data that arrives, not with the size the
		// header declares.
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("imagefolder: %s is truncated or corrupted at %s: %w", name, hdr.Name, err)
		}
		files = append(files, file{class: parts[0], name: parts[1], data: data})
	}
	return decode(files, name+":"+root)
}

// readFileLimited reads a file of at most limit bytes, refusing a larger
// one before reading it (and one that grows past limit while being read).
func readFileLimited(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, err
	} else if st.Size() > limit {
		return nil, fmt.Errorf("%s has %d bytes, over the %d-byte limit for one image", p, st.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s grew past the %d-byte limit for one image while being read", p, limit)
	}
	return data, nil
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
		img, err := decodeImage(f.data, image.Pt(im.Width, im.Height))
		if err != nil {
			return nil, fmt.Errorf("imagefolder: %s/%s in %s: %w", f.class, f.name, source, err)
		}
		if i == 0 {
			b := img.Bounds()
			im.Height, im.Width = b.Dy(), b.Dx()
			// The first image's size times the count is only a claim until
			// the others decode: reserve at most preallocLimit up front.
			im.Pixels = make([]uint8, 0, min(len(files)*im.ImageSize(), preallocLimit))
		}
		im.Pixels = appendRGB(im.Pixels, img)
		im.Labels = append(im.Labels, idx)
	}
	im.N = len(files)
	return im, nil
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
