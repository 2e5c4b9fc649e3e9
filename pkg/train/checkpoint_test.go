package train

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"iter"
	"math"
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

// TestResumeRestoresPlateauSchedule: what reduce-on-plateau learned (the
// current rate, the best loss, the epochs without improvement) survives a
// resume. The model's test loss never changes, so with patience 1 and factor
// 0.5 the rate halves after every second epoch without improvement. A run
// stopped after 2 epochs (one bad epoch counted) and resumed must follow the
// uninterrupted rates; a resume that restarted the schedule would keep 0.1
// up to the fifth epoch.
func TestResumeRestoresPlateauSchedule(t *testing.T) {
	labels := []int32{0, 1, 2, 0, 1, 2, 3, 0}
	run := func(dir string, epochs int) *History {
		t.Helper()
		h, err := Run(context.Background(), Config{Backend: backend(t), Store: model.NewStore(), Model: inputLogits,
			Train: &rowData{labels: labels, batches: []int{4, 4}}, Eval: &rowData{labels: labels, batches: []int{8}},
			Epochs: epochs, Optimizer: SGD{Momentum: 0.9, WeightDecay: 5e-4}, Schedule: NewReduceOnPlateau(0.1, 0.5, 1),
			CheckpointDir: dir, CheckpointKey: "plateau"})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	want := []float64{0.1, 0.1, 0.1, 0.05, 0.05, 0.025}
	full := run(t.TempDir(), len(want))
	dir := t.TempDir()
	run(dir, 2)
	if completed, err := LoadRunCheckpoint(dir, "plateau", model.NewStore()); err != nil || completed != 2 {
		t.Errorf("LoadRunCheckpoint after 2 epochs: %d, %v", completed, err)
	}
	resumed := run(dir, len(want))
	for _, r := range []struct {
		name string
		h    *History
	}{{"uninterrupted", full}, {"resumed after epoch 2", resumed}} {
		name, h := r.name, r.h
		var got []float64
		for _, e := range h.Epochs {
			got = append(got, e.LR)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d epochs, want %d", name, len(got), len(want))
		}
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-12 {
				t.Errorf("%s: learning rates %v, want %v", name, got, want)
				break
			}
		}
	}
}

// TestResumeWallTimeIsTheSumOfTheParts: a resumed run's wall time is the
// interrupted run's, as its checkpoint recorded it, plus the time of the
// epochs the resumed run ran itself. The checkpoint's part is rewritten to
// 1000 s so that neither part alone (a resume that reset or overwrote the
// sum), nor the first counted twice, can pass for the total, however fast
// the machine.
func TestResumeWallTimeIsTheSumOfTheParts(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	first, _, err := runToy(t, 1, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start).Seconds(); first.WallSeconds < first.Epochs[0].Seconds || first.WallSeconds > elapsed {
		t.Errorf("one epoch: wall time %g s, want between its training time %g s and the run's %g s", first.WallSeconds,
			first.Epochs[0].Seconds, elapsed)
	}
	path := filepath.Join(dir, checkpointFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp, _, err := decodeCheckpoint(data)
	if err != nil {
		t.Fatal(err)
	}
	var state loopState
	if err := json.Unmarshal(cp.State, &state); err != nil {
		t.Fatal(err)
	}
	const firstPart = 1000.0
	state.History.WallSeconds = firstPart
	if cp.State, err = json.Marshal(state); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, frame(t, *cp), 0o644); err != nil {
		t.Fatal(err)
	}

	start = time.Now()
	resumed, _, err := runToy(t, 3, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start).Seconds()
	// The resumed run's own part lies between the training time of its
	// epochs (evaluation comes on top) and the time the whole call took.
	lo := firstPart + resumed.Epochs[1].Seconds + resumed.Epochs[2].Seconds
	if hi := firstPart + elapsed; resumed.WallSeconds < lo || resumed.WallSeconds > hi {
		t.Errorf("resumed wall time %g s, want %g s (the checkpoint's) plus this run's epochs: between %g and %g s",
			resumed.WallSeconds, firstPart, lo, hi)
	}
	// The checkpoint left behind carries the same total, for a later resume.
	var after loopState
	if err := LoadCheckpoint(dir, toyKey, model.NewStore(), &after); err != nil {
		t.Fatal(err)
	}
	if after.History.WallSeconds != resumed.WallSeconds {
		t.Errorf("checkpoint wall time %g s, the run returned %g s", after.History.WallSeconds, resumed.WallSeconds)
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
