package recipe

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/mlsysrep/mlsysrep/pkg/backend"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
	"github.com/mlsysrep/mlsysrep/pkg/report"
)

// TestConcurrentTasksTrainACellOnce: two tasks (Slurm array tasks, say)
// running the same cell into one folder at once: one trains it, the other
// waits for its lock and reuses the record.
func TestConcurrentTasksTrainACellOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny smoke model; run without -short")
	}
	be, err := backend.TestEngine()
	if err != nil {
		t.Fatal(err)
	}
	const table, cell = "lock-test", "resnet18/fp"
	Register(&Table{Name: table, Layout: report.Layout{Title: table, Corner: "-",
		Rows: []string{"-"}, Columns: []string{"-"}, Cells: [][]string{{cell}}},
		Recipe: func(Preset, Model, quant.Config) (Spec, error) {
			return Spec{Width: 0.125, Blocks: 1, TrainImages: 64, TestImages: 32, Epochs: 2, Batch: 32, LR: 0.1}, nil
		}})
	out := t.TempDir()
	var wg sync.WaitGroup
	logs := make([]bytes.Buffer, 2)
	for i := range logs {
		wg.Go(func() {
			_, err := Run(context.Background(), Options{Table: table, Preset: Smoke, Data: DataOptions{Source: "synthetic"},
				Out: out, Backend: be, BackendName: "purego", Seed: 1, Progress: &syncWriter{w: &logs[i]}})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	trained, reused := 0, 0
	for i := range logs {
		s := logs[i].String()
		if strings.Contains(s, "epoch 2/2:") {
			trained++
		}
		if strings.Contains(s, "reusing the complete record") {
			reused++
		}
	}
	if trained != 1 || reused != 1 {
		t.Errorf("%d tasks trained the cell and %d reused it, want 1 and 1:\n%s\n---\n%s", trained, reused, logs[0].String(), logs[1].String())
	}
}

// syncWriter serializes writes (each task writes its own, but the loop and
// the recipe both write to it).
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
