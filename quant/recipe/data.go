package recipe

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"

	"github.com/mlsysrep/mlsysrep/datasets"
	"github.com/mlsysrep/mlsysrep/datasets/cifar10"
	"github.com/mlsysrep/mlsysrep/datasets/svhn"
)

// DataOptions says where the data comes from.
type DataOptions struct {
	// Source: "auto" (the local copy, else download), "local" (a local copy,
	// else synthetic images: smoke runs), or "synthetic".
	Source      string
	DataDir     string
	ArchiveDirs []string
	Progress    io.Writer
}

// splits is a dataset's decoded training and test splits.
type splits struct {
	train, test *datasets.Images
	copyName    string
}

// dataCache keeps each dataset decoded once per run.
type dataCache map[string]*splits

func (c dataCache) get(ctx context.Context, kind string, opts DataOptions) (*splits, error) {
	if s, ok := c[kind]; ok {
		return s, nil
	}
	s, err := loadSplits(ctx, kind, opts)
	if err != nil {
		return nil, err
	}
	c[kind] = s
	return s, nil
}

func loadSplits(ctx context.Context, kind string, opts DataOptions) (*splits, error) {
	source := opts.Source
	if source == "" {
		source = "auto"
	}
	if source == "local" {
		if localCopy(kind, opts) {
			source = "auto"
		} else {
			source = "synthetic"
		}
	}
	switch source {
	case "synthetic":
		return &splits{train: Synthetic(kind, 2000, 1), test: Synthetic(kind, 1000, 2), copyName: "synthetic " + kind}, nil
	case "auto":
	default:
		return nil, fmt.Errorf("unknown data source %q: valid sources are auto, local, synthetic", source)
	}
	var tr, te *datasets.Images
	var err error
	switch kind {
	case "cifar10":
		tr, te, err = cifar10.Load(ctx, cifar10.Options{DataDir: opts.DataDir, ArchiveDirs: opts.ArchiveDirs, Progress: opts.Progress})
	case "svhn":
		tr, te, err = svhn.Load(ctx, svhn.Options{DataDir: opts.DataDir, ArchiveDirs: opts.ArchiveDirs, Progress: opts.Progress})
	default:
		err = fmt.Errorf("unknown dataset %q", kind)
	}
	if err != nil {
		return nil, err
	}
	name, _, _ := strings.Cut(tr.Source, ")")
	return &splits{train: tr, test: te, copyName: name + ")"}, nil
}

// DataCache keeps datasets decoded across calls of its Load and of TrainFP
// (FPOptions.Cache): each dataset is decoded once (a notebook cell that
// looks for one FP model and trains another). It is keyed by dataset only,
// so give it one DataOptions.
type DataCache struct{ c dataCache }

// NewDataCache returns an empty cache.
func NewDataCache() *DataCache { return &DataCache{c: dataCache{}} }

// Load returns the training and test splits of a dataset ("cifar10" or
// "svhn") as the recipes get them, and the name of the copy they came
// from, decoding it on the first call.
func (d *DataCache) Load(ctx context.Context, kind string, opts DataOptions) (train, test *datasets.Images, copyName string, err error) {
	s, err := d.c.get(ctx, kind, opts)
	if err != nil {
		return nil, nil, "", err
	}
	return s.train, s.test, s.copyName, nil
}

// DefaultSource is the data source a preset uses unless told otherwise:
// smoke runs take a local copy when there is one and synthetic images
// otherwise (CI has no data and no internet); the others fetch if needed.
func DefaultSource(preset Preset) string {
	if preset == Smoke {
		return "local"
	}
	return "auto"
}

// localCopy tells whether a dataset is already on this machine.
func localCopy(kind string, opts DataOptions) bool {
	dirs := datasets.ArchiveDirs(opts.ArchiveDirs...)
	if dataDir, err := datasets.DataDir(opts.DataDir); err == nil {
		dirs = append(dirs, filepath.Join(dataDir, "downloads"))
	}
	switch kind {
	case "cifar10":
		_, official := datasets.FindFile(cifar10.Official.Name, dirs)
		_, mirror := datasets.FindFile(cifar10.Mirror, dirs)
		return official || mirror
	case "svhn":
		_, a := datasets.FindFile(svhn.TrainFile.Name, dirs)
		_, b := datasets.FindFile(svhn.TestFile.Name, dirs)
		return a && b
	}
	return false
}

// Synthetic makes n learnable 32x32 images in 10 classes (the label
// brightens one of ten 8x8 tiles) standing in for a dataset in smoke runs
// where no copy is available.
func Synthetic(kind string, n int, seed uint64) *datasets.Images {
	rng := rand.New(rand.NewPCG(seed, 7))
	im := &datasets.Images{N: n, Height: 32, Width: 32, Classes: cifar10.Classes, Source: "synthetic " + kind,
		Pixels: make([]uint8, n*32*32*3), Labels: make([]int32, n)}
	if kind == "svhn" {
		im.Classes = svhn.Classes
	}
	for i := range n {
		label := int32(i % 10)
		im.Labels[i] = label
		for p := range 32 * 32 * 3 {
			v := 100 + 30*rng.NormFloat64()
			if y, x := p/96, (p/3)%32; y/8 == int(label)/4 && x/8 == int(label)%4 {
				v += 80
			}
			im.Pixels[i*32*32*3+p] = uint8(min(max(v, 0), 255))
		}
	}
	return im
}
