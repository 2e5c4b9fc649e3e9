// Package svhn loads SVHN's cropped digits ("format 2", PROTOCOL section 2):
// train_32x32.mat and test_32x32.mat, downloaded and verified (size and md5),
// read with a small MAT-file reader (mat.go) and decoded once into memory.
// Label 10 means digit 0; the "extra" split is not used.
package svhn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/mlsysrep/mlsysrep/datasets"
)

// The official files.
var (
	TrainFile = datasets.File{Name: "train_32x32.mat", URL: "http://ufldl.stanford.edu/housenumbers/train_32x32.mat",
		Size: 182040794, MD5: "e26dedcc434d2e4c54c9b2d4a06d8373"}
	TestFile = datasets.File{Name: "test_32x32.mat", URL: "http://ufldl.stanford.edu/housenumbers/test_32x32.mat",
		Size: 64275384, MD5: "eb5a983be6a315427106f1b164d9cef3"}
)

// Split sizes of the official files.
const (
	TrainSize = 73257
	TestSize  = 26032
)

// Classes are the digits, label i meaning digit i.
var Classes = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// Options says where to look. Files and Sizes replace the official ones (for
// tests with small files in the official format).
type Options struct {
	DataDir     string
	ArchiveDirs []string
	BaseURL     string
	Progress    io.Writer
	Files       *[2]datasets.File // train, test
	Sizes       *[2]int           // train, test image counts
}

// Load returns the training and test splits.
func Load(ctx context.Context, opts Options) (train, test *datasets.Images, err error) {
	// The cache is needed only to download: files already in the archive
	// folders (read-only is fine) are read where they are, so a missing or
	// unwritable cache is not an error here (Fetch says so if it needs one).
	dataDir, err := datasets.DataDir(opts.DataDir)
	if err != nil {
		dataDir = ""
	}
	files, sizes := [2]datasets.File{TrainFile, TestFile}, [2]int{TrainSize, TestSize}
	if opts.Files != nil {
		files = *opts.Files
	}
	if opts.Sizes != nil {
		sizes = *opts.Sizes
	}
	var out [2]*datasets.Images
	for i, f := range files {
		path, err := datasets.Fetch(ctx, f, dataDir, datasets.ArchiveDirs(opts.ArchiveDirs...), opts.BaseURL, opts.Progress)
		var fe *datasets.FetchError
		if errors.As(err, &fe) {
			return nil, nil, fmt.Errorf("svhn: %w. To work offline, put %s and %s in a folder named by %s (or -archives)",
				err, files[0].Name, files[1].Name, datasets.EnvArchives)
		}
		if err != nil {
			return nil, nil, err
		}
		if out[i], err = ReadFile(path, sizes[i]); err != nil {
			return nil, nil, err
		}
		out[i].Source = "SVHN (official .mat) " + []string{"train", "test"}[i]
	}
	return out[0], out[1], nil
}

// ReadFile reads one SVHN .mat file holding X (32x32x3xN uint8) and y (Nx1,
// labels 1..10 with 10 meaning 0) and checks it has want images.
func ReadFile(path string, want int) (*datasets.Images, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("svhn: %w", err)
	}
	defer f.Close()
	arrays, err := ReadMat(f)
	if err != nil {
		return nil, fmt.Errorf("svhn: %s: %w", path, err)
	}
	im, err := decode(arrays)
	if err != nil {
		return nil, fmt.Errorf("svhn: %s: %w", path, err)
	}
	if im.N != want {
		return nil, fmt.Errorf("svhn: %s holds %d images, want %d", path, im.N, want)
	}
	return im, nil
}

// decode converts column-major X[row, col, channel, n] to row-major RGB
// images and maps label 10 to 0.
func decode(arrays map[string]*Array) (*datasets.Images, error) {
	x, y := arrays["X"], arrays["y"]
	if x == nil || y == nil {
		return nil, fmt.Errorf("no X and y matrices (found %d matrices)", len(arrays))
	}
	if len(x.Dims) != 4 || x.Dims[0] != 32 || x.Dims[1] != 32 || x.Dims[2] != 3 || x.Bytes == nil {
		return nil, fmt.Errorf("matrix X is %v (class %d), want 32x32x3xN uint8", x.Dims, x.Class)
	}
	n := x.Dims[3]
	if y.Len() != n {
		return nil, fmt.Errorf("y has %d labels for %d images", y.Len(), n)
	}
	im := &datasets.Images{N: n, Height: 32, Width: 32, Classes: Classes, Pixels: make([]uint8, n*32*32*3), Labels: make([]int32, n)}
	for i := range n {
		dst := im.Image(i)
		for r := range 32 {
			for c := range 32 {
				for ch := range 3 {
					dst[(r*32+c)*3+ch] = x.Bytes[r+32*c+1024*ch+3072*i]
				}
			}
		}
		l := y.At(i)
		if l != float64(int(l)) || l < 1 || l > 10 {
			return nil, fmt.Errorf("label %g of image %d is not in 1..10", l, i)
		}
		im.Labels[i] = int32(int(l) % 10)
	}
	return im, nil
}
