// Package cifar10 loads CIFAR-10 (PROTOCOL section 2): the official binary
// archive, downloaded and verified (size and md5) and extracted into the data
// cache, or an offline image-folder copy such as the JPEG mirror of the
// development machines. Every result says which copy it came from.
package cifar10

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/mlsysrep/mlsysrep/datasets"
	"github.com/mlsysrep/mlsysrep/datasets/imagefolder"
)

// Official is the "binary version" archive.
var Official = datasets.File{
	Name: "cifar-10-binary.tar.gz",
	URL:  "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
	Size: 170052171,
	MD5:  "c32a1d4ab5d03f1284b67883e8d87530",
}

// Mirror is the offline JPEG copy's archive name (../shared/data/README.md):
// cifar10-jpeg/{train,test}/<class>/NNNN.jpg.
const Mirror = "cifar10-jpeg.tar.gz"

// Classes are CIFAR-10's labels in order.
var Classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// Sizes of the splits.
const (
	TrainSize = 50000
	TestSize  = 10000
)

// Copy names which copy of CIFAR-10 to use.
type Copy string

// The copies.
const (
	// Auto: the official archive when it is already here (archive folders or
	// cache), else the JPEG mirror when found, else download the official one.
	Auto Copy = ""
	// OfficialCopy: the official binary archive (downloaded if needed).
	OfficialCopy Copy = "official"
	// MirrorCopy: the JPEG mirror (never downloaded).
	MirrorCopy Copy = "jpeg-mirror"
)

// Options says where to look and what to use.
type Options struct {
	DataDir     string   // writable cache ("" = datasets.DataDir's default)
	ArchiveDirs []string // read-only folders with archives (plus $MLSYSREP_ARCHIVES)
	Copy        Copy
	BaseURL     string    // replaces the official download location (mirrors, tests)
	Progress    io.Writer // download and extraction progress (nil: quiet)

	// Archive and RecordsPerFile replace the official file's name, size and
	// md5 and its 10,000 records per member: for tests with small archives in
	// the official format.
	Archive        *datasets.File
	RecordsPerFile int
}

func (o Options) archive() datasets.File {
	if o.Archive != nil {
		return *o.Archive
	}
	return Official
}

func (o Options) records() int {
	if o.RecordsPerFile > 0 {
		return o.RecordsPerFile
	}
	return 10000
}

// Load returns the training and test splits, decoded once into memory.
func Load(ctx context.Context, opts Options) (train, test *datasets.Images, err error) {
	dataDir, err := datasets.DataDir(opts.DataDir)
	if err != nil {
		return nil, nil, err
	}
	archives := datasets.ArchiveDirs(opts.ArchiveDirs...)
	copyToUse := opts.Copy
	if copyToUse == Auto {
		_, official := datasets.FindFile(opts.archive().Name, append(append([]string{}, archives...), filepath.Join(dataDir, "downloads")))
		_, mirror := datasets.FindFile(Mirror, archives)
		copyToUse = OfficialCopy
		if !official && !extracted(filepath.Join(dataDir, extractDir), opts.records()) && mirror {
			copyToUse = MirrorCopy
		}
	}
	switch copyToUse {
	case OfficialCopy:
		return loadOfficial(ctx, dataDir, archives, opts)
	case MirrorCopy:
		path, ok := datasets.FindFile(Mirror, archives)
		if !ok {
			return nil, nil, fmt.Errorf("cifar10: %s not found in %q (set %s or pass its folder)", Mirror, archives, datasets.EnvArchives)
		}
		return LoadFolderArchive(path)
	}
	return nil, nil, fmt.Errorf("cifar10: unknown copy %q (valid: official, jpeg-mirror, or empty for auto)", opts.Copy)
}

// LoadFolderArchive loads an image-folder copy packed as
// <top>/{train,test}/<class>/<file> in a .tar.gz (the JPEG mirror's layout),
// checking the split sizes and the class names.
func LoadFolderArchive(path string) (train, test *datasets.Images, err error) {
	top := "cifar10-jpeg"
	load := func(split string, want int) (*datasets.Images, error) {
		im, err := imagefolder.LoadTarGz(path, top+"/"+split)
		if err != nil {
			return nil, err
		}
		if err := checkFolderSplit(im, want); err != nil {
			return nil, fmt.Errorf("cifar10: %s %s: %w", path, split, err)
		}
		im.Source = "CIFAR-10 (JPEG q75 mirror) " + split
		return im, nil
	}
	if train, err = load("train", TrainSize); err != nil {
		return nil, nil, err
	}
	if test, err = load("test", TestSize); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// checkFolderSplit verifies an image-folder split holds CIFAR-10.
func checkFolderSplit(im *datasets.Images, want int) error {
	if im.Height != 32 || im.Width != 32 {
		return fmt.Errorf("images are %dx%d, want 32x32", im.Width, im.Height)
	}
	if fmt.Sprint(im.Classes) != fmt.Sprint(Classes) {
		return fmt.Errorf("classes %v, want %v", im.Classes, Classes)
	}
	if im.N != want {
		return fmt.Errorf("%d images, want %d", im.N, want)
	}
	return nil
}
