package engine

import (
	"bytes"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/mlsysrep/mlsysrep/pkg/backend/purego"
)

// withTestAdd makes Add native (the test kernel) for one test.
func withTestAdd(t *testing.T) {
	natives["Add"] = addKernelFor
	t.Cleanup(func() { delete(natives, "Add") })
}

// TestPlanBuffers runs a graph split into stock segments and native steps
// twice on the same inputs: the results must be right both times, and the
// caller's (non-donated) input buffers must survive, unchanged.
func TestPlanBuffers(t *testing.T) {
	withTestAdd(t)
	b := mustNew(t, "")
	exec, err := graph.NewExec(b, func(x, y *graph.Node) []*graph.Node {
		s := graph.Add(x, y)                  // native
		p := graph.Mul(s, x)                  // stock, reads a native output and a parameter
		q := graph.Add(p, y)                  // native
		return []*graph.Node{q, graph.Neg(s)} // s is read by two later steps
	})
	if err != nil {
		t.Fatal(err)
	}
	x := tensors.FromValue([]float32{1, 2, 3})
	y := tensors.FromValue([]float32{10, 20, 30})
	for run := range 2 {
		outs, err := exec.Call(x, y)
		if err != nil {
			t.Fatal(err)
		}
		q, negS := outs[0].Value().([]float32), outs[1].Value().([]float32)
		for i, want := range []float32{21, 64, 129} { // (x+y)*x + y
			if q[i] != want {
				t.Errorf("run %d: q[%d] = %v, want %v", run, i, q[i], want)
			}
		}
		for i, want := range []float32{-11, -22, -33} {
			if negS[i] != want {
				t.Errorf("run %d: -s[%d] = %v, want %v", run, i, negS[i], want)
			}
		}
	}
	if got := x.Value().([]float32); got[0] != 1 || got[2] != 3 {
		t.Errorf("input x changed: %v", got)
	}
}

// TestPlanFallback: a graph with a Sort (a closure) is compiled whole by the
// v1 engine, says so under the profiler, and computes the same.
func TestPlanFallback(t *testing.T) {
	withTestAdd(t)
	t.Setenv(ProfileEnvVar, "1")
	var profile bytes.Buffer
	profileOut = &profile
	defer func() { profileOut = os.Stderr }()
	exec, err := graph.NewExec(mustNew(t, ""), func(x *graph.Node) []*graph.Node {
		return []*graph.Node{graph.Sort(x, 0, true), graph.Add(x, x)}
	})
	if err != nil {
		t.Fatal(err)
	}
	outs, err := exec.Call(tensors.FromValue([]float32{2, 1}))
	if err != nil {
		t.Fatal(err)
	}
	if got := outs[1].Value().([]float32); got[0] != 4 || got[1] != 2 {
		t.Errorf("x+x = %v", got)
	}
	if got := outs[0].Value().([]float32); got[0] != 1 || got[1] != 2 {
		t.Errorf("sorted x = %v", got)
	}
	if !strings.Contains(profile.String(), "runs whole on the v1 engine (closure)") {
		t.Errorf("profile output does not name the fallback:\n%s", profile.String())
	}
}

// TestPlanRepeatedAndParameterOutputs: a graph that returns one value twice
// (as a trainer does when one node updates several variables) and returns a
// parameter is planned (no fallback), and each output is a buffer of its
// own: finalizing one leaves the others and the caller's input intact.
func TestPlanRepeatedAndParameterOutputs(t *testing.T) {
	withTestAdd(t)
	before := addRuns
	exec, err := graph.NewExec(mustNew(t, ""), func(x, y *graph.Node) []*graph.Node {
		s := graph.Add(x, y) // native
		return []*graph.Node{s, x, s, graph.Neg(s), s}
	})
	if err != nil {
		t.Fatal(err)
	}
	x := tensors.FromValue([]float32{1, 2})
	y := tensors.FromValue([]float32{10, 20})
	for run := range 2 {
		outs, err := exec.Call(x, y)
		if err != nil {
			t.Fatal(err)
		}
		outs[0].MustFinalizeAll()
		for i, want := range map[int][]float32{1: {1, 2}, 2: {11, 22}, 3: {-11, -22}, 4: {11, 22}} {
			if got := outs[i].Value().([]float32); got[0] != want[0] || got[1] != want[1] {
				t.Errorf("run %d: output %d = %v, want %v", run, i, got, want)
			}
		}
		outs[2].MustFinalizeAll()
		if got := outs[4].Value().([]float32); got[0] != 11 {
			t.Errorf("run %d: output 4 = %v after output 2 was freed", run, got)
		}
	}
	if addRuns-before != 2 {
		t.Errorf("%d native adds ran, want 2 (the graph was not planned)", addRuns-before)
	}
	if got := x.Value().([]float32); got[0] != 1 || got[1] != 2 {
		t.Errorf("input x changed: %v", got)
	}
}

// TestSchedule checks the planner groups ready stock ops into one segment:
// two independent stock chains around one native op make 3 steps, not 5.
func TestSchedule(t *testing.T) {
	withTestAdd(t)
	b := mustNew(t, "")
	var steps int
	exec, err := graph.NewExec(b, func(x, y *graph.Node) []*graph.Node {
		a := graph.Neg(x)    // stock
		s := graph.Add(a, y) // native
		c := graph.Abs(y)    // stock, independent: joins the first segment
		d := graph.Mul(s, c) // stock, after the native op
		return []*graph.Node{d}
	})
	if err != nil {
		t.Fatal(err)
	}
	compiledHook = func(p *plan) { steps = len(p.steps) }
	defer func() { compiledHook = nil }()
	if _, err := exec.Call(tensors.FromValue([]float32{1}), tensors.FromValue([]float32{-2})); err != nil {
		t.Fatal(err)
	}
	if steps != 3 {
		t.Errorf("plan has %d steps, want 3 (stock, native, stock)", steps)
	}
}

// TestConstantsStayInSegment: a segment computes the constants it reads
// itself, so the v1 engine sees the same graph as when it runs whole. It
// matters beyond speed: the v1 engine's Max against a broadcast zero treats
// NaN differently from Max against a buffer of zeros, and training loops rely
// on a NaN reaching the loss.
func TestConstantsStayInSegment(t *testing.T) {
	withTestAdd(t)
	v1, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	run := func(b compute.Backend) []float32 {
		exec, err := graph.NewExec(b, func(x, y *graph.Node) *graph.Node {
			s := graph.Add(x, y) // native on v2: the zeros below are made before it, in another segment
			return graph.Max(s, graph.ZerosLike(x))
		})
		if err != nil {
			t.Fatal(err)
		}
		nan := float32(math.NaN())
		out, err := exec.Call(tensors.FromValue([]float32{nan, 1, -1, nan}), tensors.FromValue([]float32{0, 1, -1, 2}))
		if err != nil {
			t.Fatal(err)
		}
		return out[0].Value().([]float32)
	}
	want, got := run(v1), run(mustNew(t, ""))
	if addRuns == 0 {
		t.Fatal("the native Add never ran")
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Errorf("Max(x+y, 0) = %v, v1 %v", got, want)
			break
		}
	}
	t.Logf("Max(x+y, 0) = %v on both engines", got)
}

// TestPoolLetsIdleShapesGo: dead buffers are parked for the next execution,
// and those of a shape no execution has used for poolIdleExecutions
// executions (an evaluation batch's while training) are let go.
func TestPoolLetsIdleShapesGo(t *testing.T) {
	withTestAdd(t)
	b := mustNew(t, "")
	exec, err := graph.NewExec(b, func(x, y *graph.Node) *graph.Node {
		return graph.Neg(graph.Add(x, y)) // the native sum dies inside the graph
	})
	if err != nil {
		t.Fatal(err)
	}
	parked := func(n int) int {
		b.pool.mu.Lock()
		defer b.pool.mu.Unlock()
		return len(b.pool.byShape[keyOf(shapes.Make(dtypes.Float32, n))])
	}
	run := func(n int) {
		t.Helper()
		x := make([]float32, n)
		if _, err := exec.Call(x, x); err != nil {
			t.Fatal(err)
		}
	}
	run(3)
	if parked(3) == 0 {
		t.Fatal("no buffer of shape [3] parked after an execution")
	}
	for i := range poolIdleExecutions + 1 {
		run(5)
		if i < poolIdleExecutions-1 && parked(3) == 0 {
			t.Fatalf("shape [3] let go after %d other executions, before %d", i+1, poolIdleExecutions)
		}
	}
	if parked(3) != 0 {
		t.Errorf("%d buffers of shape [3] still parked after %d executions without it", parked(3), poolIdleExecutions+1)
	}
	if parked(5) == 0 {
		t.Error("no buffer of shape [5], in use, parked")
	}
}

// TestPoolKeepsOnlyWhatIsTaken: buffers parked but never taken (a donated
// variable whose update a stock segment writes elsewhere) do not pile up
// from one execution to the next: the pool keeps per shape no more than one
// execution took.
func TestPoolKeepsOnlyWhatIsTaken(t *testing.T) {
	b := mustNew(t, "")
	shape := shapes.Make(dtypes.Float32, 7)
	parked := func() int {
		b.pool.mu.Lock()
		defer b.pool.mu.Unlock()
		return len(b.pool.byShape[keyOf(shape)])
	}
	cycle := func(take, put int) {
		t.Helper()
		var bufs []compute.Buffer
		for range take {
			buf, _, err := b.pool.get(b, shape)
			if err != nil {
				t.Fatal(err)
			}
			bufs = append(bufs, buf)
		}
		for range put - take {
			buf, _, err := b.inner.NewSharedBuffer(0, shape) // made elsewhere, dead here
			if err != nil {
				t.Fatal(err)
			}
			bufs = append(bufs, buf)
		}
		for _, buf := range bufs {
			b.pool.put(buf)
		}
		b.pool.executed()
	}
	for range 5 {
		cycle(0, 3)
	}
	if n := parked(); n != 0 {
		t.Errorf("%d buffers parked that no execution took", n)
	}
	for range 5 {
		cycle(2, 5)
		if n := parked(); n != 2 {
			t.Fatalf("%d buffers parked, want the 2 an execution takes", n)
		}
	}
}

// TestNativeOutputsReadByStockAreReused: a native output whose last reader is
// a stock segment comes back to the pool, so that from the second execution
// on no native output is a fresh allocation. (Donated to the segment, engine
// v1 dropped it to the garbage collector: 570 MB of fresh memory a step in
// LSQ MobileNetV2's training.)
func TestNativeOutputsReadByStockAreReused(t *testing.T) {
	withTestAdd(t)
	b := mustNew(t, "")
	exec, err := graph.NewExec(b, func(x, y *graph.Node) *graph.Node {
		return graph.Neg(graph.Add(x, y)) // the native sum is read last by the stock Neg
	})
	if err != nil {
		t.Fatal(err)
	}
	// A tensor the caller keeps: the graph owns no input buffer whose
	// reuse could hide the lost output.
	x := tensors.FromValue([]float32{1, 2, 3, 4})
	for i := range 3 {
		before := poolMisses.Load()
		out, err := exec.Call(x, x)
		if err != nil {
			t.Fatal(err)
		}
		if got := out[0].Value().([]float32); got[3] != -8 {
			t.Fatalf("execution %d: -(x+x) = %v", i+1, got)
		}
		if misses := poolMisses.Load() - before; i > 0 && misses != 0 {
			t.Errorf("execution %d allocated %d native outputs afresh, want 0 (all reused)", i+1, misses)
		}
	}
}
