package engine

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/mlsysrep/mlsysrep/pkg/backend/purego"
)

// TestPCGSource fills ranges of a draw from a pcgSource, in runs that
// continue one another and in runs that start anywhere (odd elements
// included), and requires float32 of the uint32 values the stored draw
// (fillRandomBytes) holds there.
func TestPCGSource(t *testing.T) {
	const n = 1001
	bytes := make([]byte, 4*n)
	fillRandomBytes(bytes, rand.NewPCG(9, 10))
	want := make([]float32, n)
	for i := range want {
		want[i] = float32(binary.LittleEndian.Uint32(bytes[4*i:]))
	}
	for _, runs := range [][][2]int{
		{{0, n}},
		{{0, 8}, {8, 1024 - 8}},                  // consecutive: no jump
		{{1, 2}, {3, 5}, {8, 1}, {9, 0}, {9, 7}}, // odd starts and ends
		{{500, 3}, {0, 3}, {999, 2}, {2, 998}},   // backwards
	} {
		s := newPCGSource(9, 10)
		for _, r := range runs {
			at, m := r[0], min(r[1], n-r[0])
			got := make([]float32, m)
			s.Fill(got, at)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[at+i]) {
					t.Fatalf("runs %v: element %d is %v, the stored draw has %v", runs, at+i, got[i], want[at+i])
				}
			}
		}
	}
}

// TestRandomBitsDrawnInProgram computes a DoReFa-like noisy quantization
// of x and a second uniform that the graph returns and reads again, on
// engine v1, on engine v2 (each draw's bits read by one fused program,
// which draws them itself) and with MLSYSREP_ENGINE_OFF=RandomFusion (the
// bits stored, and converted tile by tile as the programs read them). The
// values and the new state must be the same bits each time, and both draws
// must have been made in their programs (generator runs that only moved the
// state) unless switched off.
func TestRandomBitsDrawnInProgram(t *testing.T) {
	defer func(size int) { minFusedSize = size }(minFusedSize)
	minFusedSize = 2
	clearKernelSwitches(t)
	v1, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	for _, shape := range []shapes.Shape{shapes.Make(dtypes.Float32, 3, 5, 7), shapes.Make(dtypes.Float32, 16, 8, 8, 24)} {
		x := make([]float32, shape.Size())
		r := rand.New(rand.NewPCG(3, 4))
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		run := func(backend compute.Backend) []string {
			exec, err := graph.NewExec(backend, func(state, x *graph.Node) []*graph.Node {
				g := x.Graph()
				s1, u := graph.RandomUniform(state, shape)
				noisy := graph.Round(graph.MulScalar(graph.Add(x, graph.AddScalar(u, -0.5)), 63))
				s2, v := graph.RandomUniform(s1, shape)
				kept := graph.Add(v, graph.Scalar(g, dtypes.Float32, 1))
				return []*graph.Node{s2, noisy, kept, v}
			})
			if err != nil {
				t.Fatal(err)
			}
			state, err := graph.RNGStateFromSeed(42)
			if err != nil {
				t.Fatal(err)
			}
			outs, err := exec.Call(state, tensors.FromFlatDataAndDimensions(x, shape.Dimensions...))
			if err != nil {
				t.Fatal(err)
			}
			got := []string{fmt.Sprint(tensors.MustCopyFlatData[uint64](outs[0])[:2])}
			for _, o := range outs[1:] {
				got = append(got, fmt.Sprint(tensors.MustCopyFlatData[float32](o)))
			}
			return got
		}
		want := run(v1)
		before := rngStateRuns.Load()
		if got := run(mustNew(t, "")); !slices.Equal(got, want) {
			t.Errorf("%s: bits drawn in the program differ from engine v1's (state %s, v1 %s)", shape, got[0], want[0])
		}
		if n := rngStateRuns.Load() - before; n != 2 {
			t.Errorf("%s: %d generator runs only moved the state, want 2 (both draws made in their programs)", shape, n)
		}
		t.Setenv(OffEnvVar, randomFusionOff)
		before = rngStateRuns.Load()
		if got := run(mustNew(t, "")); !slices.Equal(got, want) {
			t.Errorf("%s: with RandomFusion off, engine v2 differs from v1", shape)
		}
		if n := rngStateRuns.Load() - before; n != 0 {
			t.Errorf("%s: RandomFusion off, yet %d draws were left to programs", shape, n)
		}
		t.Setenv(OffEnvVar, "")
	}
}
