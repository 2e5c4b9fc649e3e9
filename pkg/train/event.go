package train

import (
	"fmt"
	"time"
)

// Event is one progress report of a training run, for whoever shows it:
// the runner prints each as its Line, a notebook shows the step reports in
// one line that updates in place. Reports are typed values, so no reader
// has to parse the text.
type Event struct {
	Kind EventKind
	// Epoch is the 1-based epoch of a StepDone or EpochDone report; Epochs
	// the run's number of epochs.
	Epoch, Epochs int
	// Step is how many steps of the epoch are done (StepDone), Steps how many
	// an epoch has (0 when the data does not say).
	Step, Steps int
	// Loss is the last step's loss (StepDone).
	Loss float64
	// ImagesPerSecond is the run's training throughput so far (StepDone).
	ImagesPerSecond float64
	// ETA is the training time left for the run (StepDone; only when Steps
	// is known).
	ETA time.Duration
	// Result is the finished epoch (EpochDone).
	Result Epoch
	// Dir is the checkpoint folder a run resumed from, after epoch Epoch
	// (Resumed).
	Dir string
}

// EventKind says what an Event reports.
type EventKind int

const (
	// StepDone: a step, every ProgressEvery steps and the last of an epoch.
	StepDone EventKind = iota
	// EpochDone: an epoch trained and evaluated.
	EpochDone
	// Resumed: the run continues after the checkpoint of epoch Epoch.
	Resumed
)

// Line is the event as the runner prints it (no newline).
func (e Event) Line() string {
	switch e.Kind {
	case StepDone:
		eta := ""
		if e.Steps > 0 {
			eta = " ETA " + e.ETA.Round(time.Second).String()
		}
		return fmt.Sprintf("epoch %d/%d step %d/%d loss %.4f %.1f images/s%s", e.Epoch, e.Epochs, e.Step, e.Steps,
			e.Loss, e.ImagesPerSecond, eta)
	case EpochDone:
		r := e.Result
		return fmt.Sprintf("epoch %d/%d: lr %g, train loss %.4f, test loss %.4f, test accuracy %.2f%%, %.1f images/s%s",
			r.Epoch, e.Epochs, r.LR, r.TrainLoss, r.TestLoss, 100*r.TestAccuracy, float64(r.Images)/r.Seconds, stealNote(r.CPUSteal))
	case Resumed:
		return fmt.Sprintf("resuming after epoch %d from %s", e.Epoch, e.Dir)
	}
	return fmt.Sprintf("training event %d", e.Kind)
}

// emit hands an event to the run's Events, or writes its line to Progress.
func (cfg *Config) emit(e Event) {
	switch {
	case cfg.Events != nil:
		cfg.Events(e)
	case cfg.Progress != nil:
		fmt.Fprintln(cfg.Progress, e.Line())
	}
}
