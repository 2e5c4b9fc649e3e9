package engine

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/gomlx/compute"
)

// ProfileEnvVar names the environment variable that turns the profiler on:
// MLSYSREP_ENGINE_PROFILE=N prints, to standard error, the time per op type
// of the N-th execution of each graph (N >= 1; use 2 or more to skip the
// first, cold step), running each stock op alone to time it;
// MLSYSREP_ENGINE_PROFILE=N:segments keeps the normal plan and times its
// steps (stock segments and native kernels) instead;
// MLSYSREP_ENGINE_PROFILE=N:shapes does the same with one row per op and
// input shapes for native ops and stock ops alone in a step (which
// convolution layer is slow).
const ProfileEnvVar = "MLSYSREP_ENGINE_PROFILE"

// profileOut is where tables go (tests redirect it).
var profileOut io.Writer = os.Stderr

// profileStep reads ProfileEnvVar: the execution to print (0 when profiling
// is off) and whether stock ops are split one per segment.
func profileStep() int {
	n, _ := profileSetting()
	return n
}

// profilePerOp says whether the profiler splits stock ops one per segment.
func profilePerOp() bool {
	n, mode := profileSetting()
	return n > 0 && mode == ""
}

// profileByShape says whether native steps are told apart by input shapes.
func profileByShape() bool {
	_, mode := profileSetting()
	return mode == "shapes"
}

func profileSetting() (step int, mode string) {
	v := os.Getenv(ProfileEnvVar)
	if v == "" {
		return 0, ""
	}
	num, mode, _ := strings.Cut(v, ":")
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || (mode != "" && mode != "segments" && mode != "shapes") {
		warnOnce.Do(func() {
			fmt.Fprintf(os.Stderr, "engine: %s=%q is not N, N:segments or N:shapes with N >= 1; profiling is off\n", ProfileEnvVar, v)
		})
		return 0, ""
	}
	return n, mode
}

var warnOnce sync.Once

// profiler counts the executions of one graph and prints one of them.
type profiler struct {
	graph string
	mu    sync.Mutex
	runs  int
}

func newProfiler(graph string) *profiler { return &profiler{graph: graph} }

// profileRun collects the times of one execution.
type profileRun struct {
	prof  *profiler
	index int
	total time.Duration
	byOp  map[string]*opTime
	// byShape: one row per native op and input shapes.
	byShape bool
	// misses and missBytes: the pool's counters when the execution began.
	misses, missBytes int64
}

type opTime struct {
	op    string
	count int
	time  time.Duration
}

func (p *profiler) start() *profileRun {
	p.mu.Lock()
	p.runs++
	index := p.runs
	p.mu.Unlock()
	if index != profileStep() {
		return nil
	}
	return &profileRun{prof: p, index: index, byOp: map[string]*opTime{}, byShape: profileByShape(),
		misses: poolMisses.Load(), missBytes: poolMissBytes.Load()}
}

// inputShapes lists the shapes of a step's inputs, for the profiler.
func inputShapes(in []compute.Buffer) string {
	var sb strings.Builder
	for _, buf := range in {
		if s, err := buf.Shape(); err == nil {
			sb.WriteString(" " + s.String())
		}
	}
	return sb.String()
}

func (r *profileRun) add(st *step, in []compute.Buffer, d time.Duration) {
	op := strings.Join(st.ops, "+")
	switch {
	case st.native != nil && r.byShape:
		if d, ok := st.native.(interface{ describe() string }); ok {
			op += " " + d.describe()
		}
		op += " (native)" + inputShapes(in)
	case st.native != nil:
		op += " (native)"
	case len(st.ops) > 1:
		op = "stock segment"
	case r.byShape:
		op += inputShapes(in)
	}
	t := r.byOp[op]
	if t == nil {
		t = &opTime{op: op}
		r.byOp[op] = t
	}
	t.count++
	t.time += d
	r.total += d
}

// done prints the table, longest first, and what the buffer pool holds.
func (r *profileRun) done(pool *bufferPool) {
	ops := make([]*opTime, 0, len(r.byOp))
	for _, t := range r.byOp {
		ops = append(ops, t)
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].time > ops[j].time })
	how := "each stock op run alone"
	if !profilePerOp() {
		how = "steps of the normal plan"
	}
	fmt.Fprintf(profileOut, "engine profile: graph %q, execution %d: %.2f ms in %d op types (%s)\n",
		r.prof.graph, r.index, ms(r.total), len(ops), how)
	w := tabwriter.NewWriter(profileOut, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "op\tcount\tms\t%\t")
	for _, t := range ops {
		fmt.Fprintf(w, "%s\t%d\t%.3f\t%.1f\t\n", t.op, t.count, ms(t.time), 100*float64(t.time)/float64(max(r.total, 1)))
	}
	_ = w.Flush()
	n, bytes := pool.stats()
	fmt.Fprintf(profileOut, "engine profile: %d buffers (%.1f MB) newly allocated by the engine in this execution; %d dead buffers (%.1f MB) parked for reuse after it\n",
		poolMisses.Load()-r.misses, float64(poolMissBytes.Load()-r.missBytes)/1e6, n, float64(bytes)/1e6)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
