package engine

import (
	"fmt"
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

// TestRNGMatchesStock draws random tensors twice in a row (the second from
// the first's new state) on engine v2 (native RNGBitGenerator: both draws
// must run on it) and on engine v1, and requires the same bits: values and
// states (the words the generator reads). Sizes include byte counts that are not multiples of 8.
func TestRNGMatchesStock(t *testing.T) {
	v1, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	v2 := mustNew(t, "")
	for _, shape := range []shapes.Shape{
		shapes.Make(dtypes.Float32, 5, 7), shapes.Make(dtypes.Float32, 96, 8, 8, 24),
		shapes.Make(dtypes.Float64, 3), shapes.Make(dtypes.Float32, 1),
	} {
		t.Run(shape.String(), func(t *testing.T) {
			run := func(backend compute.Backend) []string {
				exec, err := graph.NewExec(backend, func(state *graph.Node) []*graph.Node {
					s1, a := graph.RandomUniform(state, shape)
					s2, b := graph.RandomNormal(s1, shape)
					return []*graph.Node{s2, a, b}
				})
				if err != nil {
					t.Fatal(err)
				}
				state, err := graph.RNGStateFromSeed(42)
				if err != nil {
					t.Fatal(err)
				}
				outs, err := exec.Call(state)
				if err != nil {
					t.Fatal(err)
				}
				// The stock op leaves the state's third word as its
				// output buffer had it (the generator reads only the first
				// two): compare those two.
				got := []string{fmt.Sprint(tensors.MustCopyFlatData[uint64](outs[0])[:2])}
				for _, o := range outs[1:] {
					got = append(got, fmt.Sprint(o.Value()))
				}
				return got
			}
			want := run(v1)
			before := rngRuns.Load()
			got := run(v2)
			if n := rngRuns.Load() - before; n < 2 {
				t.Errorf("%d native RNGBitGenerator runs, want at least 2", n)
			}
			if !slices.Equal(got, want) {
				t.Errorf("engine v2 draws differ from v1:\nstate %s\nwant  %s", got[0], want[0])
			}
		})
	}
}

// TestFillRandomBytesPartialWord checks the byte order of a last partial
// word against the stock generator's byte loop.
func TestFillRandomBytesPartialWord(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 23} {
		got := make([]byte, n)
		fillRandomBytes(got, newPCG())
		want := make([]byte, n)
		pcg := newPCG()
		var bits uint64
		for i := range want {
			if i%8 == 0 {
				bits = pcg.Uint64()
			}
			want[i] = byte(bits & 0xFF)
			bits >>= 8
		}
		if !slices.Equal(got, want) {
			t.Errorf("n=%d: %v, want %v", n, got, want)
		}
	}
}

func newPCG() *rand.PCG { return rand.NewPCG(3, 5) }
