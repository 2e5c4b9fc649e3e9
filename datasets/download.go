package datasets

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// File is an official source file: where to download it and how to verify it.
type File struct {
	Name string // file name, e.g. "cifar-10-binary.tar.gz"
	URL  string
	Size int64
	MD5  string // hex
}

// Verify checks a file's size and md5, naming the file in the error.
func (f File) Verify(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Size() != f.Size {
		return fmt.Errorf("%s: size %d bytes, want %d (truncated or not the official file)", path, st.Size(), f.Size)
	}
	sum, err := md5File(path)
	if err != nil {
		return err
	}
	if sum != f.MD5 {
		return fmt.Errorf("%s: md5 %s, want %s (corrupted or not the official file)", path, sum, f.MD5)
	}
	return nil
}

func md5File(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := md5.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Fetch returns the path of a verified copy of f: an already-downloaded one
// in archiveDirs (read-only is fine) or dataDir/downloads, else it downloads
// f.URL (baseURL, when set, replaces everything before the file name: for
// mirrors and tests) into dataDir/downloads with progress on progress (may be
// nil). The download goes to NAME.part, resumes an interrupted one with an
// HTTP range request (or restarts if the server ignores it), and is renamed
// to NAME only once its size and md5 are right; a bad download is removed and
// reported. dataDir "" means there is no data cache: only archiveDirs are
// searched. A file that is neither here nor downloaded gives a *FetchError.
func Fetch(ctx context.Context, f File, dataDir string, archiveDirs []string, baseURL string, progress io.Writer) (string, error) {
	looked := append([]string{}, archiveDirs...)
	downloads := ""
	if dataDir != "" {
		downloads = filepath.Join(dataDir, "downloads")
		looked = append(looked, downloads)
	}
	if p, ok := FindFile(f.Name, looked); ok {
		if err := f.Verify(p); err != nil {
			return "", fmt.Errorf("datasets: found %s but it is not usable: %w", f.Name, err)
		}
		return p, nil
	}
	if downloads == "" {
		return "", &FetchError{Name: f.Name, Looked: looked, Err: fmt.Errorf("there is no data cache to download into (set %s)", EnvData)}
	}
	if err := os.MkdirAll(downloads, 0o755); err != nil {
		return "", &FetchError{Name: f.Name, Looked: looked,
			Err: fmt.Errorf("the data cache is not writable (%w): set %s to a writable folder", err, EnvData)}
	}
	url := f.URL
	if baseURL != "" {
		url = baseURL + "/" + f.Name
	}
	final := filepath.Join(downloads, f.Name)
	part := final + ".part"
	if err := download(ctx, url, part, f.Name, f.Size, progress); err != nil {
		fe := &FetchError{Name: f.Name, Looked: looked, URL: url, Err: err}
		// Name the partial file only when there is one: a connection that
		// never opened leaves nothing to resume.
		if st, statErr := os.Stat(part); statErr == nil && st.Size() > 0 {
			fe.Part = part
		}
		return "", fe
	}
	if err := f.Verify(part); err != nil {
		os.Remove(part)
		return "", fmt.Errorf("datasets: downloaded %s is bad, removed it: %w", f.Name, err)
	}
	if err := os.Rename(part, final); err != nil {
		return "", err
	}
	return final, nil
}

// download appends url's content to part, resuming from part's current size.
func download(ctx context.Context, url, part, name string, size int64, progress io.Writer) error {
	have := int64(0)
	if st, err := os.Stat(part); err == nil {
		have = st.Size()
	}
	if have > size {
		os.Remove(part)
		have = 0
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	flags := os.O_CREATE | os.O_WRONLY
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		flags |= os.O_APPEND
	case resp.StatusCode == http.StatusOK:
		flags |= os.O_TRUNC // the server sent the whole file: start over
		have = 0
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		return nil // already complete; Verify decides
	default:
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	out, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return err
	}
	w := &progressWriter{w: out, done: have, total: size, name: name, out: progress, start: time.Now(), lastPercent: -5}
	_, copyErr := io.Copy(w, resp.Body)
	closeErr := out.Close()
	w.report(true)
	if copyErr != nil {
		return copyErr
	}
	if w.done < size {
		return errors.New("connection closed early: " + fmt.Sprintf("%d of %d bytes", w.done, size))
	}
	return closeErr
}

// progressWriter reports download progress every 5%.
type progressWriter struct {
	w           io.Writer
	done, total int64
	name        string
	out         io.Writer
	start       time.Time
	lastPercent int64
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	p.report(false)
	return n, err
}

func (p *progressWriter) report(final bool) {
	if p.out == nil || p.total <= 0 {
		return
	}
	percent := 100 * p.done / p.total
	if percent < p.lastPercent+5 && (!final || percent == p.lastPercent) {
		return
	}
	p.lastPercent = percent
	rate := float64(p.done) / 1e6 / max(time.Since(p.start).Seconds(), 1e-3)
	fmt.Fprintf(p.out, "downloading %s: %d%% (%.1f / %.1f MB) %.1f MB/s\n", p.name, percent, float64(p.done)/1e6, float64(p.total)/1e6, rate)
}
