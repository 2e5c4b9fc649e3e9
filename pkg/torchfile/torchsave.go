package torchfile

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
)

// readTorch unpickles a torch.save file and finds its state dict.
//
// The pickles are interpreted by gopickle's pickle package, and tensors are
// gopickle's pytorch.Tensor built by its RebuildTensorV2 over its typed
// storages; the two containers (zip records, legacy stream) are read here
// rather than by pytorch.Load, which decodes float16 wrongly (its
// FloatBits16to32 maps -0, subnormals and NaN to other values), trusts a
// single Read to fill a buffer (it fails on compressed zip records), and
// panics or loops on some malformed legacy files. Here every storage's bytes
// are read in full first, then decoded from a bytes.Reader.
func readTorch(data []byte, k kind) (StateDict, error) {
	var obj any
	var err error
	if k == kindTorchZip {
		obj, err = loadZip(data)
	} else {
		obj, err = loadLegacy(data)
	}
	if err != nil {
		format := "zip"
		if k == kindTorchLegacy {
			format = "legacy"
		}
		return nil, fmt.Errorf("reading the torch.save %s format: %w", format, err)
	}
	return stateDictOf(obj, "", 0)
}

// loadZip reads torch.save's zip format (PyTorch >= 1.6): ARCHIVE/data.pkl
// is the pickle, whose persistent ids ('storage', torch.<T>Storage, key,
// location, numel) name the records ARCHIVE/data/<key> that hold the storages'
// little-endian bytes.
func loadZip(data []byte) (any, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("not a readable zip file (truncated?): %w", err)
	}
	records := make(map[string]*zip.File, len(zr.File))
	var pkl *zip.File
	for _, f := range zr.File {
		records[f.Name] = f
		if (f.Name == "data.pkl" || strings.HasSuffix(f.Name, "/data.pkl")) && strings.Count(f.Name, "/") <= 1 {
			pkl = f
		}
	}
	if pkl == nil {
		return nil, fmt.Errorf("data.pkl not found in the zip file (%d records)", len(zr.File))
	}
	prefix := strings.TrimSuffix(pkl.Name, "data.pkl")
	if _, ok := records[prefix+"constants.pkl"]; ok {
		return nil, errors.New("a TorchScript archive (torch.jit.save), not a torch.save file")
	}
	if f, ok := records[prefix+"byteorder"]; ok {
		order, err := readRecord(f, 16)
		if err != nil {
			return nil, err
		}
		if s := strings.TrimSpace(string(order)); s != "little" {
			return nil, fmt.Errorf("storages in %q byte order; only little-endian is supported", s)
		}
	}

	storages := make(map[string]pytorch.StorageInterface)
	persistentLoad := func(pid any) (any, error) {
		st, key, numel, err := parseStorageID(pid, 5)
		if err != nil {
			return nil, err
		}
		if s, ok := storages[key]; ok {
			return s, nil
		}
		if st.new == nil {
			s := &unsupportedStorage{class: st.name}
			storages[key] = s
			return s, nil
		}
		f, ok := records[prefix+"data/"+key]
		if !ok {
			return nil, fmt.Errorf("storage %q: no record %sdata/%s", key, prefix, key)
		}
		want := uint64(numel) * uint64(st.size)
		if f.UncompressedSize64 != want {
			return nil, fmt.Errorf("storage %q: record of %d bytes, %d values of torch.%s need %d", key, f.UncompressedSize64, numel, st.name, want)
		}
		raw, err := readRecord(f, want)
		if err != nil {
			return nil, fmt.Errorf("storage %q: %w", key, err)
		}
		s, err := st.decode(raw, numel)
		if err != nil {
			return nil, fmt.Errorf("storage %q: %w", key, err)
		}
		storages[key] = s
		return s, nil
	}
	r, err := pkl.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return unpickle(bufio.NewReader(r), persistentLoad)
}

// readRecord reads a zip record of at most limit bytes.
func readRecord(f *zip.File, limit uint64) ([]byte, error) {
	if f.UncompressedSize64 > limit {
		return nil, fmt.Errorf("record %s: %d bytes, expected at most %d", f.Name, f.UncompressedSize64, limit)
	}
	r, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	buf := make([]byte, f.UncompressedSize64)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("record %s: %w", f.Name, err)
	}
	return buf, nil
}

// legacyMagicNumber is the number the legacy format's first pickle holds.
const legacyMagicNumber = "1950a86a20f9469cfc6c"

// loadLegacy reads torch.save's legacy format (PyTorch < 1.6, or
// _use_new_zipfile_serialization=False): pickles of the magic number, the
// protocol version (1001) and system information, the object's pickle, whose
// persistent ids are ('storage', torch.<T>Storage, key, location, numel,
// view), the pickled list of storage keys, then every storage in that order
// as its element count (8 bytes, little-endian) and its bytes.
func loadLegacy(data []byte) (any, error) {
	size := int64(len(data))
	r := bufio.NewReader(bytes.NewReader(data))

	magic, err := unpickle(r, nil)
	if n, ok := magic.(*big.Int); err != nil || !ok || n.Text(16) != legacyMagicNumber {
		return nil, fmt.Errorf("bad magic number (%v)", err)
	}
	version, err := unpickle(r, nil)
	if v, ok := version.(int); err != nil || !ok || v != 1001 {
		return nil, fmt.Errorf("unsupported protocol version %v (%v)", version, err)
	}
	sysInfo, err := unpickle(r, nil)
	if err != nil {
		return nil, fmt.Errorf("system information: %w", err)
	}
	if d, ok := sysInfo.(*types.Dict); ok {
		if little, ok := d.Get("little_endian"); ok && little == false {
			return nil, errors.New("written on a big-endian machine; only little-endian is supported")
		}
	}

	type pending struct {
		st     *storageType
		numel  int
		s      pytorch.StorageInterface
		filled bool
	}
	storages := make(map[string]*pending)
	var allocated int64 // bytes of the storages allocated so far
	persistentLoad := func(pid any) (any, error) {
		if t, ok := pid.(*types.Tuple); ok && t.Len() == 2 && t.Get(0) == "module" {
			return t.Get(1), nil // a pickled module's source: not needed
		}
		st, key, numel, err := parseStorageID(pid, 6)
		if err != nil {
			return nil, err
		}
		if t := pid.(*types.Tuple); t.Get(5) != nil {
			return nil, fmt.Errorf("storage %q is a view of another storage, which this reader does not support", key)
		}
		if p, ok := storages[key]; ok {
			return p.s, nil
		}
		if st.new == nil {
			return nil, fmt.Errorf("storage %q: unsupported dtype: storage torch.%s", key, st.name)
		}
		if int64(numel)*int64(st.size) > size {
			return nil, fmt.Errorf("storage %q: %d values of torch.%s do not fit in a file of %d bytes", key, numel, st.name, size)
		}
		if allocated += int64(numel) * int64(st.size); allocated > size {
			return nil, fmt.Errorf("storage %q: the storages named so far hold %d bytes, more than the file's %d", key, allocated, size)
		}
		p := &pending{st: st, numel: numel, s: st.new(numel)}
		storages[key] = p
		return p.s, nil
	}
	obj, err := unpickle(r, persistentLoad)
	if err != nil {
		return nil, err
	}
	rawKeys, err := unpickle(r, nil)
	if err != nil {
		return nil, fmt.Errorf("storage keys: %w", err)
	}
	keys, ok := rawKeys.(*types.List)
	if !ok {
		return nil, fmt.Errorf("storage keys: found %s, not a list", describe(rawKeys))
	}
	for _, k := range *keys {
		key, _ := k.(string)
		p, ok := storages[key]
		if !ok {
			return nil, fmt.Errorf("storage key %v: no such storage in the pickle", k)
		}
		var count [8]byte
		if _, err := io.ReadFull(r, count[:]); err != nil {
			return nil, fmt.Errorf("storage %q: %w", key, err)
		}
		if n := binary.LittleEndian.Uint64(count[:]); n != uint64(p.numel) {
			return nil, fmt.Errorf("storage %q: %d values in the file, the pickle says %d", key, n, p.numel)
		}
		raw := make([]byte, p.numel*p.st.size)
		if _, err := io.ReadFull(r, raw); err != nil {
			return nil, fmt.Errorf("storage %q (%d bytes): %w", key, len(raw), err)
		}
		if err := p.s.SetFromFileWithSize(bytes.NewReader(raw), p.numel); err != nil {
			return nil, fmt.Errorf("storage %q: %w", key, err)
		}
		p.filled = true
	}
	for key, p := range storages {
		if !p.filled {
			return nil, fmt.Errorf("storage %q: named by the pickle but not in the file's storage list", key)
		}
	}
	return obj, nil
}

// parseStorageID checks a persistent id ('storage', class, key, location,
// numel, ...) of n items.
func parseStorageID(pid any, n int) (st *storageType, key string, numel int, err error) {
	t, ok := pid.(*types.Tuple)
	if !ok || t.Len() != n || t.Get(0) != "storage" {
		return nil, "", 0, fmt.Errorf("unexpected persistent id %s", describe(pid))
	}
	st, okType := t.Get(1).(*storageType)
	key, okKey := t.Get(2).(string)
	numel, okNumel := t.Get(4).(int)
	if !okType || !okKey || !okNumel || numel < 0 {
		return nil, "", 0, fmt.Errorf("unexpected storage id (%v, %v, %v, %v, %v)", t.Get(0), t.Get(1), t.Get(2), t.Get(3), t.Get(4))
	}
	return st, key, numel, nil
}

// unpickle reads one pickle from r with this package's classes; r must not
// read ahead of what the unpickler consumes (one bufio.Reader shared by
// all the reads of a file).
func unpickle(r *bufio.Reader, persistentLoad func(any) (any, error)) (obj any, err error) {
	defer func() {
		if p := recover(); p != nil {
			obj, err = nil, fmt.Errorf("gopickle: %v", p)
		}
	}()
	u := pickle.NewUnpickler(r)
	u.FindClass = findClass
	u.PersistentLoad = persistentLoad
	return u.Load()
}
