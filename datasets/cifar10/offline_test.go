package cifar10

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsysrep/mlsysrep/datasets"
	"github.com/mlsysrep/mlsysrep/datasets/internal/offlinetest"
)

// TestOfflineMessage checks what Load says on a machine without internet
// and without any copy: that the download failed, where it looked, and
// that the JPEG mirror can be used through MLSYSREP_ARCHIVES or -archives,
// naming no partial download that does not exist.
func TestOfflineMessage(t *testing.T) {
	t.Setenv(datasets.EnvArchives, "")
	archives := t.TempDir()
	for _, c := range []Copy{Auto, OfficialCopy} {
		dataDir := t.TempDir()
		_, _, err := Load(context.Background(), Options{DataDir: dataDir, ArchiveDirs: []string{archives}, BaseURL: offlinetest.Unreachable(t), Copy: c})
		if err == nil {
			t.Fatalf("copy %q: loaded with no copy anywhere", c)
		}
		msg := err.Error()
		offlinetest.CheckMessage(t, fmt.Sprintf("copy %q: ", c), msg, "downloading it from", "failed", archives,
			filepath.Join(dataDir, "downloads"), Mirror, datasets.EnvArchives, "-archives")
		if c == OfficialCopy && !strings.Contains(msg, "choose the jpeg-mirror copy") {
			t.Errorf("official copy: error %q does not say how to use the mirror", msg)
		}
	}
}

// TestMirrorWithoutWritableCache checks that a run that needs only the
// read-only JPEG mirror works when the data cache cannot be created, or
// when there is no cache at all (no home directory, no MLSYSREP_DATA), and
// that it writes nothing.
func TestMirrorWithoutWritableCache(t *testing.T) {
	archives := mirrorFolder(t)
	t.Run("cache cannot be created", func(t *testing.T) {
		dataDir := uncreatable(t)
		train, test, err := Load(context.Background(), Options{DataDir: dataDir, ArchiveDirs: []string{archives}, FolderSizes: mirrorSizes})
		if err != nil {
			t.Fatal(err)
		}
		if train.N != 10 || test.N != 10 || !strings.Contains(train.Source, "JPEG q75 mirror") {
			t.Errorf("train %d test %d images from %q", train.N, test.N, train.Source)
		}
	})
	t.Run("no cache at all", func(t *testing.T) {
		t.Setenv(datasets.EnvData, "")
		t.Setenv("HOME", "")
		t.Setenv("XDG_CACHE_HOME", "")
		if _, err := datasets.DataDir(""); err == nil {
			t.Skip("this system has a cache directory without HOME")
		}
		train, _, err := Load(context.Background(), Options{ArchiveDirs: []string{archives}, FolderSizes: mirrorSizes})
		if err != nil || train.N != 10 {
			t.Fatalf("mirror without a cache: %v", err)
		}
		// The official copy does need the cache, and says so.
		_, _, err = Load(context.Background(), Options{ArchiveDirs: []string{archives}, Copy: OfficialCopy})
		if err == nil || !strings.Contains(err.Error(), "data cache") || !strings.Contains(err.Error(), datasets.EnvData) {
			t.Errorf("official copy without a cache: err = %v", err)
		}
	})
	if left, _ := os.ReadDir(archives); len(left) != 1 {
		t.Errorf("the archive folder now holds %d entries", len(left))
	}
}
