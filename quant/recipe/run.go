package recipe

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/datasets/pipeline"
	"github.com/mlsysrep/mlsysrep/models/mobilenetv2"
	"github.com/mlsysrep/mlsysrep/models/resnet"
	"github.com/mlsysrep/mlsysrep/models/svhnnet"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/pkg/train"
)

// Options is one run of a table.
type Options struct {
	Table       string
	Preset      Preset
	Cells       []string // a subset of the table's cells (empty: all)
	Data        DataOptions
	Out         string // records under Out/<preset>/<table>/, checkpoints under Out/checkpoints/
	Backend     compute.Backend
	BackendName string // as recorded, e.g. "purego (pure-Go engine, 2 CPUs)"
	Seed        uint64
	// Progress gets the run's lines (which cell, reuse, results), and each
	// training report's line unless Events takes the reports.
	Progress io.Writer
	Events   func(train.Event)
	// ProgressEvery is the steps between step reports (0: train.Run's default).
	ProgressEvery int
	// FPCheckpoint, for a PTQ table, is a PyTorch FP model (torch.save or
	// safetensors, pytorch-cifar's names; see models/torchcifar) that the
	// table quantizes instead of training its FP model. Its width comes from
	// the file; the records name the file and its SHA-256.
	FPCheckpoint string
}

// Result holds a table's records by cell name.
type Result struct {
	Table  *Table
	Preset Preset // which cells the preset runs (smoke runs fewer)
	// Cells, when set, are the cells the result covers (a -cells or -shard
	// run): its cost counts these, not every cell of the preset.
	Cells   []string
	Records map[string]*report.Record
}

// View is the table's report.TableView: its records, the FP models its PTQ
// cells start from, and the cost of the cells the preset runs.
func (r *Result) View() report.TableView { return r.ViewOf(nil) }

// ViewOf is View with the cost over the cells (and FP records) whose name
// keep accepts (nil keeps all): the ledger counts the CIFAR cells only.
func (r *Result) ViewOf(keep func(cell string) bool) report.TableView {
	cost := r.CostOf(keep)
	v := report.TableView{Layout: r.Table.Layout, Extra: r.Table.Extra, Records: r.Records, Cost: &cost}
	if r.Table.Pruning {
		v.FPRole = "its pruned cells start from it"
	}
	for _, m := range []Model{ResNet18, MobileNetV2} {
		if fp := r.Records[string(m)+"/fp"]; fp != nil && fp.Complete {
			v.FPModels = append(v.FPModels, fp)
		}
	}
	return v
}

// Markdown renders the table as the runner prints it: View's Markdown.
func (r *Result) Markdown() string { return r.View().Markdown() }

// curve is a training history's epochs in the record's schema.
func curve(epochs []train.Epoch) []report.Epoch {
	out := make([]report.Epoch, len(epochs))
	for i, e := range epochs {
		out[i] = report.Epoch(e)
	}
	return out
}

// Run runs (or reuses the records of) the selected cells of a table.
func Run(ctx context.Context, opts Options) (*Result, error) {
	t, err := Lookup(opts.Table)
	if err != nil {
		return nil, err
	}
	cells, err := selectCells(t, opts.Cells)
	if err != nil {
		return nil, err
	}
	if len(opts.Cells) == 0 {
		cells = t.CellsFor(opts.Preset)
	}
	if err := checkWritable(opts.Out); err != nil {
		return nil, err
	}
	res := &Result{Table: t, Preset: opts.Preset, Records: map[string]*report.Record{}}
	if len(opts.Cells) > 0 {
		res.Cells = opts.Cells
	}
	r := &runner{opts: opts, table: t, data: dataCache{}}
	r.commit, r.dirty = gitCommit()
	switch {
	case t.PTQ:
		err = r.runPTQ(ctx, cells, res)
	case t.Pruning:
		err = r.runPruning(ctx, cells, res)
	default:
		for _, c := range cells {
			var rec *report.Record
			if rec, _, _, err = r.runQAT(ctx, c, c.Name); err != nil {
				break
			}
			res.Records[c.Name] = rec
		}
	}
	return res, err
}

// CellsFor lists the cells a preset runs when no subset is asked for: all
// of them, except that smoke runs the PTQ variants at 4-bit weights only.
func (t *Table) CellsFor(preset Preset) []Cell {
	if preset == Smoke {
		return smokeCells(t.Cells())
	}
	return t.Cells()
}

// smokeCells keeps the PTQ "beyond the reference" variants at 4-bit weights
// only: the smoke preset checks that every kind of cell runs, in minutes.
func smokeCells(cells []Cell) []Cell {
	var out []Cell
	for _, c := range cells {
		if !c.Variant() || c.Quant.WBits == 4 {
			out = append(out, c)
		}
	}
	return out
}

func selectCells(t *Table, names []string) ([]Cell, error) {
	all := t.Cells()
	if len(names) == 0 {
		return all, nil
	}
	byName := map[string]Cell{}
	var valid []string
	for _, c := range all {
		byName[c.Name] = c
		valid = append(valid, c.Name)
	}
	for _, c := range FPCells(t) {
		byName[c.Name] = c
	}
	var out []Cell
	for _, n := range names {
		c, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("table %s has no cell %q: its cells are %s", t.Name, n, strings.Join(valid, ", "))
		}
		out = append(out, c)
	}
	return out, nil
}

type runner struct {
	opts   Options
	table  *Table
	data   dataCache
	commit string
	dirty  bool
	// imported is the FP model read from Options.FPCheckpoint, by network.
	imported map[Model]*importedFP
}

// gitCommit asks git for the commit and whether the tree is dirty (build
// info carries no VCS data with -buildvcs=false).
func gitCommit() (commit string, dirty bool) {
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown", false
	}
	st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output()
	return strings.TrimSpace(string(out)), err == nil && len(st) > 0
}

func (r *runner) logf(format string, args ...any) {
	if r.opts.Progress != nil {
		fmt.Fprintf(r.opts.Progress, format, args...)
	}
}

// datasetOf is the dataset a model trains on.
func datasetOf(m Model) string {
	if m == SVHNModelA {
		return "svhn"
	}
	return "cifar10"
}

// loaders builds the training and test pipelines of a model's dataset.
func (r *runner) loaders(ctx context.Context, m Model, spec Spec) (trainL, testL *pipeline.Loader, copyName string, err error) {
	s, err := r.data.get(ctx, datasetOf(m), r.opts.Data)
	if err != nil {
		return nil, nil, "", err
	}
	tr, te := s.train, s.test
	if spec.TrainImages > 0 {
		tr = tr.FirstN(spec.TrainImages)
	}
	if spec.TestImages > 0 {
		te = te.FirstN(spec.TestImages)
	}
	var trainT, testT pipeline.Transform = pipeline.NewCIFARTrain(), pipeline.NewCIFAREval()
	if m == SVHNModelA {
		trainT, testT = pipeline.NewSVHNTrain(), pipeline.NewSVHNEval()
	}
	trainL = &pipeline.Loader{Images: tr, Batch: spec.Batch, Shuffle: true, Seed: r.opts.Seed, Last: pipeline.Drop, Transform: trainT}
	testL = &pipeline.Loader{Images: te, Batch: max(spec.Batch, 100), Last: pipeline.Keep, Transform: testT}
	if err := trainL.Check(); err != nil {
		return nil, nil, "", err
	}
	return trainL, testL, s.copyName, nil
}

// sizeCache remembers model sizes: the parameter count depends on the
// network and its width, not on the quantization, and summarizing builds a
// whole graph.
var sizeCache sync.Map

// modelFn builds a cell's network and describes its size.
func modelFn(m Model, q quant.Config, spec Spec) (train.ModelFn, string, error) {
	var fn train.ModelFn
	var summary func() (*nn.Summary, error)
	switch m {
	case ResNet18:
		c := resnet.Config{Width: spec.Width, BlocksPerStage: spec.Blocks, NumClasses: 10, Quant: q}
		fn, summary = c.Build, c.Summary
	case MobileNetV2:
		c := mobilenetv2.Config{Width: spec.Width, NumClasses: 10, Quant: q}
		fn, summary = c.Build, c.Summary
	case SVHNModelA:
		w := spec.Width
		if w == 0.125 { // the smoke preset's CIFAR width is too narrow for Model A's BN
			w = 0.25
		}
		c := svhnnet.Config{Width: w, NumClasses: 10, Dropout: 0.5, Quant: q}
		fn, summary = c.Build, c.Summary
	default:
		return nil, "", fmt.Errorf("unknown model %q", m)
	}
	key := fmt.Sprintf("%s/%g/%d", m, spec.Width, spec.Blocks)
	if size, ok := sizeCache.Load(key); ok {
		return fn, size.(string), nil
	}
	s, err := summary()
	if err != nil {
		return nil, "", err
	}
	size := fmt.Sprintf("width %g, %d parameters", spec.Width, s.Params())
	if m == ResNet18 && spec.Blocks != 2 {
		size = fmt.Sprintf("width %g, %d blocks per stage, %d parameters", spec.Width, spec.Blocks, s.Params())
	}
	sizeCache.Store(key, size)
	return fn, size, nil
}

// reusable tells whether an existing record answers the same question: a
// complete record of the same key (preset, table, cell, seed, data copy and
// recipe digest).
func reusable(old, want *report.Record) bool {
	return old != nil && old.Complete && old.Key() == want.Key()
}

// CheckpointDir is where the training checkpoint of a record's key lives
// under a results folder (see report.Key.CheckpointDir).
func CheckpointDir(out string, rec *report.Record) string {
	return rec.Key().CheckpointDir(out)
}

// previous returns the record already saved for want's cell, seed and data
// copy (nil: none), saying when it is of another recipe and will be replaced.
func (r *runner) previous(want *report.Record) (*report.Record, error) {
	old, err := report.Load(r.opts.Out, want.Key())
	if err != nil {
		return nil, err
	}
	if old != nil && old.Key().Recipe != want.Key().Recipe {
		r.logf("%s %s: the record of seed %d on %s is of another recipe (%s, now %s): it will be replaced\n",
			r.table.Name, want.Cell, want.Seed, want.Data, old.Key().Recipe, want.Key().Recipe)
	}
	return old, nil
}

// trainingRecord is the identity of a trained cell's record: everything its
// key is made of.
func trainingRecord(t *Table, preset Preset, c Cell, name string, spec Spec, size string, seed uint64, data string) *report.Record {
	return &report.Record{Table: t.Name, Cell: name, Preset: string(preset), Model: string(c.Model), ModelSize: size,
		Data: data, Seed: seed, Recipe: spec.Record("")}
}

// fpConfig is the quantization of a PTQ table's FP model: none.
var fpConfig = quant.Config{Method: quant.FP, WBits: 32, ABits: 32, GBits: 32}

// CellKey is the key of the record and checkpoint of a trained cell of a
// table (a QAT cell, or "<model>/fp", a PTQ table's FP model) for a preset,
// seed and data copy: where the runner leaves its weights and record for
// others (the notebooks, tests) to find.
func CellKey(table string, preset Preset, cell string, seed uint64, data string) (report.Key, error) {
	t, err := Lookup(table)
	if err != nil {
		return report.Key{}, err
	}
	var c Cell
	for _, tc := range t.Cells() {
		if tc.Name == cell && !t.PTQ {
			c = tc
		}
		if cell == string(tc.Model)+"/fp" && t.PTQ {
			c = Cell{Name: cell, Model: tc.Model, Quant: fpConfig}
		}
	}
	if c.Name == "" {
		return report.Key{}, fmt.Errorf("table %s trains no cell %q", table, cell)
	}
	spec, err := t.Recipe(preset, c.Model, c.Quant)
	if err != nil {
		return report.Key{}, err
	}
	_, size, err := modelFn(c.Model, c.Quant, spec)
	if err != nil {
		return report.Key{}, err
	}
	return trainingRecord(t, preset, c, cell, spec, size, seed, data).Key(), nil
}

// runQAT trains one cell (or reuses its record) and returns the record, the
// trained store (nil when the record was reused without loading weights) and
// whether a complete record of the same recipe was already there (PTQ tables
// always load the FP weights, from the checkpoint when that is the case).
func (r *runner) runQAT(ctx context.Context, c Cell, name string) (*report.Record, *model.Store, bool, error) {
	spec, err := r.table.Recipe(r.opts.Preset, c.Model, c.Quant)
	if err != nil {
		return nil, nil, false, err
	}
	tr, err := r.trainee(ctx, c.Model, c.Quant, spec) // the data copy is part of the record's key
	if err != nil {
		return nil, nil, false, err
	}
	return r.trainCell(ctx, c, name, spec, tr, cellHooks{})
}

// cellHooks are what a trained cell adds to runQAT's path: the pruning
// cells' (pruning.go).
type cellHooks struct {
	// recipe adjusts the record's recipe before its key is taken.
	recipe func(*report.Recipe)
	// prepare runs before train.Run (which then resumes from a checkpoint
	// when there is one): a one-shot pruning. reused says a complete record
	// is there and train.Run only restores its weights.
	prepare func(reused bool) error
	// finish adds to a newly trained record before it is saved.
	finish func(*report.Record) error
}

// trainCell trains a cell's trainee (or reuses its record) and saves its
// record; see runQAT.
func (r *runner) trainCell(ctx context.Context, c Cell, name string, spec Spec, tr *trainee, hooks cellHooks) (*report.Record, *model.Store, bool, error) {
	size, copyName := tr.size, tr.copyName
	rec := trainingRecord(r.table, r.opts.Preset, c, name, spec, size, r.opts.Seed, copyName)
	if hooks.recipe != nil {
		hooks.recipe(&rec.Recipe)
	}
	rec.Backend, rec.Commit, rec.Dirty = r.opts.BackendName, r.commit, r.dirty
	// Another task sharing the folder (-shard) may be training this cell:
	// wait for it, then reuse its record.
	release, err := report.Lock(r.opts.Out, rec.Key(), func() {
		r.logf("%s %s: another task is running this cell; waiting for it\n", r.table.Name, name)
	})
	if err != nil {
		return nil, nil, false, err
	}
	defer release()
	old, err := r.previous(rec)
	if err != nil {
		return nil, nil, false, err
	}
	store := tr.store
	reused := reusable(old, rec)
	base := r.isBase(c, name) // later cells start from its weights
	if reused && !base {
		r.logf("%s %s: reusing the complete record of seed %d on %s\n", r.table.Name, name, rec.Seed, rec.Data)
		return old, nil, true, nil
	}
	restored := false
	var saved func(int) error
	if base {
		if restored, err = r.restoreWeights(rec, reused); err != nil {
			return nil, nil, false, err
		}
		saved = func(int) error { return r.keepProgress(rec) }
	}
	if hooks.prepare != nil {
		if err := hooks.prepare(reused); err != nil {
			return nil, nil, false, fmt.Errorf("%s %s: %w", r.table.Name, name, err)
		}
	}
	r.logf("== %s %s (%s; %s; %s)\n", r.table.Name, name, size, spec.Record("").Schedule, copyName)
	h, err := r.train(ctx, tr, spec, CheckpointDir(r.opts.Out, rec), rec.Key().String(), saved)
	if err != nil {
		return nil, nil, false, fmt.Errorf("%s %s: %w", r.table.Name, name, err)
	}
	if reused && len(h.Epochs) == spec.Epochs && sameCurve(old, h) {
		// The weights came back from the finished run's checkpoint: its record
		// (commit, wall time) stays the record of that run.
		return old, store, true, r.keepWeights(old)
	}
	if reused {
		// Its checkpoint was gone: the cell was trained again, to other
		// weights (another engine, another CPU's summation order), or its
		// kept weights are of another run than its record. The old record
		// does not describe them, and what was made from them (PTQ cells)
		// must be made again.
		why := "the complete record's checkpoint was missing; trained again"
		if restored {
			why = "the kept weights are not those of the complete record (another curve)"
		}
		r.logf("%s %s: %s, its record is replaced (%.2f%% then)\n", r.table.Name, name, why, old.Final)
		reused = false
	}
	rec.WallSeconds = h.WallSeconds // across resumed runs
	rec.Curve, rec.EpochsRun, rec.ImagesPerS = curve(h.Epochs), len(h.Epochs), h.ImagesPerSecond()
	for _, e := range h.Epochs {
		rec.Best = max(rec.Best, 100*e.TestAccuracy)
	}
	if n := len(h.Epochs); n > 0 {
		rec.Final = 100 * h.Epochs[n-1].TestAccuracy
	}
	rec.SetReference(r.table.Reference(name))
	rec.Complete = rec.EpochsRun == spec.Epochs
	if hooks.finish != nil && rec.Complete {
		if err := hooks.finish(rec); err != nil {
			return nil, nil, false, fmt.Errorf("%s %s: %w", r.table.Name, name, err)
		}
	}
	if err := rec.Save(r.opts.Out); err != nil {
		return nil, nil, false, err
	}
	if base && rec.Complete {
		if err := r.keepWeights(rec); err != nil {
			return nil, nil, false, err
		}
	}
	return rec, store, reused, nil
}

// sameCurve tells whether a training history is the one a record was made
// from, epoch for epoch (a run restored from its checkpoint), not another
// run of the same recipe.
func sameCurve(rec *report.Record, h *train.History) bool {
	if len(rec.Curve) != len(h.Epochs) {
		return false
	}
	for i, e := range h.Epochs {
		if report.Epoch(e).TrainLoss != rec.Curve[i].TrainLoss || e.TestAccuracy != rec.Curve[i].TestAccuracy {
			return false
		}
	}
	return true
}

// trainee is what training a network takes: its model function and size,
// its data, and a store seeded for the run. runQAT and TrainFP both start
// from one.
type trainee struct {
	fn             train.ModelFn
	size, copyName string
	trainL, testL  *pipeline.Loader
	store          *model.Store
	// beforeStep, when set, runs before every training step (a gradual
	// pruning's mask updates; see train.Config.BeforeStep).
	beforeStep func(step int) error
}

// trainee builds the network m quantized by q, its loaders and its store
// for spec.
func (r *runner) trainee(ctx context.Context, m Model, q quant.Config, spec Spec) (*trainee, error) {
	fn, size, err := modelFn(m, q, spec)
	if err != nil {
		return nil, err
	}
	trainL, testL, copyName, err := r.loaders(ctx, m, spec)
	if err != nil {
		return nil, err
	}
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(int64(r.opts.Seed)); err != nil {
		return nil, err
	}
	return &trainee{fn: fn, size: size, copyName: copyName, trainL: trainL, testL: testL, store: store}, nil
}

// train is the one training loop of the recipes: every QAT cell, every PTQ
// table's FP model, and the FP models of the demo and the notebook tour
// (TrainFP) are trained here, with PROTOCOL section 5's optimizer (SGD,
// momentum 0.9, weight decay 5e-4) and the spec's schedule.
// saved (may be nil) runs after each epoch's checkpoint (train.Config.Saved).
func (r *runner) train(ctx context.Context, tr *trainee, spec Spec, checkpointDir, checkpointKey string, saved func(int) error) (*train.History, error) {
	store, fn, trainL, testL := tr.store, tr.fn, tr.trainL, tr.testL
	return train.Run(ctx, train.Config{Backend: r.opts.Backend, Store: store, Model: fn, Train: trainL, Eval: testL,
		Epochs: spec.Epochs, Optimizer: train.SGD{Momentum: 0.9, WeightDecay: 5e-4, ClipNorm: spec.ClipNorm},
		Schedule: spec.Schedule(), CheckpointDir: checkpointDir, CheckpointKey: checkpointKey,
		Progress: r.opts.Progress, Events: r.opts.Events, ProgressEvery: r.opts.ProgressEvery, BeforeStep: tr.beforeStep,
		Saved: saved})
}

// runPTQ trains (or reloads) the FP model of each network in the selected
// cells, then calibrates and evaluates every cell.
func (r *runner) runPTQ(ctx context.Context, cells []Cell, res *Result) error {
	fp := fpConfig
	stores := map[Model]*model.Store{}
	unchanged := map[Model]bool{}
	for _, c := range cells {
		if _, ok := stores[c.Model]; ok {
			continue
		}
		var rec *report.Record
		var store *model.Store
		var reused bool
		var err error
		if r.opts.FPCheckpoint != "" {
			rec, store, reused, err = r.importFP(ctx, c.Model)
		} else {
			rec, store, reused, err = r.runQAT(ctx, Cell{Model: c.Model, Quant: fp}, string(c.Model)+"/fp")
		}
		if err != nil {
			return err
		}
		res.Records[rec.Cell] = rec
		stores[c.Model], unchanged[c.Model] = store, reused
	}
	for _, c := range cells {
		if c.Quant.Method == quant.FP { // "<model>/fp": the FP model alone
			continue
		}
		rec, err := r.runPTQCell(ctx, c, stores[c.Model], unchanged[c.Model], res.Records[string(c.Model)+"/fp"])
		if err != nil {
			return err
		}
		res.Records[c.Name] = rec
	}
	return nil
}

// FPCells are the "<model>/fp" cells of a PTQ table, one per network: as
// -cells they train (or resume) the FP model alone, calibrating nothing,
// as a paper-scale FP training spread over several sessions does.
func FPCells(t *Table) []Cell {
	if !t.PTQ {
		return nil
	}
	var out []Cell
	seen := map[Model]bool{}
	for _, c := range t.Cells() {
		if !seen[c.Model] {
			seen[c.Model] = true
			out = append(out, Cell{Name: string(c.Model) + "/fp", Model: c.Model, Quant: fpConfig})
		}
	}
	return out
}

// ptqData returns a PTQ cell's calibration batches and its test set (and
// the name of the data copy). Calibration reads the first spec.Calibration
// training images in canonical order with the training augmentation on, as
// the reference did (PROTOCOL sections 2 and 6), never a test image: the
// test set is only evaluated.
func (r *runner) ptqData(ctx context.Context, m Model, spec Spec) (calib, test *pipeline.Loader, copyName string, err error) {
	trainL, testL, copyName, err := r.loaders(ctx, m, spec)
	if err != nil {
		return nil, nil, "", err
	}
	calib = &pipeline.Loader{Images: trainL.Images.FirstN(spec.Calibration), Batch: trainL.Batch, Shuffle: true,
		Seed: r.opts.Seed, Last: pipeline.Keep, Transform: trainL.Transform}
	return calib, testL, copyName, nil
}

// runPTQCell calibrates the observers of one cell on the first N training
// images (training augmentation on), freezes them and evaluates.
func (r *runner) runPTQCell(ctx context.Context, c Cell, fpStore *model.Store, fpUnchanged bool, fpRec *report.Record) (*report.Record, error) {
	spec, err := r.table.Recipe(r.opts.Preset, c.Model, c.Quant)
	if err != nil {
		return nil, err
	}
	fpModel := ""
	if imp := r.imported[c.Model]; imp != nil {
		spec.Width, spec.Blocks, fpModel = imp.Width, imp.Blocks, imp.id
	}
	fn, size, err := modelFn(c.Model, c.Quant, spec)
	if err != nil {
		return nil, err
	}
	if fpModel == "" { // trained by the recipe: named by its curve
		fpModel = weightsID(fpRec)
	}
	return r.calibrate(ctx, c, spec, ptqSource{fn: fn, size: size, fpModel: fpModel, store: fpStore, unchanged: fpUnchanged, rec: fpRec})
}

// weightsID names the trained weights a cell starts from (a PTQ cell's FP
// model, a pruned cell's), for its recipe (report.Recipe.FPModel): the cell they come from, its recipe digest and a
// digest of its training curve. Weights trained again to another curve (a
// lost checkpoint, another engine) give the cells made from them other
// keys, so their old records and checkpoints are not reused.
func weightsID(rec *report.Record) string {
	b, err := json.Marshal(rec.Curve)
	if err != nil { // epochs of numbers always marshal
		panic(err)
	}
	sum := sha256.Sum256(b)
	return fmt.Sprintf("%s (recipe %s, curve %x)", rec.Cell, rec.Key().Recipe, sum[:6])
}

// ptqSource is what a PTQ cell quantizes: the network (with the cell's
// quantization) and its trained weights.
type ptqSource struct {
	fn        train.ModelFn
	size      string
	fpModel   string // Recipe.FPModel: an imported FP model's name and digest
	store     *model.Store
	unchanged bool           // the weights are those the cell's old record was made from
	rec       *report.Record // the weights' own record, named in the note
	// finish adds to a new record before it is saved.
	finish func(rec *report.Record, store *model.Store) error
}

// calibrate calibrates the observers of a PTQ cell on the first N training
// images (training augmentation on), freezes them and evaluates (or reuses
// the cell's record when neither its recipe nor its weights changed).
func (r *runner) calibrate(ctx context.Context, c Cell, spec Spec, src ptqSource) (*report.Record, error) {
	fn, size, fpModel, fpStore, fpUnchanged, fpRec := src.fn, src.size, src.fpModel, src.store, src.unchanged, src.rec
	observer := c.Quant.Observer
	if observer == "" {
		observer = quant.ObserverNames[0] // the reference's
	}
	what := "activations " + observer + ", weights per tensor"
	if c.Quant.PerChannel {
		what = "activations " + observer + ", weights per channel"
	}
	calib, testL, copyName, err := r.ptqData(ctx, c.Model, spec)
	if err != nil {
		return nil, err
	}
	rec := &report.Record{Table: r.table.Name, Cell: c.Name, Preset: string(r.opts.Preset), Model: string(c.Model), ModelSize: size,
		Data: copyName, Backend: r.opts.BackendName, Seed: r.opts.Seed, Recipe: spec.Record(what).WithFPModel(fpModel), Commit: r.commit, Dirty: r.dirty,
		Note: fmt.Sprintf("PTQ of %s (FP test accuracy %.2f%%); activations clamped to [0, 2^a-1] (true k-bit), unlike PyTorch's integer kernels", fpRec.Cell, fpRec.Final)}
	old, err := r.previous(rec)
	if err != nil {
		return nil, err
	}
	if reusable(old, rec) && fpUnchanged { // same recipe on the same FP model
		r.logf("%s %s: reusing the complete record of seed %d on %s\n", r.table.Name, c.Name, rec.Seed, rec.Data)
		return old, nil
	}
	store, err := fpStore.Clone()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	root := store.RootScope()
	root.SetParam(quant.ParamPTQMode, string(quant.PTQCalibrate))
	exec, err := model.NewExec(r.opts.Backend, store, func(scope *model.Scope, x *graph.Node) *graph.Node { return fn(scope, x) })
	if err != nil {
		return nil, err
	}
	for b, err := range calib.Iter() {
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			b.Finalize()
			return nil, fmt.Errorf("%s: calibration %w (a PTQ cell keeps nothing partial: it calibrates again)", c.Name, err)
		}
		outs, err := exec.Call(b.Inputs[0])
		if err != nil {
			return nil, fmt.Errorf("%s: calibration: %w", c.Name, err)
		}
		b.Finalize()
		outs[0].MustFinalizeAll()
	}
	root.SetParam(quant.ParamPTQMode, string(quant.PTQFrozen))
	_, acc, err := train.EvaluateContext(ctx, r.opts.Backend, store, fn, testL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Name, err)
	}
	rec.WallSeconds = time.Since(start).Seconds()
	rec.ImagesPerS = float64(calib.Images.N+testL.Images.N) / rec.WallSeconds
	rec.Final, rec.Best, rec.Complete = 100*acc, 100*acc, true
	rec.SetReference(r.table.Reference(c.Name))
	if src.finish != nil {
		if err := src.finish(rec, store); err != nil {
			return nil, fmt.Errorf("%s: %w", c.Name, err)
		}
	}
	r.logf("%s %s: %.2f%% (reference %s)\n", r.table.Name, c.Name, rec.Final, orNone(rec.RefText))
	return rec, rec.Save(r.opts.Out)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// LoadResult reads the saved records of a table for one seed (cells
// without a record are left out), for rendering a table produced earlier
// without rerunning it. Where a cell has records of several data copies, the
// most faithful copy is shown: the official binary, then the JPEG mirror,
// then any other, synthetic images last. A record file that cannot be read
// is an error naming it.
func LoadResult(table string, preset Preset, out string, seed uint64) (*Result, error) {
	t, err := Lookup(table)
	if err != nil {
		return nil, err
	}
	res := &Result{Table: t, Preset: preset, Records: map[string]*report.Record{}}
	names := []string{}
	for _, c := range t.Cells() {
		names = append(names, c.Name)
		if c.Quant.Method == quant.PTQ {
			names = append(names, string(c.Model)+"/fp")
		}
	}
	for _, n := range names {
		all, err := report.Find(out, string(preset), table, n)
		if err != nil {
			return nil, err
		}
		if r := pick(all, seed); r != nil {
			res.Records[n] = r
		}
	}
	if t.Pruning { // the FP models the cells were pruned from are the PTQ tables'
		for _, m := range []Model{ResNet18, MobileNetV2} {
			all, err := report.Find(out, string(preset), "ptq-"+string(m), string(m)+"/fp")
			if err != nil {
				return nil, err
			}
			if r := pick(all, seed); r != nil {
				res.Records[r.Cell] = r
			}
		}
	}
	return res, nil
}

// pick returns the record of a seed on the most faithful data copy.
func pick(records []*report.Record, seed uint64) *report.Record {
	var best *report.Record
	for _, r := range records {
		if r.Seed == seed && (best == nil || dataRank(r.Data) < dataRank(best.Data) ||
			dataRank(r.Data) == dataRank(best.Data) && r.Data < best.Data) {
			best = r
		}
	}
	return best
}

// dataRank orders data copies by faithfulness to the original (lower first).
func dataRank(data string) int {
	switch {
	case strings.Contains(data, "official"):
		return 0
	case strings.Contains(data, "mirror"):
		return 1
	case strings.HasPrefix(data, "synthetic"):
		return 3
	}
	return 2
}
