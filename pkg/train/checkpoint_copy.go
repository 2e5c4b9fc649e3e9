package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// CheckpointFile is the path of the checkpoint file in a checkpoint
// directory (what SaveCheckpoint writes and LoadCheckpoint reads).
func CheckpointFile(dir string) string { return filepath.Join(dir, checkpointFile) }

// CopyCheckpoint copies the checkpoint file src to dst (a file path) after
// checking it as LoadCheckpoint does: its framing, its digest, every
// variable, and that it was saved under key. A file that fails a check is
// an error wrapping ErrCorruptCheckpoint (and ErrOtherRun when only its key
// differs; ErrNoCheckpoint when src does not exist), and dst is left as it
// was. dst is written atomically (a temporary file in its directory,
// synced, then renamed over it).
func CopyCheckpoint(src, dst, key string) error {
	data, err := os.ReadFile(src)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNoCheckpoint, src)
	}
	if err != nil {
		return err
	}
	cp, _, err := decodeCheckpoint(data)
	if err == nil {
		err = cp.checkKey(key)
	}
	if err != nil {
		return fmt.Errorf("%w %s: %w; it was not copied to %s", ErrCorruptCheckpoint, src, err, dst)
	}
	return writeAtomically(dst, data)
}
