package cifar10

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/mlsysrep/mlsysrep/datasets"
)

// extractDir is where the six binary members are extracted in the data dir.
const extractDir = "cifar10-binary"

// recordSize is one CIFAR-10 binary record: a label byte and 3x1024 pixel
// bytes (R plane, G plane, B plane, row-major).
const recordSize = 1 + 3*32*32

// members are the six binary files of the archive (10,000 records each).
var members = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"}

func loadOfficial(ctx context.Context, dataDir string, archives []string, opts Options) (train, test *datasets.Images, err error) {
	dir := filepath.Join(dataDir, extractDir)
	records := opts.records()
	if !extracted(dir, records) {
		archive, err := datasets.Fetch(ctx, opts.archive(), dataDir, archives, opts.BaseURL, opts.Progress)
		if err != nil {
			return nil, nil, err
		}
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "extracting %s into %s\n", archive, dir)
		}
		if err := Extract(archive, dir, records); err != nil {
			return nil, nil, err
		}
	}
	train = &datasets.Images{Height: 32, Width: 32, Classes: Classes, Source: "CIFAR-10 (official binary) train"}
	test = &datasets.Images{Height: 32, Width: 32, Classes: Classes, Source: "CIFAR-10 (official binary) test"}
	for _, m := range members {
		into := train
		if m == "test_batch.bin" {
			into = test
		}
		if err := decodeFile(filepath.Join(dir, m), records, into); err != nil {
			return nil, nil, err
		}
	}
	return train, test, nil
}

// extracted tells whether all six members are in dir with their exact sizes.
func extracted(dir string, records int) bool {
	for _, m := range members {
		st, err := os.Stat(filepath.Join(dir, m))
		if err != nil || st.Size() != int64(records*recordSize) {
			return false
		}
	}
	return true
}

// Extract writes the six binary members of the official archive into dir.
// Other regular files (batches.meta.txt, readme.html) are skipped; a member
// with an absolute path, "..", or that is a link is refused; a member of the
// wrong size (records per member) is an error. Each file is written to a
// temporary name and renamed once complete.
func Extract(archive, dir string, records int) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("cifar10: %s is not a gzip file: %w", archive, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	want := map[string]int{}
	for _, m := range members {
		want[m] = records * recordSize
	}
	found := map[string]bool{}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("cifar10: %s is truncated or corrupted: %w", archive, err)
		}
		name := hdr.Name
		if path.IsAbs(name) || strings.Contains(name, "..") {
			return fmt.Errorf("cifar10: %s: refusing member %q (absolute path or ..)", archive, name)
		}
		base := path.Base(name)
		size, expected := want[base]
		switch {
		case hdr.Typeflag == tar.TypeSymlink || hdr.Typeflag == tar.TypeLink:
			return fmt.Errorf("cifar10: %s: refusing member %q: a link", archive, name)
		case hdr.Typeflag != tar.TypeReg || !expected:
			continue // directories; batches.meta.txt, readme.html
		}
		if hdr.Size != int64(size) {
			return fmt.Errorf("cifar10: %s: member %s has %d bytes, want %d", archive, name, hdr.Size, size)
		}
		if err := writeAtomically(filepath.Join(dir, base), tr, hdr.Size); err != nil {
			return fmt.Errorf("cifar10: %s: extracting %s: %w", archive, name, err)
		}
		found[base] = true
	}
	for _, m := range members {
		if !found[m] {
			return fmt.Errorf("cifar10: %s has no member %s", archive, m)
		}
	}
	return nil
}

// writeAtomically copies size bytes of r to path through a temporary file.
func writeAtomically(dst string, r io.Reader, size int64) error {
	tmp, err := os.CreateTemp(filepath.Dir(dst), filepath.Base(dst)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.CopyN(tmp, r, size); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// decodeFile appends the records of one binary file to im.
func decodeFile(path string, records int, im *datasets.Images) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cifar10: %w", err)
	}
	if len(data) != records*recordSize {
		return fmt.Errorf("cifar10: %s has %d bytes, want %d records of %d bytes", path, len(data), records, recordSize)
	}
	return decodeRecords(data, path, im)
}

// decodeRecords converts 3073-byte records (label, R, G, B planes) to
// interleaved RGB images.
func decodeRecords(data []byte, what string, im *datasets.Images) error {
	if len(data)%recordSize != 0 {
		return fmt.Errorf("cifar10: %s: %d bytes is not a whole number of %d-byte records", what, len(data), recordSize)
	}
	for off := 0; off < len(data); off += recordSize {
		label := data[off]
		if int(label) >= len(Classes) {
			return fmt.Errorf("cifar10: %s: record %d has label %d", what, off/recordSize, label)
		}
		planes := data[off+1 : off+recordSize]
		for p := range 1024 {
			im.Pixels = append(im.Pixels, planes[p], planes[1024+p], planes[2048+p])
		}
		im.Labels = append(im.Labels, int32(label))
		im.N++
	}
	return nil
}
