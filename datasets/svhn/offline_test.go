package svhn

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlsysrep/mlsysrep/datasets"
	"github.com/mlsysrep/mlsysrep/datasets/internal/offlinetest"
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

// TestOfflineMessage checks what Load says offline with no copy: that the
// download failed, where it looked, and how to provide the files, naming no
// partial download that does not exist.
func TestOfflineMessage(t *testing.T) {
	t.Setenv(datasets.EnvArchives, "")
	archives, dataDir := t.TempDir(), t.TempDir()
	_, _, err := Load(context.Background(), Options{DataDir: dataDir, ArchiveDirs: []string{archives}, BaseURL: offlinetest.Unreachable(t)})
	if err == nil {
		t.Fatal("loaded with no copy anywhere")
	}
	offlinetest.CheckMessage(t, "", err.Error(), "downloading it from", "failed", archives, filepath.Join(dataDir, "downloads"),
		"train_32x32.mat and test_32x32.mat", datasets.EnvArchives, "-archives")
}

// TestReadOnlyFilesWithoutCache checks that files in a read-only archive
// folder load when the data cache cannot be created.
func TestReadOnlyFilesWithoutCache(t *testing.T) {
	archives, files, sizes := smallFiles(t)
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o644)
	train, test, err := Load(context.Background(), Options{DataDir: filepath.Join(blocker, "cache"), ArchiveDirs: []string{archives},
		BaseURL: offlinetest.Unreachable(t), Files: files, Sizes: sizes})
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
