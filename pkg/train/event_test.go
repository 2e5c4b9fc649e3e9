package train

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/ml/model"
)

// TestEvents: a run reports every ProgressEvery steps and the last of an
// epoch, then the epoch (its record as in the history), and a resumed run
// says where it resumed; a run with only Progress gets exactly the
// reports' lines.
func TestEvents(t *testing.T) {
	dir := t.TempDir()
	run := func(epochs int, events func(Event), progress *bytes.Buffer) *History {
		store := model.NewStore()
		store.SetRNGStateFromSeed(5)
		cfg := Config{Backend: backend(t), Store: store, Model: toyModel,
			Train: &toyData{n: 32, batch: 8}, Eval: &toyData{n: 16, batch: 8, fixed: true},
			Epochs: epochs, Optimizer: SGD{Momentum: 0.9}, Schedule: MultiStep{Base: 0.1},
			CheckpointDir: dir, CheckpointKey: toyKey, ProgressEvery: 3, Events: events}
		if progress != nil {
			cfg.Progress = progress
		}
		h, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	var got []Event
	h := run(1, func(e Event) { got = append(got, e) }, nil)
	// 4 steps per epoch: reports after steps 3 and 4 (the last), then the epoch.
	if len(got) != 3 || got[0].Kind != StepDone || got[0].Step != 3 || got[1].Step != 4 || got[1].Steps != 4 ||
		got[2].Kind != EpochDone || got[2].Result.TestLoss != h.Epochs[0].TestLoss {
		t.Fatalf("events %+v", got)
	}
	if line := got[0].Line(); !strings.HasPrefix(line, "epoch 1/1 step 3/4 loss ") || !strings.Contains(line, " images/s ETA ") {
		t.Errorf("step line %q", line)
	}
	if line := got[2].Line(); !strings.HasPrefix(line, "epoch 1/1: lr 0.1, train loss ") {
		t.Errorf("epoch line %q", line)
	}
	var out bytes.Buffer
	var again []Event
	run(2, func(e Event) { again = append(again, e) }, &out) // Events set: Progress gets no report
	if len(again) == 0 || again[0].Kind != Resumed || again[0].Epoch != 1 || again[0].Line() != "resuming after epoch 1 from "+dir {
		t.Fatalf("resumed run's first event %+v", again)
	}
	if out.Len() != 0 {
		t.Errorf("reports written to Progress while Events takes them: %q", out.String())
	}
	run(3, nil, &out) // resumes after epoch 2; the lines only
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || lines[0] != "resuming after epoch 2 from "+dir || !strings.HasPrefix(lines[1], "epoch 3/3 step 3/4 ") ||
		!strings.HasPrefix(lines[3], "epoch 3/3: lr 0.1") {
		t.Errorf("progress lines %q", lines)
	}
	if e := (Event{Kind: StepDone, Epoch: 1, Epochs: 2, Step: 5, Loss: 1.5, ImagesPerSecond: 10}); e.Line() != "epoch 1/2 step 5/0 loss 1.5000 10.0 images/s" {
		t.Errorf("step line without a known step count: %q", e.Line())
	}
	if e := (Event{Kind: StepDone, Epoch: 1, Epochs: 2, Step: 5, Steps: 9, Loss: 1.5, ImagesPerSecond: 10, ETA: 1500 * time.Millisecond}); !strings.HasSuffix(e.Line(), " ETA 2s") {
		t.Errorf("ETA not rounded to the second: %q", e.Line())
	}
}
