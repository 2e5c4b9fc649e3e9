package engine

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gomlx/compute"
	"github.com/mlsysrep/mlsysrep/pkg/backend/kernels"
)

// Batch-norm gradients that compute their input: in MobileNetV2 the
// gradient a batch norm receives is what a fused program wrote just before
// (the ReLU6 gradient mask times the output gradient; with a quantizer, its
// straight-through gradient too), and only the batch norm reads it. Run as
// two nodes, the program reads its operands and writes dy, and the batch
// norm reads dy and x twice (its sums, then dx). inlineBatchNormGradInputs
// gives such a batch norm the program instead
// (kernels.BatchNorm.GradFilling): each worker runs it on a chunk of 64
// rows into a buffer of its own, once before the sums read that chunk and
// once before dx does, so dy is never written to memory or read back, and
// x is in cache when the sums and dx read it. The program computes every
// element as the fused node did (ProgramRunner), and the sums add the same
// values in the same order: the same bits. (With the program in the
// interpreter, computing it twice cost more than the memory pass it saves,
// BENCHMARKS.md's sixteenth session; the ReLU6 mask now runs in registers,
// kernels/elementwise_clip.go.)
// MLSYSREP_ENGINE_OFF=BatchNormGradInput keeps the program's own pass.

// gradInputOff is the op name MLSYSREP_ENGINE_OFF takes to keep the
// programs that batch-norm gradients read as nodes of their own.
const gradInputOff = "BatchNormGradInput"

// bnGradFillRuns counts the batch-norm gradients that ran their input's
// program (tests check the rewrite took place).
var bnGradFillRuns atomic.Int64

// bnGradFillKernel is a batch-norm gradient whose output gradient is
// computed by prog: its inputs are the gradient's first four (operand,
// scale, mean, variance) and then the program's.
type bnGradFillKernel struct {
	bn   kernels.BatchNorm
	prog *kernels.Program
	ops  string // the program's ops, for the profiler
}

// describe tells the profiler's rows by shape which program a gradient runs.
func (k *bnGradFillKernel) describe() string { return k.ops }

// inlineBatchNormGradInputs rewrites each native batch-norm gradient whose
// output gradient only it reads and a fused program of the operand's shape
// writes (see above). It runs after inlineBatchNormOutputs.
func inlineBatchNormGradInputs(b *builder) {
	if listed(OffEnvVar, gradInputOff) {
		return
	}
	returned := returnedSlots(b)
	live := liveNodes(b)
	readBy := slotReaders(live)
	replace := make(map[*node]*node)
	for _, n := range live {
		k, ok := n.native.(*bnKernel)
		if !ok || !k.grad || len(n.inputs) != 5 {
			continue
		}
		x, g := n.inputs[0], n.inputs[4]
		f := b.slots[g].producer
		if f == nil || len(readBy[g]) != 1 || returned[g] || slices.Contains(n.inputs[:4], g) {
			continue
		}
		fk, ok := f.native.(*fusedKernel)
		if !ok || fk.prog.Size != k.bn.Rows*k.bn.C || !slices.Equal(b.slots[g].shape.Dimensions, b.slots[x].shape.Dimensions) {
			continue
		}
		if slices.Contains(fk.gen, true) {
			continue // it would draw its random bits twice per element (GradFilling fills each chunk twice)
		}
		prog := fk.prog
		replace[n] = &node{op: n.op, args: n.args, inputs: append(slices.Clone(n.inputs[:4]), f.inputs...),
			outs: slices.Clone(n.outs), order: n.order,
			native: &bnGradFillKernel{bn: k.bn, prog: &prog, ops: fk.describe()}}
	}
	replaceNodes(b, replace)
}

func (k *bnGradFillKernel) run(b *Backend, in []compute.Buffer) ([]compute.Buffer, error) {
	flats := make([][]float32, 4)
	for i := range flats {
		var err error
		if flats[i], err = flat32(in[i]); err != nil {
			return nil, err
		}
	}
	args, err := b.programInputs(in[4:], nil) // no input drawn: see inlineBatchNormGradInputs
	defer args.release()
	if err != nil {
		return nil, err
	}
	outs, data, err := b.bnOutputs(in[0], in[1])
	if err != nil {
		return nil, err
	}
	var (
		mu      sync.Mutex
		runners []*kernels.ProgramRunner
	)
	k.bn.GradFilling(data[0], data[1], data[2], flats[0], flats[1], flats[2], flats[3], func() func(dst []float32, lo, hi int) {
		r := k.prog.RunnerWith(args.inputs, args.sources())
		mu.Lock()
		runners = append(runners, r)
		mu.Unlock()
		return func(dst []float32, lo, hi int) { r.Run(dst, lo, hi) }
	}, runtime.GOMAXPROCS(0))
	for _, r := range runners {
		r.Release()
	}
	bnRuns.Add(1)
	bnGradFillRuns.Add(1)
	return outs, nil
}
