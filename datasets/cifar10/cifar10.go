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

	// FolderSizes replaces the train and test image counts an image-folder
	// copy must hold (50,000 and 10,000): for tests with small mirrors.
	FolderSizes *[2]int
}

func (o Options) archive() datasets.File {
	if o.Archive != nil {
		return *o.Archive
	}
	return Official
}

func (o Options) folderSizes() [2]int {
	if o.FolderSizes != nil {
		return *o.FolderSizes
	}
	return [2]int{TrainSize, TestSize}
}

func (o Options) records() int {
	if o.RecordsPerFile > 0 {
		return o.RecordsPerFile
	}
	return 10000
}

// Load returns the training and test splits, decoded once into memory.
func Load(ctx context.Context, opts Options) (train, test *datasets.Images, err error) {
	// Only the official copy needs the data cache (download, extraction): a
	// run on the mirror, read straight from its read-only archive, works
	// without one, so a missing or unwritable cache is not an error here.
	dataDir, dirErr := datasets.DataDir(opts.DataDir)
	archives := datasets.ArchiveDirs(opts.ArchiveDirs...)
	copyToUse := opts.Copy
	if copyToUse == Auto {
		look := append([]string{}, archives...)
		if dirErr == nil {
			look = append(look, filepath.Join(dataDir, "downloads"))
		}
		_, official := datasets.FindFile(opts.archive().Name, look)
		_, mirror := datasets.FindFile(Mirror, archives)
		cached := dirErr == nil && extracted(filepath.Join(dataDir, extractDir), opts.archive().MD5, opts.records())
		copyToUse = OfficialCopy
		if !official && !cached && mirror {
			copyToUse = MirrorCopy
		}
	}
	switch copyToUse {
	case OfficialCopy:
		if dirErr != nil {
			return nil, nil, fmt.Errorf("cifar10: the official copy is extracted into a data cache, and there is none (%w); "+
				"set %s to a writable folder, or use the JPEG mirror %s, which needs no cache", dirErr, datasets.EnvData, Mirror)
		}
		return loadOfficial(ctx, dataDir, archives, opts)
	case MirrorCopy:
		path, ok := datasets.FindFile(Mirror, archives)
		if !ok {
			return nil, nil, fmt.Errorf("cifar10: the JPEG mirror %s was not found (looked in %s): point %s (or -archives) at the folder that holds it",
				Mirror, lookedIn(archives), datasets.EnvArchives)
		}
		return loadFolderArchive(path, opts.folderSizes())
	}
	return nil, nil, fmt.Errorf("cifar10: unknown copy %q (valid: official, jpeg-mirror, or empty for auto)", opts.Copy)
}

// LoadFolderArchive loads an image-folder copy packed as
// <top>/{train,test}/<class>/<file> in a .tar.gz (the JPEG mirror's layout),
// checking the split sizes and the class names.
func LoadFolderArchive(path string) (train, test *datasets.Images, err error) {
	return loadFolderArchive(path, [2]int{TrainSize, TestSize})
}

func loadFolderArchive(path string, sizes [2]int) (train, test *datasets.Images, err error) {
	return folderSplits(path, sizes, func(root string) (*datasets.Images, error) {
		return imagefolder.LoadTarGz(path, root)
	})
}

// folderSplits reads the train and test splits of an image-folder copy
// named name with read (which loads the images under a root inside it) and
// checks that they hold sizes[0] and sizes[1] 32x32 CIFAR-10 images.
func folderSplits(name string, sizes [2]int, read func(root string) (*datasets.Images, error)) (train, test *datasets.Images, err error) {
	top := "cifar10-jpeg"
	var out [2]*datasets.Images
	for i, split := range []string{"train", "test"} {
		im, err := read(top + "/" + split)
		if err != nil {
			return nil, nil, err
		}
		if err := checkFolderSplit(im, sizes[i]); err != nil {
			return nil, nil, fmt.Errorf("cifar10: %s %s: %w", name, split, err)
		}
		im.Source = "CIFAR-10 (JPEG q75 mirror) " + split
		out[i] = im
	}
	return out[0], out[1], nil
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
