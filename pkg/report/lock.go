//go:build unix

package report

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Lock takes the lock of a cell's key in a results folder, waiting while
// another process (or goroutine) holds it, and returns its release. Tasks
// that share a folder (a Slurm job array's) thus never train one cell at
// once: the second waits, then finds the first one's complete record and
// reuses it. onWait, if not nil, is called once when Lock has to wait.
//
// The lock is flock(2) on a file under dir/locks/ (a file per key, left
// there: it holds no data). Local filesystems honour it, and so does NFS v4
// between machines (Linux maps flock to NFS byte-range locks since 2.6.12);
// on filesystems that do not lock across machines (NFS v3 without lockd,
// some FUSE mounts) two tasks may train one cell, and the atomic record
// writes still leave one whole record, the last one written.
func Lock(dir string, k Key, onWait func()) (release func(), err error) {
	path := filepath.Join(dir, "locks", k.Preset, k.Table,
		fmt.Sprintf("%s.seed%d.%s.lock", SafeName(k.Cell), k.Seed, Slug(k.Data)))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock of %s: %w", k.Cell, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock of %s: %w", k.Cell, err)
	}
	fd := int(f.Fd())
	err = syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		if onWait != nil {
			onWait()
		}
		for err = syscall.Flock(fd, syscall.LOCK_EX); errors.Is(err, syscall.EINTR); {
			err = syscall.Flock(fd, syscall.LOCK_EX)
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock of %s (%s): %w", k.Cell, path, err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}
