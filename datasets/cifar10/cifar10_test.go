package cifar10

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlsysrep/mlsysrep/datasets"
)

const testRecords = 3

// record is a 3073-byte record whose pixels encode (member, index, channel).
func record(member, index int) []byte {
	r := make([]byte, recordSize)
	r[0] = byte((member*testRecords + index) % 10)
	for c := range 3 {
		for p := range 1024 {
			r[1+c*1024+p] = byte(member*16 + index*4 + c + p%2)
		}
	}
	return r
}

type member struct {
	name string
	data []byte
	typ  byte
	link string
}

// officialArchive builds a cifar-10-binary.tar.gz in the official layout
// with testRecords records per member plus the two text members.
func officialArchive(t testing.TB, extra ...member) []byte {
	return gzipped(officialTar(t, testRecords, extra...))
}

// officialTar is the tar inside officialArchive, with records per member.
func officialTar(t testing.TB, records int, extra ...member) []byte {
	var ms []member
	ms = append(ms, member{name: "cifar-10-batches-bin/", typ: tar.TypeDir})
	for i, m := range members {
		var data []byte
		for j := range records {
			data = append(data, record(i, j)...)
		}
		ms = append(ms, member{name: "cifar-10-batches-bin/" + m, data: data, typ: tar.TypeReg})
	}
	ms = append(ms, member{name: "cifar-10-batches-bin/batches.meta.txt", data: []byte("airplane\n"), typ: tar.TypeReg},
		member{name: "cifar-10-batches-bin/readme.html", data: []byte("<html>"), typ: tar.TypeReg})
	ms = append(ms, extra...)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range ms {
		hdr := &tar.Header{Name: m.name, Typeflag: m.typ, Mode: 0o644, Size: int64(len(m.data)), Linkname: m.link}
		if m.typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write(m.data)
	}
	tw.Close()
	return buf.Bytes()
}

func fileFor(data []byte) *datasets.File {
	sum := md5.Sum(data)
	return &datasets.File{Name: "cifar-10-binary.tar.gz", Size: int64(len(data)), MD5: hex.EncodeToString(sum[:])}
}

// server serves data with Range support; truncateFirst cuts the first
// response in half and closes the connection.
func server(t *testing.T, data []byte, truncateFirst bool) (*httptest.Server, *atomic.Int32, *atomic.Int64) {
	var requests atomic.Int32
	var rangeStart atomic.Int64
	rangeStart.Store(-1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := requests.Add(1)
		if h := r.Header.Get("Range"); h != "" {
			var start int64
			if _, err := fmtSscanf(h, &start); err == nil {
				rangeStart.Store(start)
			}
		}
		if truncateFirst && n == 1 {
			w.Header().Set("Content-Length", strconvI(len(data)))
			w.Write(data[:len(data)/2])
			w.(http.Flusher).Flush()
			if hj, ok := w.(http.Hijacker); ok {
				conn, _, _ := hj.Hijack()
				conn.Close()
			}
			return
		}
		http.ServeContent(w, r, "cifar-10-binary.tar.gz", time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(srv.Close)
	return srv, &requests, &rangeStart
}

func TestDownloadExtractDecode(t *testing.T) {
	data := officialArchive(t)
	srv, requests, _ := server(t, data, false)
	dataDir := t.TempDir()
	var progress bytes.Buffer
	opts := Options{DataDir: dataDir, BaseURL: srv.URL, Archive: fileFor(data), RecordsPerFile: testRecords,
		Copy: OfficialCopy, Progress: &progress}
	train, test, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 5*testRecords || test.N != testRecords {
		t.Fatalf("got %d train and %d test images", train.N, test.N)
	}
	if !strings.Contains(train.Source, "official binary") || !strings.Contains(progress.String(), "downloading cifar-10-binary.tar.gz: 100%") {
		t.Errorf("source %q, progress %q", train.Source, progress.String())
	}
	// Test image 1 is record(5, 1): label (5*3+1)%10 = 6; pixel 0 channels R,G,B = 5*16+4+{0,1,2}.
	if test.Labels[1] != 6 || !bytes.Equal(test.Image(1)[:3], []byte{84, 85, 86}) {
		t.Errorf("test image 1: label %d pixel %v, want 6 [84 85 86]", test.Labels[1], test.Image(1)[:3])
	}
	// Planes are interleaved: pixel 1 is +1 on every channel.
	if !bytes.Equal(test.Image(1)[3:6], []byte{85, 86, 87}) {
		t.Errorf("pixel 1 = %v", test.Image(1)[3:6])
	}
	if err := train.Check(); err != nil {
		t.Error(err)
	}
	// The text members were skipped; a second load uses the cache, no request.
	if _, err := os.Stat(filepath.Join(dataDir, extractDir, "readme.html")); err == nil {
		t.Error("readme.html was extracted")
	}
	before := requests.Load()
	if _, _, err := Load(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if requests.Load() != before {
		t.Error("second load downloaded again")
	}
}

func TestBadDownloads(t *testing.T) {
	data := officialArchive(t)
	t.Run("wrong md5", func(t *testing.T) {
		srv, _, _ := server(t, data, false)
		f := fileFor(data)
		f.MD5 = strings.Repeat("0", 32)
		dataDir := t.TempDir()
		_, _, err := Load(context.Background(), Options{DataDir: dataDir, BaseURL: srv.URL, Archive: f, RecordsPerFile: testRecords, Copy: OfficialCopy})
		if err == nil || !strings.Contains(err.Error(), "md5") || !strings.Contains(err.Error(), "removed") {
			t.Fatalf("err = %v", err)
		}
		left, _ := filepath.Glob(filepath.Join(dataDir, "downloads", "*"))
		if len(left) != 0 {
			t.Errorf("files left behind: %v", left)
		}
	})
	t.Run("truncated then resumed", func(t *testing.T) {
		srv, _, rangeStart := server(t, data, true)
		dataDir := t.TempDir()
		opts := Options{DataDir: dataDir, BaseURL: srv.URL, Archive: fileFor(data), RecordsPerFile: testRecords, Copy: OfficialCopy}
		_, _, err := Load(context.Background(), opts)
		if err == nil || !strings.Contains(err.Error(), "run again to resume") {
			t.Fatalf("truncated download: err = %v", err)
		}
		if _, err := os.Stat(filepath.Join(dataDir, "downloads", "cifar-10-binary.tar.gz")); err == nil {
			t.Fatal("a truncated download was renamed to its final name")
		}
		if _, _, err := Load(context.Background(), opts); err != nil {
			t.Fatalf("resume: %v", err)
		}
		if rangeStart.Load() != int64(len(data)/2) {
			t.Errorf("resumed from byte %d, want %d", rangeStart.Load(), len(data)/2)
		}
	})
	t.Run("member with ..", func(t *testing.T) {
		bad := officialArchive(t, member{name: "cifar-10-batches-bin/../../evil.bin", data: []byte("x"), typ: tar.TypeReg})
		srv, _, _ := server(t, bad, false)
		_, _, err := Load(context.Background(), Options{DataDir: t.TempDir(), BaseURL: srv.URL, Archive: fileFor(bad), RecordsPerFile: testRecords, Copy: OfficialCopy})
		if err == nil || !strings.Contains(err.Error(), "refusing member") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("link member", func(t *testing.T) {
		bad := officialArchive(t, member{name: "cifar-10-batches-bin/x.bin", typ: tar.TypeSymlink, link: "/etc/passwd"})
		srv, _, _ := server(t, bad, false)
		_, _, err := Load(context.Background(), Options{DataDir: t.TempDir(), BaseURL: srv.URL, Archive: fileFor(bad), RecordsPerFile: testRecords, Copy: OfficialCopy})
		if err == nil || !strings.Contains(err.Error(), "a link") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("wrong record count", func(t *testing.T) {
		srv, _, _ := server(t, data, false)
		_, _, err := Load(context.Background(), Options{DataDir: t.TempDir(), BaseURL: srv.URL, Archive: fileFor(data), RecordsPerFile: 4, Copy: OfficialCopy})
		if err == nil || !strings.Contains(err.Error(), "want 12292") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("archive already here", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "cifar-10-binary.tar.gz"), data, 0o444)
		train, _, err := Load(context.Background(), Options{DataDir: t.TempDir(), ArchiveDirs: []string{dir}, BaseURL: "http://127.0.0.1:1",
			Archive: fileFor(data), RecordsPerFile: testRecords})
		if err != nil || train.N != 15 {
			t.Fatalf("local archive: %v", err)
		}
	})
}

// TestJPEGMirror checks the offline copy when this machine has it.
func TestJPEGMirror(t *testing.T) {
	path := "../../../shared/data/cifar10-jpeg.tar.gz"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("offline CIFAR-10 copy not here (%v): nothing to check", err)
	}
	train, test, err := LoadFolderArchive(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range []*datasets.Images{train, test} {
		counts := make([]int, 10)
		for _, l := range im.Labels {
			counts[l]++
		}
		for c, n := range counts {
			if n != im.N/10 {
				t.Errorf("%s: class %s has %d images, want %d", im.Source, Classes[c], n, im.N/10)
			}
		}
	}
	// Channel means of the training pixels (README of the copy: 0.492 0.484 0.448).
	var sum [3]float64
	for i, p := range train.Pixels {
		sum[i%3] += float64(p)
	}
	for c, want := range []float64{0.492, 0.484, 0.448} {
		if got := sum[c] / float64(train.N*1024) / 255; math.Abs(got-want) > 0.01 {
			t.Errorf("channel %d mean %.4f, want %.3f", c, got, want)
		}
	}
}
