package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/pkg/train"
	"github.com/mlsysrep/mlsysrep/quant/recipe"
)

// mainArgsVar makes the test binary run main with the JSON-encoded
// arguments it holds: the interrupt test needs a process of its own to
// signal.
const mainArgsVar = "MLSYSREP_TEST_MAIN_ARGS"

func TestMain(m *testing.M) {
	if a := os.Getenv(mainArgsVar); a != "" {
		var args []string
		if err := json.Unmarshal([]byte(a), &args); err != nil {
			panic(err)
		}
		os.Args = append([]string{"mlsysrep"}, args...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestInterruptStopsWithinAStep: Ctrl-C in the middle of a training epoch
// (it was once ignored until the epoch ended) stops the runner within
// seconds with exit status 130, says what it kept, and keeps the previous
// epoch's checkpoint intact. (The quick preset on synthetic images: the
// smoke preset trains a single epoch.) That a resumed run reaches the
// uninterrupted result is pkg/train's TestInterruptKeepsCheckpointAndResumes.
func TestInterruptStopsWithinAStep(t *testing.T) {
	if testing.Short() {
		t.Skip("trains an epoch and a half; run without -short")
	}
	out := t.TempDir()
	cell := "resnet18/pact:w4a4"
	args, _ := json.Marshal([]string{"run", "-table", "pact", "-preset", "quick", "-cells", cell, "-data", "synthetic",
		"-out", out, "-backend", "purego:v2"})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), mainArgsVar+"="+string(args))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var sent time.Time
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if strings.HasPrefix(lines.Text(), "epoch 1/14:") { // epoch 1 done and checkpointed; epoch 2 starts
			time.Sleep(time.Second)
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			sent = time.Now()
			break
		}
	}
	go func() { // keep draining stdout so the child never blocks on it
		for lines.Scan() {
		}
	}()
	err = cmd.Wait()
	took := time.Since(sent)
	var exit *exec.ExitError
	if sent.IsZero() || !errors.As(err, &exit) || exit.ExitCode() != exitInterrupted {
		t.Fatalf("exit %v after the interrupt (sent: %v), want status %d; stderr:\n%s", err, !sent.IsZero(), exitInterrupted, stderr.String())
	}
	if took > 5*time.Second {
		t.Errorf("stopped %s after the interrupt, want within 5 s", took.Round(time.Millisecond))
	}
	key, err := recipe.CellKey("pact", recipe.Quick, cell, 1, "synthetic cifar10")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"interrupted", "the checkpoint after epoch 1 is kept in " + key.CheckpointDir(out), "run the same command again"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	var state struct {
		Completed int `json:"completed_epochs"`
	}
	if err := train.LoadCheckpoint(key.CheckpointDir(out), key.String(), model.NewStore(), &state); err != nil || state.Completed != 1 {
		t.Errorf("checkpoint after the interrupt: %v, completed %d epochs, want 1", err, state.Completed)
	}
}
