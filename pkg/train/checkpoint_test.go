package train

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/ml/model"
	gomlxtrain "github.com/gomlx/gomlx/ml/train"
)

// toyCheckpoint trains the toy model for one epoch and returns its
// checkpoint folder and file bytes.
func toyCheckpoint(t *testing.T) (dir string, data []byte) {
	t.Helper()
	dir = t.TempDir()
	if _, _, err := runToy(t, 1, dir, 0); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, checkpointFile))
	if err != nil {
		t.Fatal(err)
	}
	return dir, data
}

// TestCheckpointDetectsEveryByteFlip: a change of one byte anywhere in a
// checkpoint is an error (762 of 800 such changes once loaded silently),
// and so is a truncation; the file on disk is checked too, and the error
// names the file and the command that discards it.
func TestCheckpointDetectsEveryByteFlip(t *testing.T) {
	dir, data := toyCheckpoint(t)
	if _, _, err := decodeCheckpoint(data); err != nil {
		t.Fatalf("the intact checkpoint: %v", err)
	}
	for i := range data {
		bad := bytes.Clone(data)
		bad[i] ^= 0x5a
		if _, _, err := decodeCheckpoint(bad); err == nil {
			t.Fatalf("byte %d of %d changed: not detected", i, len(data))
		}
	}
	for _, n := range []int{0, 10, headerSize, len(data) / 2, len(data) - 1} {
		if _, _, err := decodeCheckpoint(data[:n]); err == nil {
			t.Errorf("truncated to %d of %d bytes: not detected", n, len(data))
		}
	}
	bad := bytes.Clone(data)
	bad[len(bad)-3] ^= 1
	if err := os.WriteFile(filepath.Join(dir, checkpointFile), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	var state loopState
	err := LoadCheckpoint(dir, toyKey, model.NewStore(), &state)
	if !errors.Is(err, ErrCorruptCheckpoint) || !strings.Contains(err.Error(), filepath.Join(dir, checkpointFile)) ||
		!strings.Contains(err.Error(), "rm -r") {
		t.Errorf("corrupt file on disk: %v", err)
	}
	if state.Completed != 0 {
		t.Errorf("a corrupt checkpoint changed the state: %+v", state)
	}
}

// frame encodes a checkpoint struct as a valid file (right digest), for
// content that decodes but must still be refused.
func frame(t *testing.T, cp checkpoint) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(cp); err != nil {
		t.Fatal(err)
	}
	return encodeCheckpointFile(b.Bytes())
}

// TestCheckpointRefusesBadVariables: content with a valid digest but
// impossible variables (which once made the runner panic) is an error.
func TestCheckpointRefusesBadVariables(t *testing.T) {
	f32 := int(dtypes.Float32)
	for _, tc := range []struct {
		name string
		v    savedVariable
	}{
		{"bad dtype", savedVariable{Path: "/w", DType: 9999, Dims: []int{1}, Data: make([]byte, 4)}},
		{"invalid dtype", savedVariable{Path: "/w", DType: 0, Dims: []int{1}, Data: make([]byte, 4)}},
		{"negative dimension", savedVariable{Path: "/w", DType: f32, Dims: []int{-1}, Data: nil}},
		{"huge dimensions", savedVariable{Path: "/w", DType: f32, Dims: []int{1 << 40, 1 << 40}, Data: nil}},
		{"short data", savedVariable{Path: "/w", DType: f32, Dims: []int{2, 3}, Data: make([]byte, 23)}},
		{"empty path", savedVariable{Path: "", DType: f32, Dims: []int{1}, Data: make([]byte, 4)}},
	} {
		if _, _, err := decodeCheckpoint(frame(t, checkpoint{State: []byte("{}"), Variables: []savedVariable{tc.v}})); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	ok := savedVariable{Path: "/w", DType: f32, Dims: []int{2}, Data: make([]byte, 8)}
	if _, _, err := decodeCheckpoint(frame(t, checkpoint{State: []byte("{}"), Variables: []savedVariable{ok, ok}})); err == nil {
		t.Error("a repeated variable: accepted")
	}
	if _, v, err := decodeCheckpoint(frame(t, checkpoint{State: []byte("{}"), Variables: []savedVariable{ok}})); err != nil || v["/w"] == nil {
		t.Errorf("a valid variable: %v", err)
	}
}

// TestCheckpointRefusesAnotherKey: a checkpoint saved under one run's key
// (seed, data, recipe) is never resumed by another run.
func TestCheckpointRefusesAnotherKey(t *testing.T) {
	dir, _ := toyCheckpoint(t)
	var state loopState
	err := LoadCheckpoint(dir, "toy run, seed 6", model.NewStore(), &state)
	if !errors.Is(err, ErrCorruptCheckpoint) || !strings.Contains(err.Error(), "belongs to another run") {
		t.Errorf("another key: %v", err)
	}
	if err := LoadCheckpoint(dir, toyKey, model.NewStore(), &state); err != nil || state.Completed != 1 {
		t.Errorf("its own key: %v, completed %d", err, state.Completed)
	}
}

// TestCheckpointRefusesAnotherShape: a saved value whose shape differs from
// the model's existing variable is refused before anything is restored.
func TestCheckpointRefusesAnotherShape(t *testing.T) {
	dir := t.TempDir()
	store := model.NewStore()
	v := store.RootScope().VariableWithValue("w", []float32{1, 2, 3})
	if err := SaveCheckpoint(dir, "k", store, 1); err != nil {
		t.Fatal(err)
	}
	other := model.NewStore()
	other.RootScope().VariableWithValue("w", []float32{1, 2})
	var state int
	if err := LoadCheckpoint(dir, "k", other, &state); !errors.Is(err, ErrCorruptCheckpoint) || !strings.Contains(err.Error(), v.Path()) {
		t.Errorf("shape mismatch: %v", err)
	}
}

// cancelAfter is a training set that cancels a context after handing out
// a given number of batches (an interrupt in the middle of an epoch).
type cancelAfter struct {
	*toyData
	batches int
	cancel  context.CancelFunc
	at      time.Time
}

func (c *cancelAfter) Iter() iter.Seq2[gomlxtrain.Batch, error] {
	inner := c.toyData.Iter()
	return func(yield func(gomlxtrain.Batch, error) bool) {
		for b, err := range inner {
			if c.batches--; c.batches == 0 {
				c.cancel()
				c.at = time.Now()
			}
			if !yield(b, err) {
				return
			}
		}
	}
}

// TestInterruptKeepsCheckpointAndResumes: cancelled in the middle of epoch
// 2, a run stops before its next step (not at the end of the epoch), says
// what it kept, keeps epoch 1's checkpoint, and a new run resumes from it to
// the result of an uninterrupted run.
func TestInterruptKeepsCheckpointAndResumes(t *testing.T) {
	full, fullStore, err := runToy(t, 3, t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	data := &cancelAfter{toyData: &toyData{n: 32, batch: 8}, batches: 4 + 2, cancel: cancel} // epoch 2, second batch
	h, _, err := runToyContext(ctx, t, 3, dir, data)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "epoch 2 after 1 steps") ||
		!strings.Contains(err.Error(), "checkpoint after epoch 1 is kept in "+dir) {
		t.Fatalf("interrupted run: %v", err)
	}
	if stop := time.Since(data.at); stop > 5*time.Second {
		t.Errorf("stopped %s after the interrupt", stop)
	}
	if len(h.Epochs) != 1 {
		t.Errorf("history after the interrupt: %d epochs, want 1", len(h.Epochs))
	}
	var state loopState
	if err := LoadCheckpoint(dir, toyKey, model.NewStore(), &state); err != nil || state.Completed != 1 {
		t.Fatalf("kept checkpoint: %v, completed %d", err, state.Completed)
	}
	resumed, resumedStore, err := runToy(t, 3, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.Epochs[2].TestLoss != full.Epochs[2].TestLoss {
		t.Errorf("resumed test loss %v, uninterrupted %v", resumed.Epochs[2].TestLoss, full.Epochs[2].TestLoss)
	}
	a, b := weights(t, fullStore), weights(t, resumedStore)
	for path, w := range a {
		if strings.HasPrefix(path, "/metrics/") {
			continue
		}
		for i := range w {
			if w[i] != b[path][i] {
				t.Fatalf("variable %s differs after interrupt and resume", path)
			}
		}
	}
}

// FuzzDecodeCheckpoint: any file content gives values or an error, never a
// panic; the input is tried both raw and framed with a valid digest (so the
// fuzzer reaches the decoder and the validation behind the digest).
func FuzzDecodeCheckpoint(f *testing.F) {
	var b bytes.Buffer
	_ = gob.NewEncoder(&b).Encode(checkpoint{Key: "k", State: []byte(`{"completed_epochs":1}`),
		Variables: []savedVariable{{Path: "/w", DType: int(dtypes.Float32), Dims: []int{2}, Data: make([]byte, 8)}}})
	f.Add(b.Bytes())
	f.Add(encodeCheckpointFile(b.Bytes()))
	f.Add([]byte(checkpointMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, in := range [][]byte{data, encodeCheckpointFile(data)} {
			cp, values, err := decodeCheckpoint(in)
			if err != nil {
				continue
			}
			if len(values) != len(cp.Variables) {
				t.Fatalf("%d values from %d variables", len(values), len(cp.Variables))
			}
			for _, sv := range cp.Variables {
				if values[sv.Path].Shape().ByteSize() != int64(len(sv.Data)) {
					t.Fatalf("variable %s: %d bytes for shape %s", sv.Path, len(sv.Data), values[sv.Path].Shape())
				}
			}
		}
	})
}
