package cifar10

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// manifestName is the file Extract writes next to the members, after them:
// which archive they came from (its md5), how many records each holds and the
// sha256 of each. A cache is reused only when its manifest matches the
// archive wanted and every member matches its digest, so a cache of
// plausible garbage (right sizes, wrong bytes) is never taken for the
// official data.
const manifestName = "MANIFEST"

// manifestHeader is the first line of a manifest (its format version).
const manifestHeader = "mlsysrep cifar10-binary manifest v1"

// maxManifestBytes bounds what is read of a manifest (it is about 600 bytes).
const maxManifestBytes = 64 << 10

// manifest is what a MANIFEST file records.
type manifest struct {
	archiveMD5 string            // md5 of the archive the members came from
	records    int               // records per member
	sha256     map[string]string // member name -> hex sha256
}

// encode writes the manifest as text, members in their fixed order.
func (m *manifest) encode() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\narchive-md5 %s\nrecords %d\n", manifestHeader, m.archiveMD5, m.records)
	for _, name := range members {
		fmt.Fprintf(&b, "sha256 %s %s\n", m.sha256[name], name)
	}
	return b.Bytes()
}

// parseManifest reads what encode writes and nothing else: every member
// exactly once, digests of 64 hex digits.
func parseManifest(data []byte) (*manifest, error) {
	m := &manifest{sha256: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	if !sc.Scan() || sc.Text() != manifestHeader {
		return nil, fmt.Errorf("first line is not %q", manifestHeader)
	}
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "archive-md5" && m.archiveMD5 == "":
			m.archiveMD5 = f[1]
		case len(f) == 2 && f[0] == "records" && m.records == 0:
			n, err := strconv.Atoi(f[1])
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("bad record count %q", f[1])
			}
			m.records = n
		case len(f) == 3 && f[0] == "sha256" && isMember(f[2]) && m.sha256[f[2]] == "":
			if sum, err := hex.DecodeString(f[1]); err != nil || len(sum) != sha256.Size {
				return nil, fmt.Errorf("bad sha256 %q for %s", f[1], f[2])
			}
			m.sha256[f[2]] = f[1]
		default:
			return nil, fmt.Errorf("unexpected line %q", sc.Text())
		}
	}
	if m.archiveMD5 == "" || m.records == 0 || len(m.sha256) != len(members) {
		return nil, fmt.Errorf("incomplete (archive md5 %q, %d records, %d of %d digests)", m.archiveMD5, m.records, len(m.sha256), len(members))
	}
	return m, nil
}

func isMember(name string) bool {
	for _, m := range members {
		if m == name {
			return true
		}
	}
	return false
}

// readManifest reads dir's manifest; the error names the file.
func readManifest(dir string) (*manifest, error) {
	path := filepath.Join(dir, manifestName)
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxManifestBytes {
		return nil, fmt.Errorf("%s: %d bytes, not a manifest", path, st.Size())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := parseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// matches tells whether the manifest describes members of the wanted
// archive with the wanted record count, or says why not.
func (m *manifest) matches(archiveMD5 string, records int) error {
	if m.archiveMD5 != archiveMD5 {
		return fmt.Errorf("extracted from an archive of md5 %s, not the wanted one (md5 %s)", m.archiveMD5, archiveMD5)
	}
	if m.records != records {
		return fmt.Errorf("members of %d records, want %d", m.records, records)
	}
	return nil
}

// verify checks a member's bytes against the manifest.
func (m *manifest) verify(path string, data []byte) error {
	sum := sha256.Sum256(data)
	if got, want := hex.EncodeToString(sum[:]), m.sha256[filepath.Base(path)]; got != want {
		return fmt.Errorf("%s: sha256 %s, but %s says it was extracted with sha256 %s (the file changed or is corrupted)",
			path, got, manifestName, want)
	}
	return nil
}
