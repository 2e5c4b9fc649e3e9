package datasets

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsysrep/mlsysrep/datasets/internal/offlinetest"
)

func fileOf(name string, data []byte) File {
	sum := md5.Sum(data)
	return File{Name: name, Size: int64(len(data)), MD5: hex.EncodeToString(sum[:])}
}

// TestFetchOffline checks what Fetch says when a file is nowhere and cannot
// be downloaded: where it looked and why the download failed, naming no
// partial file that does not exist.
func TestFetchOffline(t *testing.T) {
	archives, dataDir := t.TempDir(), t.TempDir()
	_, err := Fetch(context.Background(), fileOf("x.tar.gz", []byte("x")), dataDir, []string{archives}, offlinetest.Unreachable(t), nil)
	var fe *FetchError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a *FetchError", err)
	}
	offlinetest.CheckMessage(t, "", err.Error(), "x.tar.gz was not found", archives, filepath.Join(dataDir, "downloads"),
		"downloading it from http://", "connection refused")
}

// TestFetchWithoutCache checks that a file in a read-only archive folder is
// used without touching the data cache, and that a missing one with an
// unusable cache says the cache is the problem.
func TestFetchWithoutCache(t *testing.T) {
	archives := t.TempDir()
	data := []byte("archive")
	os.WriteFile(filepath.Join(archives, "a.tar.gz"), data, 0o444)
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o644)
	unwritable := filepath.Join(blocker, "cache") // under a file: cannot be created, even by root
	for _, dataDir := range []string{"", unwritable} {
		p, err := Fetch(context.Background(), fileOf("a.tar.gz", data), dataDir, []string{archives}, offlinetest.Unreachable(t), nil)
		if err != nil || p != filepath.Join(archives, "a.tar.gz") {
			t.Errorf("data dir %q: Fetch = %q, %v", dataDir, p, err)
		}
	}
	_, err := Fetch(context.Background(), fileOf("b.tar.gz", data), unwritable, []string{archives}, offlinetest.Unreachable(t), nil)
	if err == nil || !strings.Contains(err.Error(), "not writable") || !strings.Contains(err.Error(), EnvData) {
		t.Errorf("unwritable cache: err = %v", err)
	}
	_, err = Fetch(context.Background(), fileOf("b.tar.gz", data), "", []string{archives}, offlinetest.Unreachable(t), nil)
	if err == nil || !strings.Contains(err.Error(), "no data cache") || !strings.Contains(err.Error(), archives) {
		t.Errorf("no cache: err = %v", err)
	}
}

// TestDataDirCreatesNothing checks that resolving the cache does not create
// it: a read-only run must not fail, or write, because of it.
func TestDataDirCreatesNothing(t *testing.T) {
	want := filepath.Join(t.TempDir(), "not", "yet")
	got, err := DataDir(want)
	if err != nil || got != want {
		t.Fatalf("DataDir = %q, %v", got, err)
	}
	if _, err := os.Stat(want); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("DataDir created %s (%v)", want, err)
	}
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o644)
	if _, err := DataDir(filepath.Join(blocker, "cache")); err != nil {
		t.Errorf("an uncreatable cache failed DataDir: %v", err)
	}
}
