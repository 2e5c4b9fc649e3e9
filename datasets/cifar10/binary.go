package cifar10

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mlsysrep/mlsysrep/datasets"
)

// extractDir is where the six binary members are extracted in the data dir.
const extractDir = "cifar10-binary"

// recordSize is one CIFAR-10 binary record: a label byte and 3x1024 pixel
// bytes (R plane, G plane, B plane, row-major).
const recordSize = 1 + 3*32*32

// members are the six binary files of the archive (10,000 records each).
var members = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"}

// errNoCache says that nothing was ever extracted into the cache.
var errNoCache = errors.New("nothing extracted yet")

// loadOfficial decodes the extracted members when they verify against their
// manifest, and otherwise (re-)extracts them from the verified archive first.
func loadOfficial(ctx context.Context, dataDir string, archives []string, opts Options) (train, test *datasets.Images, err error) {
	dir := filepath.Join(dataDir, extractDir)
	want, records := opts.archive(), opts.records()
	train, test, cacheErr := decodeExtracted(dir, want.MD5, records)
	if cacheErr == nil {
		return train, test, nil
	}
	archive, err := datasets.Fetch(ctx, want, dataDir, archives, opts.BaseURL, opts.Progress)
	if err != nil {
		var fe *datasets.FetchError
		if errors.Is(cacheErr, errNoCache) && errors.As(err, &fe) {
			return nil, nil, offlineHint(err, opts.Copy)
		}
		if errors.Is(cacheErr, errNoCache) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("cifar10: the extracted copy in %s cannot be used (%w), and extracting it again needs the archive: %w. "+
			"Put %s in a folder named by %s (or -archives), or delete %s to let another copy be used",
			dir, cacheErr, err, want.Name, datasets.EnvArchives, dir)
	}
	if opts.Progress != nil {
		if !errors.Is(cacheErr, errNoCache) {
			fmt.Fprintf(opts.Progress, "the extracted copy in %s cannot be used (%v): extracting it again\n", dir, cacheErr)
		}
		fmt.Fprintf(opts.Progress, "extracting %s into %s\n", archive, dir)
	}
	if err := Extract(archive, dir, records); err != nil {
		return nil, nil, err
	}
	if train, test, err = decodeExtracted(dir, want.MD5, records); err != nil {
		return nil, nil, fmt.Errorf("cifar10: %s was just extracted from %s but does not verify: %w", dir, archive, err)
	}
	return train, test, nil
}

// decodeExtracted decodes the six members in dir after checking them
// against the manifest: written for the archive of md5 archiveMD5 with
// records per member, each member of that sha256. errNoCache means dir
// holds neither manifest nor members.
func decodeExtracted(dir, archiveMD5 string, records int) (train, test *datasets.Images, err error) {
	m, err := readManifest(dir)
	if errors.Is(err, fs.ErrNotExist) {
		for _, name := range members {
			if _, statErr := os.Stat(filepath.Join(dir, name)); statErr == nil {
				return nil, nil, fmt.Errorf("%s has members but no %s (extracted by an older version, or extraction was interrupted)", dir, manifestName)
			}
		}
		return nil, nil, errNoCache
	}
	if err != nil {
		return nil, nil, err
	}
	if err := m.matches(archiveMD5, records); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", filepath.Join(dir, manifestName), err)
	}
	train = &datasets.Images{Height: 32, Width: 32, Classes: Classes, Source: "CIFAR-10 (official binary) train",
		Pixels: make([]uint8, 0, 5*records*32*32*3)}
	test = &datasets.Images{Height: 32, Width: 32, Classes: Classes, Source: "CIFAR-10 (official binary) test",
		Pixels: make([]uint8, 0, records*32*32*3)}
	for _, name := range members {
		into := train
		if name == "test_batch.bin" {
			into = test
		}
		if err := decodeMember(filepath.Join(dir, name), records, m, into); err != nil {
			return nil, nil, err
		}
	}
	return train, test, nil
}

// extracted tells, without reading the members, whether dir looks like a
// complete extraction of the wanted archive: a matching manifest and six
// members of the right size (decodeExtracted then checks their digests).
func extracted(dir, archiveMD5 string, records int) bool {
	m, err := readManifest(dir)
	if err != nil || m.matches(archiveMD5, records) != nil {
		return false
	}
	for _, name := range members {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Size() != int64(records*recordSize) {
			return false
		}
	}
	return true
}

// decodeMember appends the records of one extracted member to im after
// checking its size (before reading it) and its sha256 against m.
func decodeMember(path string, records int, m *manifest, im *datasets.Images) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() != int64(records*recordSize) {
		return fmt.Errorf("%s has %d bytes, want %d records of %d bytes", path, st.Size(), records, recordSize)
	}
	data := make([]byte, st.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := m.verify(path, data); err != nil {
		return err
	}
	return decodeRecords(data, path, im)
}

// decodeRecords converts 3073-byte records (label, R, G, B planes) to
// interleaved RGB images appended to im. On an error im is left unchanged.
func decodeRecords(data []byte, what string, im *datasets.Images) error {
	if len(data)%recordSize != 0 {
		return fmt.Errorf("%s: %d bytes is not a whole number of %d-byte records", what, len(data), recordSize)
	}
	for off := 0; off < len(data); off += recordSize {
		if label := data[off]; int(label) >= len(Classes) {
			return fmt.Errorf("%s: record %d has label %d", what, off/recordSize, label)
		}
	}
	for off := 0; off < len(data); off += recordSize {
		planes := data[off+1 : off+recordSize]
		for p := range 1024 {
			im.Pixels = append(im.Pixels, planes[p], planes[1024+p], planes[2048+p])
		}
		im.Labels = append(im.Labels, int32(data[off]))
		im.N++
	}
	return nil
}
