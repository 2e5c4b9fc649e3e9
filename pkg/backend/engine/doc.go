// Package engine is mlsysrep's graph executor (engine v2, the backend the
// name "purego" selects, also "purego:v2"): it records the
// whole graph GoMLX builds, plans it, runs its own native kernels for the hot
// ops and hands every other op to the v1 engine (package purego: GoMLX's Go
// backend plus im2col convolutions and batch-norm ops).
//
// How a graph runs:
//
//  1. Recording. Every op GoMLX emits is emitted on a shadow v1 builder at once
//     (which validates it and gives its shape) and recorded as a node. The
//     recording methods are generated from compute.Function itself
//     (ops_gen.go), so no op can be missed.
//  2. Planning. At Compile the readers of an Identity (a StopGradient) read
//     its operand instead, so that no copy is made (alias.go); then the
//     nodes are scheduled so that the ops without a
//     native kernel form as few maximal stock segments as possible; each
//     segment is replayed into its own v1 builder and compiled once. Native
//     nodes run kernels from pkg/backend/kernels on the segments' buffers,
//     without copies (a stock buffer's Data is its storage). Trees of
//     element-wise ops become one native program each (fuse.go); a short
//     chain several trees read is recomputed in each of them rather than
//     stored, and GoMLX's indicator idioms of every clip's gradient become
//     one masked multiply (kernels.Program.Simplify: the same bits). A
//     batch norm read only by such programs leaves its normalization to
//     them (batchnorm_epilogue.go), and a batch-norm gradient runs the
//     program that makes its input chunk by chunk (batchnorm_gradinput.go).
//     A graph with boolean flag parameters choosing a value with Where
//     (LSQ's step_initialized) gets a second plan with every flag true,
//     which drops the branch not taken (flags.go).
//  3. Execution. Each execution runs the plan its flags choose. Buffers are
//     parked in the engine's pool after their last use, for the next
//     native output of their shape (pool.go); none is donated to a stock
//     segment, which would drop it.
//
// A graph the planner cannot take (closures: While, If, Call, Sort) or with no
// native op at all is compiled whole by the shadow builder: exactly the v1
// engine. MLSYSREP_ENGINE_PROFILE=N prints, for the N-th execution of each
// graph, a table of time per op type; it runs every stock op as its own
// segment to time it, so it is slower than a normal run.
package engine

//go:generate go run ./internal/gen
