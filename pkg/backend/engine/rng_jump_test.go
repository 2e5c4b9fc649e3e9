package engine

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPCGJump checks the jump against stepping math/rand/v2's PCG one draw
// at a time, read back through its own encoding.
func TestPCGJump(t *testing.T) {
	for _, seed := range [][2]uint64{{3, 5}, {0, 0}, {^uint64(0), 1 << 63}} {
		pcg := rand.NewPCG(seed[0], seed[1])
		for k := uint64(0); k <= 3000; k++ {
			if k > 0 {
				pcg.Uint64()
			}
			if k > 40 && k%97 != 0 && k != 3000 {
				continue
			}
			enc, err := pcg.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			want := rand.NewPCG(0, 0)
			if err := want.UnmarshalBinary(enc); err != nil {
				t.Fatal(err)
			}
			hi, lo := pcgJump(seed[0], seed[1], k)
			got := rand.NewPCG(hi, lo)
			if g, w := got.Uint64(), want.Uint64(); g != w {
				t.Fatalf("seed %v, %d steps: next draw %#x after the jump, %#x stepping", seed, k, g, w)
			}
		}
	}
}

// TestFillRandomBytesParallel checks the split draws against one
// sequential pass, bytes and final state, for sizes around the split's
// threshold and word boundaries and for 1 to 5 workers.
func TestFillRandomBytesParallel(t *testing.T) {
	for _, n := range []int{0, 9, minParallelRandomBytes - 1, minParallelRandomBytes, minParallelRandomBytes + 5, 3*minParallelRandomBytes + 8, 1 << 20} {
		want := make([]byte, n)
		seq := rand.NewPCG(11, 13)
		fillRandomBytes(want, seq)
		wantState, err := seq.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		for workers := 1; workers <= 5; workers++ {
			got := make([]byte, n)
			hi, lo := fillRandomBytesParallel(got, 11, 13, workers)
			if !slices.Equal(got, want) {
				i := 0
				for got[i] == want[i] {
					i++
				}
				t.Fatalf("%d bytes, %d workers: byte %d differs from the sequential draws", n, workers, i)
			}
			state, err := rand.NewPCG(hi, lo).MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(state, wantState) {
				t.Fatalf("%d bytes, %d workers: state %x after, want %x", n, workers,
					binary.BigEndian.Uint64(state[4:12]), binary.BigEndian.Uint64(wantState[4:12]))
			}
		}
	}
}
