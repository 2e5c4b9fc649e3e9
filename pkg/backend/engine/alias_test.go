package engine

import (
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// TestIdentitiesElided: the plan runs no Identity whose output the graph
// does not return (StopGradient chains, an Identity of a parameter, of a
// native output, read by stock and native steps alike), the results are
// right, and an Identity the graph returns still gives a buffer of its own.
// With MLSYSREP_ENGINE_OFF=Identity the Identities stay and the results are
// the same.
func TestIdentitiesElided(t *testing.T) {
	withTestAdd(t)
	for _, off := range []string{"", "Identity"} {
		t.Setenv(OffEnvVar, off)
		var identities, steps int
		compiledHook = func(p *plan) {
			steps = len(p.steps)
			identities = 0
			for _, st := range p.steps {
				for _, op := range st.ops {
					if op == "Identity" {
						identities++
					}
				}
			}
		}
		exec, err := graph.NewExec(mustNew(t, ""), func(x, y *graph.Node) []*graph.Node {
			sx := graph.StopGradient(graph.StopGradient(x)) // Identity of an Identity of a parameter
			s := graph.Add(sx, y)                           // native, reads the chain
			ss := graph.StopGradient(s)                     // Identity of a native output
			p := graph.Mul(ss, sx)                          // stock, reads both chains
			q := graph.Add(ss, p)                           // native
			return []*graph.Node{q, graph.StopGradient(q)}  // the returned Identity stays
		})
		if err != nil {
			t.Fatal(err)
		}
		outs, err := exec.Call(tensors.FromValue([]float32{1, 2}), tensors.FromValue([]float32{10, 20}))
		compiledHook = nil
		if err != nil {
			t.Fatal(err)
		}
		want := []float32{11 + 11*1, 22 + 22*2} // s + s*x
		for k, o := range outs {
			got := o.Value().([]float32)
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("off=%q: output %d = %v, want %v", off, k, got, want)
					break
				}
			}
		}
		if wantIdentities := map[string]int{"": 1, "Identity": 4}[off]; identities != wantIdentities {
			t.Errorf("off=%q: plan of %d steps runs %d Identity ops, want %d", off, steps, identities, wantIdentities)
		}
		outs[1].FinalizeAll() // the returned copy is a buffer of its own: q stays readable
		if got := outs[0].Value().([]float32); got[0] != want[0] {
			t.Errorf("off=%q: q after freeing its Identity: %v", off, got)
		}
	}
}
