package recipe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/models/torchcifar"
	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/pkg/torchfile"
	"github.com/mlsysrep/mlsysrep/pkg/train"
)

// importedFP is a PTQ table's FP model read from a PyTorch file.
type importedFP struct {
	torchcifar.Geometry
	path, sha256 string
	id           string // "<file name> sha256:<digest>", the recipe's FPModel
	values       *torchcifar.Model
}

// readFP reads and converts the FP model of network m from path. The file
// is read once: the SHA-256 a record names is that of the very bytes the
// weights were decoded from.
func readFP(path string, m Model) (*importedFP, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-fp-checkpoint: %w", err)
	}
	digest := sha256.Sum256(data)
	sum := hex.EncodeToString(digest[:])
	sd, err := torchfile.Decode(path, data)
	if err != nil {
		return nil, fmt.Errorf("-fp-checkpoint: %w", err)
	}
	tm, err := torchcifar.Import(string(m), sd)
	if err != nil {
		return nil, fmt.Errorf("-fp-checkpoint %s: %w", path, err)
	}
	if tm.NumClasses != 10 {
		return nil, fmt.Errorf("-fp-checkpoint %s: the network has %d classes; CIFAR-10 has 10", path, tm.NumClasses)
	}
	return &importedFP{Geometry: tm.Geometry, path: path, sha256: sum,
		id: fmt.Sprintf("%s sha256:%s", filepath.Base(path), sum), values: tm}, nil
}

// importFP is runQAT's counterpart for an imported FP model: it reads
// Options.FPCheckpoint, loads it into a store, measures its test accuracy
// and records it as the table's "<model>/fp" cell (no training; the record
// names the file and its SHA-256). A record of the same file and test set
// is reused, and tells the PTQ cells that their FP model is unchanged.
func (r *runner) importFP(ctx context.Context, m Model) (*report.Record, *model.Store, bool, error) {
	imp, err := readFP(r.opts.FPCheckpoint, m)
	if err != nil {
		return nil, nil, false, err
	}
	if r.imported == nil {
		r.imported = map[Model]*importedFP{}
	}
	r.imported[m] = imp
	spec, err := r.table.Recipe(r.opts.Preset, m, fpConfig)
	if err != nil {
		return nil, nil, false, err
	}
	spec.Width, spec.Blocks = imp.Width, imp.Blocks
	tr, err := r.trainee(ctx, m, fpConfig, spec)
	if err != nil {
		return nil, nil, false, err
	}
	name := string(m) + "/fp"
	rec := &report.Record{Table: r.table.Name, Cell: name, Preset: string(r.opts.Preset), Model: string(m), ModelSize: tr.size,
		Data: tr.copyName, Seed: r.opts.Seed, Backend: r.opts.BackendName, Commit: r.commit, Dirty: r.dirty,
		Recipe: report.Recipe{TestImages: spec.TestImages, FPModel: imp.id},
		Note:   fmt.Sprintf("imported from %s (%s, SHA-256 %s), not trained here; test accuracy measured here", imp.path, imp.Geometry, imp.sha256)}
	old, err := r.previous(rec)
	if err != nil {
		return nil, nil, false, err
	}
	if err := train.LoadValues(tr.store, imp.values.Values); err != nil {
		return nil, nil, false, fmt.Errorf("-fp-checkpoint %s: %w", imp.path, err)
	}
	r.logf("== %s %s: imported %s (%s)\n", r.table.Name, name, imp.path, imp.Geometry)
	start := time.Now()
	// Evaluating also creates the model's variables from the imported
	// values, so the PTQ cells can clone the store.
	loss, acc, err := train.EvaluateContext(ctx, r.opts.Backend, tr.store, tr.fn, tr.testL)
	if err != nil {
		return nil, nil, false, fmt.Errorf("%s %s: %w", r.table.Name, name, err)
	}
	rec.Note += fmt.Sprintf("; test loss %.6f", loss)
	rec.WallSeconds = time.Since(start).Seconds()
	rec.ImagesPerS = float64(tr.testL.Images.N) / rec.WallSeconds
	rec.Final, rec.Best, rec.Complete = 100*acc, 100*acc, true
	rec.SetReference(r.table.Reference(name))
	r.logf("%s %s: %.2f%% test accuracy (imported, %s)\n", r.table.Name, name, rec.Final, tr.copyName)
	reused := reusable(old, rec) && old.Final == rec.Final
	return rec, tr.store, reused, rec.Save(r.opts.Out)
}
