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

// DataDir resolves the data cache directory: explicit if not empty, else
// $MLSYSREP_DATA, else os.UserCacheDir()/mlsysrep. It creates nothing: what
// writes into the cache (downloads, extraction) creates what it writes, so a
// run that only reads archives from read-only folders works without a
// writable cache. The error says why there is no cache at all (no home
// directory, no $MLSYSREP_DATA); callers that need no cache may go on without.
func DataDir(explicit string) (string, error) {
	dir := explicit
	if dir == "" {
		dir = os.Getenv(EnvData)
	}
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("datasets: no data cache directory: set %s (%w)", EnvData, err)
		}
		dir = filepath.Join(cache, "mlsysrep")
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
