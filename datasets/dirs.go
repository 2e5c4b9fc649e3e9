package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Environment variables naming where data lives.
const (
	// EnvData names the writable cache for downloads and extracted files.
	EnvData = "MLSYSREP_DATA"
	// EnvArchives lists folders (colon-separated) that may hold already
	// downloaded source archives; they may be read-only.
	EnvArchives = "MLSYSREP_ARCHIVES"
)

// DataDir resolves the writable data directory: explicit if not empty, else
// $MLSYSREP_DATA, else os.UserCacheDir()/mlsysrep. It is created if missing.
func DataDir(explicit string) (string, error) {
	dir := explicit
	if dir == "" {
		dir = os.Getenv(EnvData)
	}
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("datasets: no data directory: set %s (%w)", EnvData, err)
		}
		dir = filepath.Join(cache, "mlsysrep")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("datasets: cannot create the data directory: %w", err)
	}
	return dir, nil
}

// ArchiveDirs returns the folders searched for already-downloaded archives:
// the explicit ones, then those in $MLSYSREP_ARCHIVES.
func ArchiveDirs(explicit ...string) []string {
	dirs := append([]string{}, explicit...)
	for _, d := range strings.Split(os.Getenv(EnvArchives), string(os.PathListSeparator)) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// FindFile returns the first dirs/name that exists as a regular file.
func FindFile(name string, dirs []string) (string, bool) {
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, true
		}
	}
	return "", false
}
