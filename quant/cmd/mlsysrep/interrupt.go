package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// exitInterrupted is the exit status of a run stopped by Ctrl-C (128 +
// SIGINT, as shells report it).
const exitInterrupted = 130

// interruptContext returns a context that the first Ctrl-C (SIGINT, or a
// SIGTERM from a scheduler) cancels: training stops after its current step
// and keeps its last checkpoint. A second one exits at once. stop releases
// the signals.
func interruptContext(w io.Writer) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-signals:
			fmt.Fprintln(w, "\nmlsysrep: interrupt: stopping after the current step and keeping the last checkpoint (interrupt again to exit at once)")
			cancel()
		case <-done:
			return
		}
		select {
		case <-signals:
			fmt.Fprintln(w, "mlsysrep: second interrupt: exiting now (the last complete checkpoint and records are kept)")
			os.Exit(exitInterrupted)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(signals)
		close(done)
		cancel()
	}
}
