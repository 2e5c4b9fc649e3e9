package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// checkpointFile is the file name inside a checkpoint directory.
const checkpointFile = "checkpoint.gob"

// checkpointMagic opens every checkpoint file: the format's name and
// version. What follows: the SHA-256 of the payload (32 bytes), the
// payload's length (8 bytes, little-endian), then the payload: a gob of
// checkpoint. The digest makes any change to the file (a flipped byte, a
// truncation, another file's tail) an error instead of silently different
// weights.
const checkpointMagic = "mlsysrep checkpoint v2\n"

// headerSize is the size of everything before the payload.
const headerSize = len(checkpointMagic) + sha256.Size + 8

// savedVariable is one variable's value in a checkpoint.
type savedVariable struct {
	Path  string
	DType int
	Dims  []int
	Data  []byte
}

// checkpoint is what a checkpoint file holds: every variable of the store
// (weights, BN statistics, optimizer velocities, quantizer parameters, the
// global step and the random generator's state), the loop's own state, and
// the key of the run it belongs to.
type checkpoint struct {
	Key       string
	State     json.RawMessage
	Variables []savedVariable
}

// SaveCheckpoint writes store's variables and state (any JSON value) to
// dir/checkpoint.gob atomically: to a temporary file first, renamed over the
// previous checkpoint only once complete and synced. key names the run the
// checkpoint belongs to ("" for none); LoadCheckpoint refuses it under
// another key.
func SaveCheckpoint(dir, key string, store *model.Store, state any) error {
	st, err := json.Marshal(state)
	if err != nil {
		return err
	}
	cp := checkpoint{Key: key, State: st}
	for v := range store.IterVariables() {
		t, err := v.Value()
		if err != nil {
			return fmt.Errorf("checkpoint: variable %s: %w", v.Path(), err)
		}
		var data []byte
		if err := t.ConstBytes(func(b []byte) { data = append([]byte{}, b...) }); err != nil {
			return fmt.Errorf("checkpoint: variable %s: %w", v.Path(), err)
		}
		cp.Variables = append(cp.Variables, savedVariable{Path: v.Path(), DType: int(t.DType()), Dims: t.Shape().Dimensions, Data: data})
	}
	var payload bytes.Buffer
	if err := gob.NewEncoder(&payload).Encode(cp); err != nil {
		return fmt.Errorf("checkpoint: encoding: %w", err)
	}
	return writeAtomically(filepath.Join(dir, checkpointFile), encodeCheckpointFile(payload.Bytes()))
}

// writeAtomically writes data to path through a temporary file in the same
// directory (created if needed), synced, then renamed over path: a reader
// sees the old file or the whole new one, never part of it.
func writeAtomically(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("checkpoint: writing %s: %w", tmp.Name(), err)
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

// encodeCheckpointFile frames a payload with the magic, digest and length.
func encodeCheckpointFile(payload []byte) []byte {
	out := make([]byte, 0, headerSize+len(payload))
	out = append(out, checkpointMagic...)
	sum := sha256.Sum256(payload)
	out = append(out, sum[:]...)
	out = binary.LittleEndian.AppendUint64(out, uint64(len(payload)))
	return append(out, payload...)
}

// ErrNoCheckpoint is returned by LoadCheckpoint when dir has none.
var ErrNoCheckpoint = errors.New("no checkpoint")

// ErrOtherRun is wrapped by the error of a sound checkpoint saved under
// another key (another seed, data copy or recipe).
var ErrOtherRun = errors.New("it belongs to another run")

// checkKey is the error (wrapping ErrOtherRun) of a checkpoint saved under
// another key than key, or nil.
func (cp *checkpoint) checkKey(key string) error {
	if cp.Key != key {
		return fmt.Errorf("%w (%s), not to %s", ErrOtherRun, cp.Key, key)
	}
	return nil
}

// ErrCorruptCheckpoint is wrapped by the error of a checkpoint file that
// cannot be used; the error names the file and the command that discards it.
var ErrCorruptCheckpoint = errors.New("corrupt checkpoint")

// LoadCheckpoint reads dir's checkpoint into state and makes store load the
// saved variable values (now for existing variables, at creation for the
// others). The file's digest and every variable's dtype and shape are
// checked first (against the store's existing variables too), and key must
// be the one it was saved under: a checkpoint that fails any check changes
// nothing and gives an error wrapping ErrCorruptCheckpoint.
func LoadCheckpoint(dir, key string, store *model.Store, state any) error {
	path := filepath.Join(dir, checkpointFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return ErrNoCheckpoint
	}
	if err != nil {
		return err
	}
	cp, values, err := decodeCheckpoint(data)
	if err == nil {
		err = cp.checkKey(key)
	}
	if err == nil {
		err = json.Unmarshal(cp.State, state)
	}
	if err == nil {
		err = checkAgainstStore(values, store)
	}
	if err != nil {
		return fmt.Errorf("%w %s: %v; nothing was loaded from it. Remove it to train this run from its start: rm -r %q",
			ErrCorruptCheckpoint, path, err, dir)
	}
	if err := setValues(store, values); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return nil
}

// CheckpointValues reads the variable values of dir's checkpoint (saved
// under key) by variable path, with the same checks as LoadCheckpoint, and
// loads nothing: for taking a trained model's weights elsewhere (an export).
func CheckpointValues(dir, key string) (map[string]*tensors.Tensor, error) {
	path := filepath.Join(dir, checkpointFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s", ErrNoCheckpoint, dir)
	}
	if err != nil {
		return nil, err
	}
	cp, values, err := decodeCheckpoint(data)
	if err == nil {
		err = cp.checkKey(key)
	}
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrCorruptCheckpoint, path, err)
	}
	return values, nil
}

// LoadValues makes store take the given values by variable path: now for
// the variables it already has, when they are created for the others (a
// model built later on the store). A value whose shape differs from an
// existing variable's is an error and nothing is set. values is consumed.
// It is how weights from elsewhere (a PyTorch file, see models/torchcifar)
// enter a store, the way a checkpoint's do.
func LoadValues(store *model.Store, values map[string]*tensors.Tensor) error {
	if err := checkAgainstStore(values, store); err != nil {
		return err
	}
	return setValues(store, values)
}

// setValues sets the existing variables and leaves the rest to a loader.
func setValues(store *model.Store, values map[string]*tensors.Tensor) error {
	for v := range store.IterVariables() {
		if t, ok := values[v.Path()]; ok {
			if err := v.SetValue(t); err != nil {
				return fmt.Errorf("restoring %s: %w", v.Path(), err)
			}
			delete(values, v.Path())
		}
	}
	store.SetLoader(variableLoader(values))
	return nil
}

// decodeCheckpoint checks a checkpoint file's framing and digest, decodes
// it, and validates every variable: any input gives values or an error,
// never a panic.
func decodeCheckpoint(data []byte) (*checkpoint, map[string]*tensors.Tensor, error) {
	if len(data) < headerSize || string(data[:len(checkpointMagic)]) != checkpointMagic {
		return nil, nil, errors.New("not a checkpoint of this format (wrong header)")
	}
	sum := data[len(checkpointMagic) : len(checkpointMagic)+sha256.Size]
	n := binary.LittleEndian.Uint64(data[headerSize-8 : headerSize])
	payload := data[headerSize:]
	if n != uint64(len(payload)) {
		return nil, nil, fmt.Errorf("truncated or extended: %d payload bytes, the header says %d", len(payload), n)
	}
	if got := sha256.Sum256(payload); !bytes.Equal(got[:], sum) {
		return nil, nil, errors.New("its content does not match its digest (changed after it was written)")
	}
	var cp checkpoint
	if err := gob.NewDecoder(bytes.NewReader(payload)).Decode(&cp); err != nil {
		return nil, nil, fmt.Errorf("decoding: %v", err)
	}
	values, err := cp.values()
	if err != nil {
		return nil, nil, err
	}
	return &cp, values, nil
}

// checkpointDTypes are the dtypes a store's variables may have.
var checkpointDTypes = map[dtypes.DType]bool{
	dtypes.Bool: true, dtypes.Int8: true, dtypes.Int16: true, dtypes.Int32: true, dtypes.Int64: true,
	dtypes.Uint8: true, dtypes.Uint16: true, dtypes.Uint32: true, dtypes.Uint64: true,
	dtypes.Float16: true, dtypes.BFloat16: true, dtypes.Float32: true, dtypes.Float64: true,
}

// values checks each saved variable (a known dtype, non-negative
// dimensions, as many bytes as they need, one value per path) and makes it
// a tensor.
func (cp *checkpoint) values() (map[string]*tensors.Tensor, error) {
	values := make(map[string]*tensors.Tensor, len(cp.Variables))
	for _, sv := range cp.Variables {
		dt := dtypes.DType(sv.DType)
		if int(dt) != sv.DType || !checkpointDTypes[dt] {
			return nil, fmt.Errorf("variable %q has an invalid dtype (%d)", sv.Path, sv.DType)
		}
		size := dt.Size()
		for _, d := range sv.Dims {
			if d < 0 || d > 1<<40 || size > 0 && d > 0 && size > (1<<40)/d {
				return nil, fmt.Errorf("variable %q has invalid dimensions %v", sv.Path, sv.Dims)
			}
			size *= d
		}
		if size != len(sv.Data) {
			return nil, fmt.Errorf("variable %q: %d bytes for %s%v, which needs %d", sv.Path, len(sv.Data), dt, sv.Dims, size)
		}
		if _, dup := values[sv.Path]; dup || sv.Path == "" {
			return nil, fmt.Errorf("variable path %q is empty or repeated", sv.Path)
		}
		t := tensors.FromShape(shapes.Make(dt, sv.Dims...))
		if err := t.MutableBytes(func(b []byte) { copy(b, sv.Data) }); err != nil {
			return nil, err
		}
		values[sv.Path] = t
	}
	return values, nil
}

// checkAgainstStore checks that saved values fit the store's existing
// variables (the others are created by the model later, from the values).
func checkAgainstStore(values map[string]*tensors.Tensor, store *model.Store) error {
	for v := range store.IterVariables() {
		t, ok := values[v.Path()]
		if !ok {
			continue
		}
		if want := v.Shape(); !t.Shape().Equal(want) {
			return fmt.Errorf("variable %s is %s in the values loaded but %s in the model", v.Path(), t.Shape(), want)
		}
	}
	return nil
}

// variableLoader gives saved values to variables as they are created.
type variableLoader map[string]*tensors.Tensor

func (l variableLoader) LoadVariable(_ *model.Store, path string) (*tensors.Tensor, bool) {
	t, ok := l[path]
	return t, ok
}

func (l variableLoader) DeleteVariable(_ *model.Store, path string) error {
	delete(l, path)
	return nil
}

// StoreValues copies the store's variable values by variable path (the
// map LoadValues and a network surgery take): a trained model's weights,
// taken elsewhere without a checkpoint file.
func StoreValues(store *model.Store) (map[string]*tensors.Tensor, error) {
	out := map[string]*tensors.Tensor{}
	for v := range store.IterVariables() {
		val, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", v.Path(), err)
		}
		c, err := val.LocalClone()
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", v.Path(), err)
		}
		out[v.Path()] = c
	}
	return out, nil
}
