package recipe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/pkg/train"
)

// A cell that other cells start from (a base: a PTQ table's FP model, the
// pruned model that a pruning table's quantized rows calibrate or fine-tune)
// keeps a copy of its final checkpoint beside its record, at WeightsPath.
// Records are committed and checkpoints are not, so in a new checkout a
// complete base record would otherwise have no weights: the runner would
// train the base again, to other bits (another engine, another CPU's
// summation order), replace its record, and make every cell built on it
// again. With the copy, the base's weights come back as they were and the
// records made from them stay valid. A cell no other cell starts from needs
// no weights once its record is complete, and keeps none.

// WeightsPath is where the final checkpoint of a base cell is kept beside
// its record: dir/<preset>/<table>/weights/<cell>.seed<N>.<data>.ckpt.
// The file carries its record's key (the recipe's digest included), which
// a restore checks.
func WeightsPath(dir string, k report.Key) string {
	return filepath.Join(dir, k.Preset, k.Table, "weights",
		fmt.Sprintf("%s.seed%d.%s.ckpt", report.SafeName(k.Cell), k.Seed, report.Slug(k.Data)))
}

// isBase tells whether other cells of the runner's table start from the
// trained weights of cell name: a PTQ table's FP model, or a pruning cell
// that a quantized pruning row names as its base.
func (r *runner) isBase(c Cell, name string) bool {
	if r.table.PTQ {
		return c.Quant.Method == fpConfig.Method
	}
	if !r.table.Pruning {
		return false
	}
	for _, other := range r.table.Cells() {
		if other.Name != name && other.PrunedBase() == name {
			return true
		}
	}
	return false
}

// restoreWeights puts a base cell's kept weights (WeightsPath) into its
// checkpoint folder when that holds no checkpoint, so that training resumes
// from them (and, the record being complete, trains nothing). It reports
// whether it did. A kept file that fails its checks is an error: it is
// never silently trained over.
func (r *runner) restoreWeights(rec *report.Record) (bool, error) {
	k := rec.Key()
	ckpt := train.CheckpointFile(CheckpointDir(r.opts.Out, rec))
	if _, err := os.Stat(ckpt); err == nil || !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	kept := WeightsPath(r.opts.Out, k)
	if _, err := os.Stat(kept); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err := train.CopyCheckpoint(kept, ckpt, k.String()); err != nil {
		return false, fmt.Errorf("%s %s: the kept weights: %w", r.table.Name, rec.Cell, err)
	}
	r.logf("%s %s: weights restored from %s\n", r.table.Name, rec.Cell, kept)
	return true, nil
}

// keepWeights copies a complete base cell's final checkpoint to
// WeightsPath, unless the same file is already there.
func (r *runner) keepWeights(rec *report.Record) error {
	k := rec.Key()
	ckpt, kept := train.CheckpointFile(CheckpointDir(r.opts.Out, rec)), WeightsPath(r.opts.Out, k)
	if same, err := sameFile(ckpt, kept); err != nil || same {
		return err
	}
	if err := train.CopyCheckpoint(ckpt, kept, k.String()); err != nil {
		return fmt.Errorf("%s %s: keeping its weights: %w", r.table.Name, rec.Cell, err)
	}
	r.logf("%s %s: weights kept in %s\n", r.table.Name, rec.Cell, kept)
	return nil
}

// sameFile tells whether b exists with a's bytes.
func sameFile(a, b string) (bool, error) {
	db, err := os.ReadFile(b)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	da, err := os.ReadFile(a)
	if err != nil {
		return false, err
	}
	return string(da) == string(db), nil
}
