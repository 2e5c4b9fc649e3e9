package train

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
)

// TestCopyCheckpoint: a checked copy loads like the original; a damaged
// file, another run's file or a missing one is refused and leaves the
// destination as it was.
func TestCopyCheckpoint(t *testing.T) {
	dir, data := toyCheckpoint(t)
	dst := filepath.Join(t.TempDir(), "kept", "toy.ckpt")
	if err := CopyCheckpoint(CheckpointFile(dir), dst, toyKey); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the copy differs from the checkpoint (%v)", err)
	}
	restored := t.TempDir()
	if err := CopyCheckpoint(dst, CheckpointFile(restored), toyKey); err != nil {
		t.Fatal(err)
	}
	var state loopState
	if err := LoadCheckpoint(restored, toyKey, model.NewStore(), &state); err != nil || state.Completed != 1 {
		t.Fatalf("the copy copied back: %v, completed %d", err, state.Completed)
	}

	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 1
	damaged := filepath.Join(t.TempDir(), "damaged.ckpt")
	if err := os.WriteFile(damaged, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, src, key string
		want           error
		otherRun       bool // the error also wraps ErrOtherRun
	}{
		{"damaged", damaged, toyKey, ErrCorruptCheckpoint, false},
		{"another run's", CheckpointFile(dir), "toy run, seed 6", ErrCorruptCheckpoint, true},
		{"missing", filepath.Join(dir, "none.gob"), toyKey, ErrNoCheckpoint, false},
	} {
		err := CopyCheckpoint(tc.src, dst, tc.key)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s file: %v, want an error wrapping %v", tc.name, err, tc.want)
		}
		if errors.Is(err, ErrOtherRun) != tc.otherRun {
			t.Errorf("%s file: %v wraps ErrOtherRun: %v, want %v", tc.name, err, !tc.otherRun, tc.otherRun)
		}
		if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s file: the destination changed (%v)", tc.name, err)
		}
	}
	if left, _ := filepath.Glob(dst + ".tmp*"); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
