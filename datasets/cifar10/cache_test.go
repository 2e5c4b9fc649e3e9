package cifar10

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mlsysrep/mlsysrep/datasets"
	"github.com/mlsysrep/mlsysrep/datasets/internal/offlinetest"
)

// garbage is a member of the right size whose records are all valid (label
// 0, black pixels): only a digest tells it from the official data.
func garbage() []byte { return make([]byte, testRecords*recordSize) }

// TestExtractedCacheVerified checks that an extracted member replaced by
// plausible garbage is never used: it is extracted again from the archive
// when the archive is here, and otherwise the error names the member and
// says what to do.
func TestExtractedCacheVerified(t *testing.T) {
	t.Setenv(datasets.EnvArchives, "")
	data := officialArchive(t)
	srv, requests, _ := server(t, data, false)
	dataDir := t.TempDir()
	opts := Options{DataDir: dataDir, BaseURL: srv.URL, Archive: fileFor(data), RecordsPerFile: testRecords, Copy: OfficialCopy}
	want, _, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(dataDir, extractDir)
	member := filepath.Join(dir, "data_batch_3.bin")
	if err := os.WriteFile(member, garbage(), 0o644); err != nil {
		t.Fatal(err)
	}

	// The archive is still in the cache's downloads: extract it again.
	var progress bytes.Buffer
	opts.Progress = &progress
	before := requests.Load()
	train, _, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(train.Pixels, want.Pixels) || !slices.Equal(train.Labels, want.Labels) {
		t.Error("the garbage member was decoded as the official data")
	}
	if requests.Load() != before {
		t.Error("re-extraction downloaded the archive again")
	}
	if !strings.Contains(progress.String(), "data_batch_3.bin") || !strings.Contains(progress.String(), "extracting it again") {
		t.Errorf("progress %q does not say why it extracted again", progress.String())
	}

	// No archive anywhere: a clear error.
	opts.Progress, opts.BaseURL = nil, offlinetest.Unreachable(t)
	os.Remove(filepath.Join(dataDir, "downloads", opts.Archive.Name))
	os.WriteFile(member, garbage(), 0o644)
	_, _, err = Load(context.Background(), opts)
	if err == nil {
		t.Fatal("garbage member, no archive: loaded")
	}
	if missing := notSaid(err.Error(), member, "sha256", "extracting it again needs the archive", opts.Archive.Name, datasets.EnvArchives, "delete "+dir); missing != nil {
		t.Errorf("garbage member, no archive: error %q does not say %q", err, missing)
	}

	// A cache without a manifest (an older version's, or an interrupted
	// extraction) is not trusted either.
	os.Remove(filepath.Join(dir, manifestName))
	_, _, err = Load(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "no "+manifestName) {
		t.Errorf("no manifest: err = %v", err)
	}
}

// TestAutoSkipsUnverifiedCache checks that in auto mode a cache without a
// valid manifest does not count as the official copy: the mirror is used.
func TestAutoSkipsUnverifiedCache(t *testing.T) {
	dataDir := t.TempDir()
	dir := filepath.Join(dataDir, extractDir)
	os.MkdirAll(dir, 0o755)
	for _, m := range members {
		os.WriteFile(filepath.Join(dir, m), garbage(), 0o644)
	}
	train, _, err := Load(context.Background(), Options{DataDir: dataDir, ArchiveDirs: []string{mirrorFolder(t)}, FolderSizes: mirrorSizes,
		RecordsPerFile: testRecords})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(train.Source, "JPEG q75 mirror") {
		t.Errorf("a cache of zeros with no manifest was used: %q", train.Source)
	}
}

// TestCacheOfAnotherArchive checks that members extracted from another
// archive (same layout, other md5) are extracted again from the wanted one.
func TestCacheOfAnotherArchive(t *testing.T) {
	first := officialArchive(t)
	other := officialArchive(t, member{name: "cifar-10-batches-bin/extra.txt", data: []byte("x"), typ: tar.TypeReg})
	dataDir, archives := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(archives, "cifar-10-binary.tar.gz"), first, 0o644)
	opts := Options{DataDir: dataDir, ArchiveDirs: []string{archives}, BaseURL: offlinetest.Unreachable(t), Archive: fileFor(first), RecordsPerFile: testRecords, Copy: OfficialCopy}
	if _, _, err := Load(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(archives, "cifar-10-binary.tar.gz"), other, 0o644)
	opts.Archive = fileFor(other)
	var progress bytes.Buffer
	opts.Progress = &progress
	if _, _, err := Load(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "not the wanted one") {
		t.Errorf("progress %q: the first archive's cache was reused", progress.String())
	}
}

// TestManifest checks the manifest round trip and that malformed ones are
// refused.
func TestManifest(t *testing.T) {
	m := &manifest{archiveMD5: "c32a1d4ab5d03f1284b67883e8d87530", records: 3, sha256: map[string]string{}}
	for _, name := range members {
		m.sha256[name] = strings.Repeat("ab", 32)
	}
	got, err := parseManifest(m.encode())
	if err != nil || got.archiveMD5 != m.archiveMD5 || got.records != 3 || got.sha256["test_batch.bin"] != m.sha256["test_batch.bin"] {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	text := string(m.encode())
	for name, bad := range map[string]string{
		"empty":            "",
		"other header":     strings.Replace(text, "v1", "v2", 1),
		"member missing":   strings.Replace(text, "sha256 "+strings.Repeat("ab", 32)+" test_batch.bin\n", "", 1),
		"member twice":     text + "sha256 " + strings.Repeat("ab", 32) + " test_batch.bin\n",
		"short digest":     strings.Replace(text, strings.Repeat("ab", 32)+" test_batch.bin", "abcd test_batch.bin", 1),
		"unknown member":   strings.Replace(text, "test_batch.bin", "evil.bin", 1),
		"zero records":     strings.Replace(text, "records 3", "records 0", 1),
		"unknown line":     text + "hello\n",
		"records repeated": text + "records 3\n",
	} {
		if _, err := parseManifest([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
