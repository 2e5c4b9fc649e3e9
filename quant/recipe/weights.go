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
// keeps a copy of its checkpoint beside its record, at WeightsPath: after
// every epoch, and so its final weights once complete.
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
// from them: the final weights of a complete record (complete: nothing is
// trained), or an unfinished run's progress kept after its last epoch
// (keepProgress: training goes on from there, in a new checkout or on
// another machine). It reports whether it did. A kept file that fails its
// checks is an error, never silently trained over, except one of another
// run (another recipe or seed) when the record is not complete: this run
// starts over and replaces it.
func (r *runner) restoreWeights(rec *report.Record, complete bool) (bool, error) {
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
		if !complete && errors.Is(err, train.ErrOtherRun) {
			r.logf("%s %s: the weights kept in %s are of another run; this run starts from scratch and replaces them\n",
				r.table.Name, rec.Cell, kept)
			return false, nil
		}
		return false, fmt.Errorf("%s %s: the kept weights: %w", r.table.Name, rec.Cell, err)
	}
	r.logf("%s %s: weights restored from %s\n", r.table.Name, rec.Cell, kept)
	return true, nil
}

// keepProgress copies a base cell's checkpoint to WeightsPath after each
// epoch. A paper-scale FP model trains for longer than a machine may be
// held (a CI job, a cloud session): committed or carried with the records,
// the copy lets the next machine resume the run (restoreWeights) instead
// of starting it over.
func (r *runner) keepProgress(rec *report.Record) error {
	k := rec.Key()
	ckpt, kept := train.CheckpointFile(CheckpointDir(r.opts.Out, rec)), WeightsPath(r.opts.Out, k)
	if err := train.CopyCheckpoint(ckpt, kept, k.String()); err != nil {
		return fmt.Errorf("%s %s: keeping its progress: %w", r.table.Name, rec.Cell, err)
	}
	return nil
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
