package recipe

import (
	"fmt"
	"os"
	"path/filepath"
)

// checkWritable makes sure records and checkpoints can be written under out
// before anything runs: finding out after an epoch of training loses it.
func checkWritable(out string) error {
	for _, dir := range []string{out, filepath.Join(out, "checkpoints")} {
		err := os.MkdirAll(dir, 0o755)
		if err == nil {
			var f *os.File
			if f, err = os.CreateTemp(dir, ".writable-*"); err == nil {
				f.Close()
				err = os.Remove(f.Name())
			}
		}
		if err != nil {
			return fmt.Errorf("cannot write records and checkpoints under %s (%v); nothing was run: choose a writable results folder (-out, or MLSYSREP_RESULTS in notebooks)", out, err)
		}
	}
	return nil
}
