package svhn

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsysrep/mlsysrep/datasets"
)

// smallFiles writes a train and a test file in the official format into a
// fresh folder and returns it with the options that describe them.
func smallFiles(t *testing.T) (string, *[2]datasets.File, *[2]int) {
	dir := t.TempDir()
	train, test := svhnMat([]float64{1, 2, 10}), svhnMat([]float64{5})
	os.WriteFile(filepath.Join(dir, "train_32x32.mat"), train, 0o444)
	os.WriteFile(filepath.Join(dir, "test_32x32.mat"), test, 0o444)
	return dir, &[2]datasets.File{fileOf("train_32x32.mat", train), fileOf("test_32x32.mat", test)}, &[2]int{3, 1}
}

// unreachable is the URL of a closed local server: connections are refused
// at once, as on a machine without internet.
func unreachable(t *testing.T) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	return srv.URL
}

// TestOfflineMessage checks what Load says offline with no copy: that the
// download failed, where it looked, and how to provide the files, naming no
// partial download that does not exist.
func TestOfflineMessage(t *testing.T) {
	t.Setenv(datasets.EnvArchives, "")
	archives, dataDir := t.TempDir(), t.TempDir()
	_, _, err := Load(context.Background(), Options{DataDir: dataDir, ArchiveDirs: []string{archives}, BaseURL: unreachable(t)})
	if err == nil {
		t.Fatal("loaded with no copy anywhere")
	}
	msg := err.Error()
	var missing []string
	for _, want := range []string{"downloading it from", "failed", archives, filepath.Join(dataDir, "downloads"),
		"train_32x32.mat and test_32x32.mat", datasets.EnvArchives, "-archives"} {
		if !strings.Contains(msg, want) {
			missing = append(missing, want)
		}
	}
	if missing != nil {
		t.Errorf("error %q does not say %q", msg, missing)
	}
	if strings.Contains(msg, ".part") {
		t.Errorf("error %q names a partial download that does not exist", msg)
	}
}

// TestReadOnlyFilesWithoutCache checks that files in a read-only archive
// folder load when the data cache cannot be created.
func TestReadOnlyFilesWithoutCache(t *testing.T) {
	archives, files, sizes := smallFiles(t)
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o644)
	train, test, err := Load(context.Background(), Options{DataDir: filepath.Join(blocker, "cache"), ArchiveDirs: []string{archives},
		BaseURL: unreachable(t), Files: files, Sizes: sizes})
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 3 || test.N != 1 {
		t.Errorf("%d train and %d test images", train.N, test.N)
	}
}

// fileOf describes data as an official file named name.
func fileOf(name string, data []byte) datasets.File {
	sum := md5.Sum(data)
	return datasets.File{Name: name, Size: int64(len(data)), MD5: hex.EncodeToString(sum[:])}
}
