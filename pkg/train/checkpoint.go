package train

import (
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

// savedVariable is one variable's value in a checkpoint.
type savedVariable struct {
	Path  string
	DType int
	Dims  []int
	Data  []byte
}

// checkpoint is what a checkpoint file holds: every variable of the store
// (weights, BN statistics, optimizer velocities, quantizer parameters, the
// global step and the random generator's state) and the loop's own state.
type checkpoint struct {
	State     json.RawMessage
	Variables []savedVariable
}

// SaveCheckpoint writes store's variables and state (any JSON value) to
// dir/checkpoint.gob atomically: to a temporary file first, renamed over the
// previous checkpoint only once complete.
func SaveCheckpoint(dir string, store *model.Store, state any) error {
	st, err := json.Marshal(state)
	if err != nil {
		return err
	}
	cp := checkpoint{State: st}
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
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, checkpointFile+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := gob.NewEncoder(tmp).Encode(cp); err != nil {
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
	return os.Rename(tmp.Name(), filepath.Join(dir, checkpointFile))
}

// ErrNoCheckpoint is returned by LoadCheckpoint when dir has none.
var ErrNoCheckpoint = errors.New("no checkpoint")

// LoadCheckpoint reads dir's checkpoint into state and makes store load the
// saved variable values (now for existing variables, at creation for the
// others).
func LoadCheckpoint(dir string, store *model.Store, state any) error {
	f, err := os.Open(filepath.Join(dir, checkpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return ErrNoCheckpoint
	}
	if err != nil {
		return err
	}
	defer f.Close()
	var cp checkpoint
	if err := gob.NewDecoder(f).Decode(&cp); err != nil {
		return fmt.Errorf("checkpoint %s is corrupted: %w", f.Name(), err)
	}
	if err := json.Unmarshal(cp.State, state); err != nil {
		return fmt.Errorf("checkpoint %s: state: %w", f.Name(), err)
	}
	values := make(map[string]*tensors.Tensor, len(cp.Variables))
	for _, sv := range cp.Variables {
		t := tensors.FromShape(shapes.Make(dtypes.DType(sv.DType), sv.Dims...))
		if err := t.MutableBytes(func(b []byte) { copy(b, sv.Data) }); err != nil {
			return err
		}
		values[sv.Path] = t
	}
	for v := range store.IterVariables() {
		if t, ok := values[v.Path()]; ok {
			if err := v.SetValue(t); err != nil {
				return fmt.Errorf("checkpoint: restoring %s: %w", v.Path(), err)
			}
			delete(values, v.Path())
		}
	}
	store.SetLoader(variableLoader(values))
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
