package recipe

import (
	"context"
	"fmt"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/datasets/pipeline"
	"github.com/mlsysrep/mlsysrep/pkg/prune"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/pkg/train"
)

// A pruning table (Table.Pruning) prunes the FP model of the PTQ table of
// each network (trained, or reused with its checkpoint, by that table's
// recipe) and fine-tunes it: "dense" fine-tunes it unpruned (the control),
// "u<p>" with p% of its masked weights zeroed by one global magnitude
// threshold, "f<p>" with p% of every block's inner filters removed (a
// smaller network). A quantized row ("u70+ptq:w4a4", "f50+lsq:w4a4") starts
// from its pruned row's fine-tuned weights: PTQ calibrates them, LSQ
// fine-tunes them quantized, the pruned weights staying zero (their masks
// are loaded with them).

// pruneEvery is the steps between a gradual pruning's mask updates (Zhu &
// Gupta update every 100 to 1000 steps).
const pruneEvery = 100

// fpBase is a network's FP model, which its pruning cells start from.
type fpBase struct {
	rec      *report.Record
	store    *model.Store
	accuracy float64 // on the pruning cells' test images, measured here
}

// prunedModel is a pruned cell's fine-tuned network and weights.
type prunedModel struct {
	rec   *report.Record
	store *model.Store
	net   cifarNet // unquantized
	// unchanged: the record was reused and the weights are its own (from
	// its checkpoint), so the quantized cells made from them may be too.
	unchanged bool
}

// runPruning runs the selected cells of a pruning table: each network's FP
// model first, then each pruned cell (a quantized one after the cell it
// starts from, which is run, or reused, when it was not selected).
func (r *runner) runPruning(ctx context.Context, cells []Cell, res *Result) error {
	if len(cells) > 0 && !cells[0].Pruned() {
		return fmt.Errorf("table %s: cell %s is not a pruning cell", r.table.Name, cells[0].Name)
	}
	fps := map[Model]*fpBase{}
	pruned := map[string]*prunedModel{}
	for _, c := range cells {
		fp := fps[c.Model]
		if fp == nil {
			var err error
			if fp, err = r.pruningFP(ctx, c.Model); err != nil {
				return err
			}
			fps[c.Model] = fp
			res.Records[fp.rec.Cell] = fp.rec
		}
		base := pruned[c.PrunedBase()]
		if base == nil {
			bc, err := NewCell(c.PrunedBase())
			if err != nil {
				return err
			}
			if base, err = r.runPruned(ctx, bc, fp); err != nil {
				return err
			}
			pruned[bc.Name] = base
			res.Records[bc.Name] = base.rec
		}
		if c.Quant.Method == quant.FP {
			continue
		}
		rec, err := r.runPrunedQuant(ctx, c, fp, base)
		if err != nil {
			return err
		}
		res.Records[c.Name] = rec
	}
	return nil
}

// pruningFP trains (or reloads) the FP model of network m with the PTQ
// table's recipe, in the same records and checkpoints as that table (a
// model trained for one is reused by the other), and measures its test
// accuracy on the pruning table's test images.
func (r *runner) pruningFP(ctx context.Context, m Model) (*fpBase, error) {
	if r.opts.FPCheckpoint != "" {
		return nil, fmt.Errorf("table %s: -fp-checkpoint is for the PTQ tables", r.table.Name)
	}
	t, err := Lookup("ptq-" + string(m))
	if err != nil {
		return nil, err
	}
	sub := *r
	sub.table = t
	sub.opts.Table = t.Name
	name := string(m) + "/fp"
	rec, store, _, err := sub.runQAT(ctx, Cell{Name: name, Model: m, Quant: fpConfig}, name)
	if err != nil {
		return nil, err
	}
	if !rec.Complete {
		return nil, fmt.Errorf("table %s: the FP model %s of %s is not trained to the end (%d of %d epochs)", r.table.Name, name, t.Name, rec.EpochsRun, rec.Recipe.Epochs)
	}
	spec, err := r.table.Recipe(r.opts.Preset, m, fpConfig)
	if err != nil {
		return nil, err
	}
	fpSpec, err := t.Recipe(r.opts.Preset, m, fpConfig)
	if err != nil {
		return nil, err
	}
	if fpSpec.Width != spec.Width || fpSpec.Blocks != spec.Blocks {
		return nil, fmt.Errorf("table %s: %s's FP model is of width %g, %d blocks; the pruning recipe's %g, %d", r.table.Name, t.Name, fpSpec.Width, fpSpec.Blocks, spec.Width, spec.Blocks)
	}
	net, err := newCifarNet(m, fpConfig, spec, false)
	if err != nil {
		return nil, err
	}
	_, testL, _, err := r.loaders(ctx, m, spec)
	if err != nil {
		return nil, err
	}
	_, acc, err := train.EvaluateContext(ctx, r.opts.Backend, store, net.fn(), testL)
	if err != nil {
		return nil, fmt.Errorf("%s: evaluating the FP model: %w", r.table.Name, err)
	}
	r.logf("%s: FP model %s: %.2f%% on the test images\n", r.table.Name, name, 100*acc)
	return &fpBase{rec: rec, store: store, accuracy: 100 * acc}, nil
}

// runPruned prunes the FP model as cell c says and fine-tunes it (or
// reuses its record, reloading the weights from its checkpoint).
func (r *runner) runPruned(ctx context.Context, c Cell, fp *fpBase) (*prunedModel, error) {
	spec, err := r.table.Recipe(r.opts.Preset, c.Model, c.Quant)
	if err != nil {
		return nil, err
	}
	if c.Prune.Method != Unstructured {
		spec.PruneRamp = 0 // only unstructured pruning is gradual
	}
	net, err := newCifarNet(c.Model, fpConfig, spec, c.Prune.Method == Unstructured)
	if err != nil {
		return nil, err
	}
	// Fine-tuning starts from the FP weights with a fresh momentum: the FP
	// run's velocity would move pruned weights off zero.
	values, err := modelValues(fp.store)
	if err != nil {
		return nil, err
	}
	if c.Prune.Method == Filters {
		if net, values, err = net.pruneFilters(values, c.Prune.Target); err != nil {
			return nil, err
		}
	}
	tr, err := r.pruningTrainee(ctx, c, spec, net, values)
	if err != nil {
		return nil, err
	}
	store := tr.store
	var after *float64 // the accuracy right after a one-shot pruning
	hooks := cellHooks{
		recipe: func(rr *report.Recipe) {
			rr.Pruning, rr.FPModel = pruningText(c.Prune, spec), weightsID(fp.rec)
		},
		prepare: func(reused bool) error {
			if c.Prune.Method == Unstructured {
				if err := prune.Materialize(r.opts.Backend, store, tr.fn, shapes.Make(dtypes.Float32, 1, 32, 32, 3)); err != nil {
					return err
				}
				if spec.PruneRamp > 0 {
					steps := tr.trainL.NumBatches()
					s := prune.Schedule{Final: c.Prune.Target, End: spec.PruneRamp*steps - 1, Every: pruneEvery}
					tr.beforeStep, err = train.Pruning(store, s, true, nil)
					return err
				}
				if _, err := prune.Update(store, c.Prune.Target, true); err != nil {
					return err
				}
			}
			if reused || c.Prune.Method == Dense {
				return nil
			}
			_, acc, err := train.EvaluateContext(ctx, r.opts.Backend, store, tr.fn, tr.testL)
			if err != nil {
				return err
			}
			acc *= 100
			after = &acc
			r.logf("%s %s: %.2f%% right after pruning\n", r.table.Name, c.Name, acc)
			return nil
		},
		finish: func(rec *report.Record) error {
			p, err := r.measurePruned(ctx, c, net, store, tr.testL, fp)
			if err != nil {
				return err
			}
			p.PrunedAccuracy = after
			rec.Pruned = p
			rec.Note = fmt.Sprintf("pruned from %s (its test accuracy %.2f%% here)", fp.rec.Cell, fp.accuracy)
			return nil
		},
	}
	rec, store, reused, err := r.trainCell(ctx, c, c.Name, spec, tr, hooks)
	if err != nil {
		return nil, err
	}
	return &prunedModel{rec: rec, store: store, net: net, unchanged: reused}, nil
}

// runPrunedQuant quantizes a pruned cell's fine-tuned model: PTQ
// calibrates it, LSQ fine-tunes it quantized from its weights.
func (r *runner) runPrunedQuant(ctx context.Context, c Cell, fp *fpBase, base *prunedModel) (*report.Record, error) {
	spec, err := r.table.Recipe(r.opts.Preset, c.Model, c.Quant)
	if err != nil {
		return nil, err
	}
	spec.PruneRamp = 0 // it prunes nothing more
	net := base.net.withQuant(c.Quant)
	size, err := net.size(spec, c.Prune)
	if err != nil {
		return nil, err
	}
	finish := func(rec *report.Record, store *model.Store, testL *pipeline.Loader) error {
		p, err := r.measurePruned(ctx, c, net, store, testL, fp)
		if err != nil {
			return err
		}
		rec.Pruned = p
		rec.Note = fmt.Sprintf("%s of %s (%.2f%%), pruned from %s (%.2f%% here); %s", c.Quant.Method, base.rec.Cell, base.rec.Final,
			fp.rec.Cell, fp.accuracy, rec.Note)
		return nil
	}
	if c.Quant.Method == quant.PTQ {
		_, testL, _, err := r.loaders(ctx, c.Model, spec)
		if err != nil {
			return nil, err
		}
		return r.calibrate(ctx, c, spec, ptqSource{fn: net.fn(), size: size, store: base.store, unchanged: base.unchanged, rec: base.rec, fpModel: weightsID(base.rec),
			finish: func(rec *report.Record, store *model.Store) error { return finish(rec, store, testL) }})
	}
	// QAT: the pruned weights, masks and batch norms, without the optimizer's
	// state (the quantizers' own variables start afresh).
	values, err := modelValues(base.store)
	if err != nil {
		return nil, err
	}
	tr, err := r.pruningTrainee(ctx, c, spec, net, values)
	if err != nil {
		return nil, err
	}
	store := tr.store
	hooks := cellHooks{
		recipe: func(rr *report.Recipe) {
			rr.Pruning = "starts from " + base.rec.Cell + " (" + base.rec.Recipe.Pruning + "), masks kept"
			rr.FPModel = weightsID(base.rec)
		},
		finish: func(rec *report.Record) error { return finish(rec, store, tr.testL) },
	}
	rec, _, _, err := r.trainCell(ctx, c, c.Name, spec, tr, hooks)
	return rec, err
}

// modelValues are the store's variable values without the optimizer's
// state (paths under /optimizers/): the weights a fine-tuning starts from.
func modelValues(store *model.Store) (map[string]*tensors.Tensor, error) {
	values, err := train.StoreValues(store)
	if err != nil {
		return nil, err
	}
	for p := range values {
		if strings.HasPrefix(p, "/optimizers/") {
			delete(values, p)
		}
	}
	return values, nil
}

// pruningTrainee is a pruning cell's trainee: its network, its loaders,
// and a new store seeded for the run that takes values (the weights it
// starts from) as the network creates its variables.
func (r *runner) pruningTrainee(ctx context.Context, c Cell, spec Spec, net cifarNet, values map[string]*tensors.Tensor) (*trainee, error) {
	store := model.NewStore()
	if err := train.LoadValues(store, values); err != nil {
		return nil, err
	}
	if err := store.SetRNGStateFromSeed(int64(r.opts.Seed)); err != nil {
		return nil, err
	}
	size, err := net.size(spec, c.Prune)
	if err != nil {
		return nil, err
	}
	trainL, testL, copyName, err := r.loaders(ctx, c.Model, spec)
	if err != nil {
		return nil, err
	}
	return &trainee{fn: net.fn(), size: size, copyName: copyName, trainL: trainL, testL: testL, store: store}, nil
}

// pruningText describes a pruning cell's pruning for its record.
func pruningText(p Pruning, spec Spec) string {
	switch p.Method {
	case Dense:
		return "none (the dense control, fine-tuned alike)"
	case Filters:
		return fmt.Sprintf("filters: %.0f%% of every block's inner filters, lowest L1 norm first (Li et al. 2017), removed before fine-tuning", 100*p.Target)
	}
	if spec.PruneRamp > 0 {
		return fmt.Sprintf("unstructured: global magnitude, cubic ramp from 0 to %.0f%% over %d epochs, masks updated every %d steps (Zhu & Gupta 2017); the stem conv stays dense, the classifier is pruned with the rest",
			100*p.Target, spec.PruneRamp, pruneEvery)
	}
	return fmt.Sprintf("unstructured: global magnitude, %.0f%% one-shot before fine-tuning; the stem conv stays dense, the classifier is pruned with the rest", 100*p.Target)
}
