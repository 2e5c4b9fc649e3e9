package cifar10

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/mlsysrep/mlsysrep/datasets"
)

// Extract writes the six binary members of the official archive into dir,
// then a manifest recording the archive's md5, the record count and each
// member's sha256 (decodeExtracted reuses nothing that does not match it).
// Other regular files (batches.meta.txt, readme.html) are skipped; a member
// with an absolute path, "..", or that is a link is refused; a member of the
// wrong size (records per member) is an error. Each file is written to a
// temporary name and renamed once complete, the manifest last, after the old
// one is removed: an interrupted extraction leaves no manifest.
func Extract(archive, dir string, records int) error {
	f, err := os.Open(archive)
	if err != nil {
		return fmt.Errorf("cifar10: %w", err)
	}
	defer f.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cifar10: cannot extract %s into the data cache (%w): set %s to a writable folder", archive, err, datasets.EnvData)
	}
	if err := os.Remove(filepath.Join(dir, manifestName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cifar10: %w", err)
	}
	m, err := extractFrom(f, archive, records, func(name string, r io.Reader, size int64) (string, error) {
		return writeAtomically(filepath.Join(dir, name), r, size)
	})
	if err != nil {
		return err
	}
	manifest := m.encode()
	if _, err := writeAtomically(filepath.Join(dir, manifestName), bytes.NewReader(manifest), int64(len(manifest))); err != nil {
		return fmt.Errorf("cifar10: writing %s: %w", filepath.Join(dir, manifestName), err)
	}
	return nil
}

// extractFrom checks the archive read from r (named archive in messages),
// passes each of its six members to write (which stores size bytes of r
// under the member's base name and returns their sha256) and returns their
// manifest, with the md5 of every byte of r.
func extractFrom(r io.Reader, archive string, records int, write func(name string, r io.Reader, size int64) (string, error)) (*manifest, error) {
	sum := md5.New()
	src := io.TeeReader(r, sum)
	gz, err := gzip.NewReader(src)
	if err != nil {
		return nil, fmt.Errorf("cifar10: %s is not a gzip file: %w", archive, err)
	}
	m := &manifest{records: records, sha256: map[string]string{}}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("cifar10: %s is truncated or corrupted: %w", archive, err)
		}
		name := hdr.Name
		if path.IsAbs(name) || strings.Contains(name, "..") {
			return nil, fmt.Errorf("cifar10: %s: refusing member %q (absolute path or ..)", archive, name)
		}
		base := path.Base(name)
		switch {
		case hdr.Typeflag == tar.TypeSymlink || hdr.Typeflag == tar.TypeLink:
			return nil, fmt.Errorf("cifar10: %s: refusing member %q: a link", archive, name)
		case hdr.Typeflag != tar.TypeReg || !isMember(base):
			continue // directories; batches.meta.txt, readme.html
		}
		if hdr.Size != int64(records*recordSize) {
			return nil, fmt.Errorf("cifar10: %s: member %s has %d bytes, want %d", archive, name, hdr.Size, records*recordSize)
		}
		digest, err := write(base, tr, hdr.Size)
		if err != nil {
			return nil, fmt.Errorf("cifar10: %s: extracting %s: %w", archive, name, err)
		}
		m.sha256[base] = digest
	}
	for _, name := range members {
		if m.sha256[name] == "" {
			return nil, fmt.Errorf("cifar10: %s has no member %s", archive, name)
		}
	}
	// Hash what gzip and tar left unread (end padding) so that the md5 is
	// the whole archive's, comparable with the one it was downloaded by.
	if _, err := io.Copy(io.Discard, src); err != nil {
		return nil, fmt.Errorf("cifar10: reading %s: %w", archive, err)
	}
	m.archiveMD5 = hex.EncodeToString(sum.Sum(nil))
	return m, nil
}

// writeAtomically copies size bytes of r to dst through a temporary file and
// returns their sha256. Nothing is synced: a file torn by a crash fails its
// digest and is extracted again.
func writeAtomically(dst string, r io.Reader, size int64) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(dst), filepath.Base(dst)+".tmp*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(tmp, h), r, size); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), os.Rename(tmp.Name(), dst)
}
