//go:build unix

package report

import (
	"testing"
	"time"
)

// TestLockWaits: a second Lock of the same key waits (and says so) until
// the first is released; another key's lock is independent.
func TestLockWaits(t *testing.T) {
	dir := t.TempDir()
	k := Key{Preset: "quick", Table: "pact", Cell: "resnet18/pact:w4a4", Seed: 1, Data: "d"}
	release, err := Lock(dir, k, nil)
	if err != nil {
		t.Fatal(err)
	}
	other := k
	other.Seed = 2
	if r, err := Lock(dir, other, func() { t.Error("another key's lock waited") }); err != nil {
		t.Fatal(err)
	} else {
		r()
	}
	waited := make(chan bool, 1)
	got := make(chan time.Time, 1)
	go func() {
		r, err := Lock(dir, k, func() { waited <- true })
		if err != nil {
			t.Error(err)
		}
		got <- time.Now()
		r()
	}()
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("the second Lock did not report waiting")
	}
	time.Sleep(50 * time.Millisecond)
	released := time.Now()
	release()
	select {
	case at := <-got:
		if at.Before(released) {
			t.Error("the second Lock was granted before the first was released")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second Lock was not granted after the release")
	}
}
