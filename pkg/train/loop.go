package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	gomlxtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/mlsysrep/mlsysrep/pkg/hoststat"
)

// ModelFn maps images to logits.
type ModelFn = func(scope *model.Scope, images *graph.Node) *graph.Node

// Config is one training run.
type Config struct {
	Backend   compute.Backend
	Store     *model.Store
	Model     ModelFn
	Train     gomlxtrain.Dataset // if it has SetEpoch(int), resume replays the right epochs
	Eval      gomlxtrain.Dataset // the test split, evaluated after every epoch
	Epochs    int
	Optimizer SGD
	Schedule  Schedule
	// CheckpointDir, when set, gets a checkpoint after every epoch, and a run
	// finding one there resumes after its last epoch.
	CheckpointDir string
	// CheckpointKey names the run (its seed, data, recipe...): a checkpoint
	// saved under another key is refused, never resumed.
	CheckpointKey string
	// Events, when set, receives the run's progress reports (see Event);
	// otherwise Progress gets each one's line (both nil: quiet).
	Events   func(Event)
	Progress io.Writer
	// ProgressEvery is the number of steps between step reports (default 20).
	ProgressEvery int
	// BeforeStep, when set, runs before every training step with the run's
	// step number (0-based, counted over all epochs, resumed runs included:
	// it needs a Train dataset with NumBatches), and may change the store's
	// variables (pruning masks: see pkg/prune). An error stops the run.
	BeforeStep func(step int) error
	// Saved, when set, runs after each epoch's checkpoint is written, with
	// the 1-based epoch (the runner keeps a copy of a base cell's progress
	// beside its record); an error stops the run.
	Saved func(epoch int) error
}

// Epoch is what one epoch produced.
type Epoch struct {
	Epoch int     `json:"epoch"` // 1-based
	LR    float64 `json:"lr"`
	// TrainLoss is the mean of the minimized objective over the epoch's
	// batches: cross-entropy plus any regularization term the model adds
	// (PACT's lambda*sum(alpha^2), for one).
	TrainLoss float64 `json:"train_loss"`
	// TestLoss is the mean cross-entropy on the evaluation set, alone.
	TestLoss     float64 `json:"test_loss"`
	TestAccuracy float64 `json:"test_accuracy"`
	Images       int     `json:"images"`
	Seconds      float64 `json:"seconds"`
	// CPUSteal is the share of the machine's CPU time that the hypervisor
	// gave to other guests during the epoch's training (0 to 1; nil where the
	// host does not account it, and in records from before it was measured).
	// A slow epoch with a high steal was slowed by the host, not by us.
	CPUSteal *float64 `json:"cpu_steal,omitempty"`
}

// History is a run's per-epoch record.
type History struct {
	Epochs []Epoch `json:"epochs"`
	// WallSeconds is the time spent in epochs (training and evaluation),
	// summed over interrupted and resumed runs.
	WallSeconds float64 `json:"wall_seconds"`
}

// ImagesPerSecond is the training throughput over all epochs.
func (h *History) ImagesPerSecond() float64 {
	n, s := 0, 0.0
	for _, e := range h.Epochs {
		n += e.Images
		s += e.Seconds
	}
	if s == 0 {
		return 0
	}
	return float64(n) / s
}

// loopState is what a checkpoint carries besides the variables.
type loopState struct {
	Completed int             `json:"completed_epochs"`
	History   History         `json:"history"`
	Schedule  json.RawMessage `json:"schedule"`
}

// LoadRunCheckpoint loads a checkpoint written by Run (see LoadCheckpoint)
// and returns how many epochs the run had completed when it was written.
func LoadRunCheckpoint(dir, key string, store *model.Store) (completed int, err error) {
	var state loopState
	if err := LoadCheckpoint(dir, key, store, &state); err != nil {
		return 0, err
	}
	return state.Completed, nil
}

// ErrNonFinite is wrapped by the error of a run whose loss became NaN or Inf.
var ErrNonFinite = errors.New("loss is not finite")

type epochSetter interface{ SetEpoch(int) }
type batchCounter interface{ NumBatches() int }

// Run trains for cfg.Epochs epochs (or what remains of them after a
// checkpoint), evaluating after each, and returns the history of all epochs.
func Run(ctx context.Context, cfg Config) (*History, error) {
	state := loopState{}
	if cfg.CheckpointDir != "" {
		err := LoadCheckpoint(cfg.CheckpointDir, cfg.CheckpointKey, cfg.Store, &state)
		switch {
		case errors.Is(err, ErrNoCheckpoint):
		case err != nil:
			return nil, err
		default:
			if err := cfg.Schedule.Restore(state.Schedule); err != nil {
				return nil, fmt.Errorf("checkpoint: schedule state: %w", err)
			}
			cfg.emit(Event{Kind: Resumed, Epoch: state.Completed, Epochs: cfg.Epochs, Dir: cfg.CheckpointDir})
		}
	}
	if s, ok := cfg.Train.(epochSetter); ok {
		s.SetEpoch(state.Completed)
	}
	trainer := gomlxtrain.NewTrainer(cfg.Backend, cfg.Store, cfg.Model, loss.SparseCategoricalCrossEntropyLogits, cfg.Optimizer, nil, nil)
	evalExec, err := newEvalExec(cfg)
	if err != nil {
		return nil, err
	}
	every := cfg.ProgressEvery
	if every <= 0 {
		every = 20
	}
	steps := 0
	if c, ok := cfg.Train.(batchCounter); ok {
		steps = c.NumBatches()
	}
	if cfg.BeforeStep != nil && steps == 0 {
		return nil, errors.New("train: BeforeStep needs a Train dataset that counts its batches (NumBatches)")
	}
	// Training throughput counts training time only (not evaluations).
	trainSeconds, runImages := 0.0, 0
	for epoch := state.Completed; epoch < cfg.Epochs; epoch++ {
		if err := ctx.Err(); err != nil {
			return &state.History, interrupted(cfg, state, err, epoch+1, 0)
		}
		lr := cfg.Schedule.LR(epoch)
		if err := SetLearningRate(cfg.Store, lr); err != nil {
			return nil, err
		}
		e := Epoch{Epoch: epoch + 1, LR: lr}
		var steal hoststat.StealMeter
		steal.Start()
		start := time.Now()
		lossSum, step := 0.0, 0
		for batch, err := range cfg.Train.Iter() {
			if err != nil {
				return &state.History, err
			}
			if err := ctx.Err(); err != nil { // checked between steps: a step is the unit of work
				return &state.History, interrupted(cfg, state, err, epoch+1, step)
			}
			n := batch.Inputs[0].Shape().Dim(0)
			if cfg.BeforeStep != nil {
				if err := cfg.BeforeStep(epoch*steps + step); err != nil {
					return &state.History, fmt.Errorf("epoch %d step %d: %w", epoch+1, step+1, err)
				}
			}
			metrics, err := trainer.TrainStep(batch)
			if err != nil {
				return &state.History, fmt.Errorf("epoch %d step %d: %w", epoch+1, step+1, err)
			}
			l := float64(tensors.ToScalar[float32](metrics[0]))
			for _, m := range metrics { // free now rather than at the garbage collector's pace
				m.MustFinalizeAll()
			}
			step++
			if math.IsNaN(l) || math.IsInf(l, 0) {
				return &state.History, fmt.Errorf("epoch %d step %d: %w (%v); stopping (the last checkpoint, if any, holds epoch %d)",
					epoch+1, step, ErrNonFinite, l, state.Completed)
			}
			lossSum += l
			e.Images += n
			runImages += n
			if step%every == 0 || step == steps {
				ev := Event{Kind: StepDone, Epoch: epoch + 1, Epochs: cfg.Epochs, Step: step, Steps: steps, Loss: l,
					ImagesPerSecond: float64(runImages) / (trainSeconds + time.Since(start).Seconds())}
				if steps > 0 {
					left := (cfg.Epochs-epoch-1)*steps + steps - step
					ev.ETA = time.Duration(float64(left*n) / ev.ImagesPerSecond * float64(time.Second))
				}
				cfg.emit(ev)
			}
		}
		e.Seconds = time.Since(start).Seconds()
		if f, ok := steal.Fraction(); ok {
			e.CPUSteal = &f
		}
		trainSeconds += e.Seconds
		if step > 0 {
			e.TrainLoss = lossSum / float64(step)
		}
		if e.TestLoss, e.TestAccuracy, err = evaluate(ctx, evalExec, cfg.Eval); err != nil {
			if ctx.Err() != nil {
				err = interrupted(cfg, state, ctx.Err(), epoch+1, step)
			}
			return &state.History, err
		}
		cfg.Schedule.Observe(epoch, e.TestLoss)
		state.History.Epochs = append(state.History.Epochs, e)
		state.History.WallSeconds += time.Since(start).Seconds()
		state.Completed = epoch + 1
		state.Schedule = cfg.Schedule.State()
		cfg.emit(Event{Kind: EpochDone, Epoch: e.Epoch, Epochs: cfg.Epochs, Result: e})
		if cfg.CheckpointDir != "" {
			if err := SaveCheckpoint(cfg.CheckpointDir, cfg.CheckpointKey, cfg.Store, state); err != nil {
				return &state.History, err
			}
			if cfg.Saved != nil {
				if err := cfg.Saved(epoch + 1); err != nil {
					return &state.History, err
				}
			}
		}
	}
	return &state.History, nil
}

// interrupted is the error of a run stopped by its context (Ctrl-C) in an
// epoch, after step steps of it: it wraps the context's error and says what
// was kept on disk.
func interrupted(cfg Config, state loopState, cause error, epoch, step int) error {
	kept := "no checkpoint is kept (none was asked for)"
	switch {
	case cfg.CheckpointDir != "" && state.Completed > 0:
		kept = fmt.Sprintf("the checkpoint after epoch %d is kept in %s; run the same command again to resume from it", state.Completed, cfg.CheckpointDir)
	case cfg.CheckpointDir != "":
		kept = "no epoch had finished, so there is no checkpoint: a new run starts this one over"
	}
	return fmt.Errorf("%w in epoch %d after %d steps: %s", cause, epoch, step, kept)
}

// stealNote names the CPU steal of an epoch when it was large enough to
// explain a slower epoch (1% or more).
func stealNote(steal *float64) string {
	if steal == nil || *steal < 0.01 {
		return ""
	}
	return fmt.Sprintf(" (host CPU steal %.0f%%)", 100**steal)
}

// newEvalExec returns an inference graph giving the summed cross-entropy and
// the number of correct predictions of a batch.
func newEvalExec(cfg Config) (*model.Exec, error) {
	return model.NewExec(cfg.Backend, cfg.Store, func(scope *model.Scope, images, labels *graph.Node) []*graph.Node {
		logits := cfg.Model(scope, images)
		ce := loss.SparseCategoricalCrossEntropyLogits([]*graph.Node{labels}, []*graph.Node{logits})
		if ce.Shape().IsScalar() { // a batch mean: back to a sum
			ce = graph.MulScalar(ce, float64(logits.Shape().Dim(0)))
		}
		pred := graph.ConvertDType(graph.ArgMax(logits, -1), labels.DType())
		correct := graph.ReduceAllSum(graph.ConvertDType(graph.Equal(pred, graph.Reshape(labels, -1)), dtypes.Float32))
		return []*graph.Node{graph.ReduceAllSum(ce), correct}
	})
}

// Evaluate returns the mean cross-entropy and the accuracy of the model on a
// dataset, in inference mode.
func Evaluate(backend compute.Backend, store *model.Store, fn ModelFn, ds gomlxtrain.Dataset) (loss, accuracy float64, err error) {
	return EvaluateContext(context.Background(), backend, store, fn, ds)
}

// EvaluateContext is Evaluate stopping between batches when ctx is done.
func EvaluateContext(ctx context.Context, backend compute.Backend, store *model.Store, fn ModelFn, ds gomlxtrain.Dataset) (loss, accuracy float64, err error) {
	exec, err := newEvalExec(Config{Backend: backend, Store: store, Model: fn})
	if err != nil {
		return 0, 0, err
	}
	return evaluate(ctx, exec, ds)
}

func evaluate(ctx context.Context, exec *model.Exec, ds gomlxtrain.Dataset) (float64, float64, error) {
	lossSum, correct, n := 0.0, 0.0, 0
	for b, err := range ds.Iter() {
		if err != nil {
			return 0, 0, err
		}
		if err := ctx.Err(); err != nil {
			b.Finalize()
			return 0, 0, fmt.Errorf("evaluation %w", err)
		}
		outs, err := exec.Call(b.Inputs[0], b.Labels[0])
		if err != nil {
			return 0, 0, fmt.Errorf("evaluation: %w", err)
		}
		lossSum += float64(tensors.ToScalar[float32](outs[0]))
		correct += float64(tensors.ToScalar[float32](outs[1]))
		n += b.Inputs[0].Shape().Dim(0)
		b.Finalize()
		for _, o := range outs {
			o.MustFinalizeAll()
		}
	}
	if n == 0 {
		return 0, 0, errors.New("evaluation: empty dataset")
	}
	return lossSum / float64(n), correct / float64(n), nil
}
