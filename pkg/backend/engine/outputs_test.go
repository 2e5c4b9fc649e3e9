package engine

import (
	"errors"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// TestFinalizedOutputsAreReused: an output the caller finalizes is parked for
// the next execution's output of its shape, so from the second execution on
// nothing is allocated afresh (before, a 3x3 convolution benchmark paid 8 ms
// of its 28 ms for fresh outputs), and the values stay right.
func TestFinalizedOutputsAreReused(t *testing.T) {
	withTestAdd(t)
	exec, err := graph.NewExec(mustNew(t, ""), func(x, y *graph.Node) *graph.Node {
		return graph.Add(x, y) // native: its output is the graph's
	})
	if err != nil {
		t.Fatal(err)
	}
	x := tensors.FromValue([]float32{1, 2, 3, 4})
	for i := range 4 {
		before := poolMisses.Load()
		outs, err := exec.Call(x, x)
		if err != nil {
			t.Fatal(err)
		}
		if got := outs[0].Value().([]float32); got[0] != 2 || got[3] != 8 {
			t.Fatalf("execution %d: x+x = %v", i+1, got)
		}
		if misses := poolMisses.Load() - before; i > 0 && misses != 0 {
			t.Errorf("execution %d allocated %d outputs afresh, want 0 (the finalized one reused)", i+1, misses)
		}
		outs[0].MustFinalizeAll()
	}
}

// TestReleasedOutputsRefuseUse: an output finalized or donated belongs to the
// engine again, so it can never be handed out twice: a second Finalize, its
// Data, and passing it to an execution are errors; a donated output
// finalized afterwards is not parked a second time; the caller's own buffers
// are finalized, never parked.
func TestReleasedOutputsRefuseUse(t *testing.T) {
	withTestAdd(t)
	b := mustNew(t, "")
	shape := shapes.Make(dtypes.Float32, 3)
	parked := func() int {
		b.pool.mu.Lock()
		defer b.pool.mu.Unlock()
		return len(b.pool.byShape[keyOf(shape)])
	}
	builder := b.Builder("add")
	fn := builder.Main()
	px, err := fn.Parameter("x", shape, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := fn.Add(px, px)
	if err != nil {
		t.Fatal(err)
	}
	if err := fn.Return([]compute.Value{sum}, nil); err != nil {
		t.Fatal(err)
	}
	exe, err := builder.Compile()
	if err != nil {
		t.Fatal(err)
	}
	input, err := b.BufferFromFlatData(0, []float32{1, 2, 3}, shape)
	if err != nil {
		t.Fatal(err)
	}
	run := func(in compute.Buffer, donate bool) (compute.Buffer, error) {
		outs, err := exe.Execute([]compute.Buffer{in}, []bool{donate}, 0)
		if err != nil {
			return nil, err
		}
		return outs[0], nil
	}

	out, err := run(input, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Finalize(); err != nil {
		t.Fatalf("first Finalize: %v", err)
	}
	if n := parked(); n != 1 {
		t.Fatalf("%d buffers parked after the output was finalized, want 1", n)
	}
	if err := out.Finalize(); !errors.Is(err, errReleased) {
		t.Errorf("second Finalize: %v, want %v", err, errReleased)
	}
	if _, err := out.Data(); !errors.Is(err, errReleased) {
		t.Errorf("Data of a finalized output: %v, want %v", err, errReleased)
	}
	if err := out.ToFlatData(make([]float32, 3)); !errors.Is(err, errReleased) {
		t.Errorf("ToFlatData of a finalized output: %v, want %v", err, errReleased)
	}
	if _, err := run(out, false); !errors.Is(err, errReleased) {
		t.Errorf("a finalized output as input: %v, want %v", err, errReleased)
	}
	if n := parked(); n != 1 {
		t.Fatalf("%d buffers parked after the refused uses, want still 1", n)
	}

	// Donated: the engine owns it and parks it after its last use; the
	// caller's late Finalize must not park it again.
	out, err = run(input, false)
	if err != nil {
		t.Fatal(err)
	}
	next, err := run(out, true)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := next.Data(); err != nil || got.([]float32)[2] != 12 {
		t.Fatalf("(x+x)+(x+x) = %v, %v; want [4 8 12]", got, err)
	}
	before := parked()
	if err := out.Finalize(); !errors.Is(err, errReleased) {
		t.Errorf("Finalize of a donated output: %v, want %v", err, errReleased)
	}
	if n := parked(); n != before {
		t.Errorf("a donated output was parked again by its Finalize: %d parked, was %d", n, before)
	}

	// The caller's own buffer goes to engine v1, never to the pool.
	before = parked()
	if err := input.Finalize(); err != nil {
		t.Fatal(err)
	}
	if n := parked(); n != before {
		t.Errorf("the caller's buffer was parked: %d parked, was %d", n, before)
	}

	// The caller's own buffer, donated: the engine owns it (here it is
	// parked after its last use, then the next output); the caller's late
	// Finalize must leave it alone.
	mine, err := b.BufferFromFlatData(0, []float32{1, 2, 3}, shape)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(mine, true); err != nil {
		t.Fatal(err)
	}
	if err := mine.Finalize(); !errors.Is(err, errReleased) {
		t.Errorf("Finalize of a donated buffer of the caller's: %v, want %v", err, errReleased)
	}
	for i := range 3 { // every parked buffer still works
		out, err := run(next, false)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := out.Data(); err != nil || got.([]float32)[2] != 24 {
			t.Fatalf("run %d after the late Finalize: %v, %v; want [8 16 24]", i, got, err)
		}
		if err := out.Finalize(); err != nil {
			t.Fatal(err)
		}
	}
}
