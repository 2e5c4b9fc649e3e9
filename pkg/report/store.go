package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrCorrupt is wrapped by the error of a record file that cannot be used:
// not JSON, missing its identity, or filed under another cell's name.
var ErrCorrupt = errors.New("corrupt record")

// Save writes the record atomically (temporary file, then rename) to its
// key's path under dir.
func (r *Record) Save(dir string) error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("record not saved: %w", err)
	}
	path := r.Key().RecordPath(dir)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return WriteFile(path, append(b, '\n'))
}

// WriteFile writes data to path atomically: to a temporary file in the same
// folder first, renamed over path only once complete, so an interrupted
// write leaves the previous file.
func WriteFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Decode parses a record file's content and checks that it names what it
// is a record of; any input gives a record or an error wrapping ErrCorrupt.
func Decode(data []byte) (*Record, error) {
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return &r, nil
}

// validate checks what every record must hold to be filed and compared.
func (r *Record) validate() error {
	switch {
	case !isName(r.Table, "") || !isName(r.Preset, "") || !isName(r.Cell, "/:+"):
		return fmt.Errorf("table %q, cell %q, preset %q: all three are needed, as plain names", r.Table, r.Cell, r.Preset)
	case len(r.Table) > maxNameLen || len(r.Preset) > maxNameLen || len(r.Cell) > maxNameLen || len(r.Data) > maxNameLen:
		return fmt.Errorf("table, cell, preset or data name longer than %d bytes", maxNameLen)
	case r.EpochsRun < 0 || r.EpochsRun > len(r.Curve) && len(r.Curve) > 0:
		return fmt.Errorf("%d epochs run but %d in the curve", r.EpochsRun, len(r.Curve))
	}
	for _, v := range []float64{r.Final, r.Best, r.WallSeconds, r.ImagesPerS} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("a non-finite number (%v)", v)
		}
	}
	if r.Pruned != nil {
		return r.Pruned.validate()
	}
	return nil
}

// maxNameLen bounds the table, cell, preset and data names, so that a
// record's file name (<cell>.seed<N>.<data>.json plus the temporary suffix
// of an atomic write) stays under the 255 bytes a file system allows: a
// longer name would decode but never save.
const maxNameLen = 96

// isName tells whether s is a non-empty name of ASCII letters, digits, "_",
// "-", "." and the extra characters, not starting with "." (so that it
// names a file inside its folder once SafeName has replaced "/" and ":").
func isName(s, extra string) bool {
	if s == "" || s[0] == '.' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_-."+extra, c)) {
			return false
		}
	}
	return true
}

// legacyPath is where records were filed before they were keyed by seed and
// data copy (dir/<preset>/<table>/<cell>.json); such files are still read,
// their content saying which seed and copy they hold.
func legacyPath(dir, preset, table, cell string) string {
	return filepath.Join(dir, preset, table, SafeName(cell)+".json")
}

// Find returns every record of a cell under dir: one per seed and data
// copy, in a stable order. A file that cannot be read as that cell's record
// is an error naming the file and what to do, never skipped: skipping it
// would show the cell as not run, or run it again over the file.
func Find(dir, preset, table, cell string) ([]*Record, error) {
	folder := filepath.Join(dir, preset, table)
	entries, err := os.ReadDir(folder)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	prefix := SafeName(cell) + ".seed"
	var paths []string
	for _, e := range entries {
		if name := e.Name(); strings.HasPrefix(name, prefix) && strings.HasSuffix(name, ".json") {
			paths = append(paths, filepath.Join(folder, name))
		}
	}
	sort.Strings(paths)
	if _, err := os.Stat(legacyPath(dir, preset, table, cell)); err == nil {
		paths = append(paths, legacyPath(dir, preset, table, cell)) // last: a keyed file of the same key wins
	}
	var out []*Record
	seen := map[Key]bool{}
	for _, path := range paths {
		r, err := readRecord(path, preset, table, cell, dir)
		if err != nil {
			return nil, err
		}
		k := r.Key()
		k.Recipe = ""
		if !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// readRecord reads one record file and checks it is filed where its content
// says it belongs.
func readRecord(path, preset, table, cell, dir string) (*Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := Decode(b)
	if err == nil && (r.Preset != preset || r.Table != table || r.Cell != cell) {
		err = fmt.Errorf("%w: it holds %s %s %s", ErrCorrupt, r.Preset, r.Table, r.Cell)
	}
	if err == nil && path != legacyPath(dir, preset, table, cell) && path != r.Key().RecordPath(dir) {
		err = fmt.Errorf("%w: its content (seed %d, %s) belongs in %s", ErrCorrupt, r.Seed, r.Data, r.Key().RecordPath(dir))
	}
	if err != nil {
		return nil, fmt.Errorf("record %s cannot be used (%w); it is left as it is: repair it, or move it aside to run the cell again (mv %q %q)",
			path, err, path, path+".bad")
	}
	return r, nil
}

// Load returns the record of a cell under dir for a seed and data copy, or
// nil (and no error) when there is none. Its recipe may differ from the
// caller's: compare Key().Recipe.
func Load(dir string, k Key) (*Record, error) {
	all, err := Find(dir, k.Preset, k.Table, k.Cell)
	if err != nil {
		return nil, err
	}
	for _, r := range all {
		if r.Seed == k.Seed && r.Data == k.Data {
			return r, nil
		}
	}
	return nil, nil
}
