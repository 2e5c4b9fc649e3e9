//go:build !(goexperiment.simd && amd64)

package kernels

// chainFunc runs a chain (see elementwise_chain.go); this build has none.
type chainFunc func(c *chain, dst []float32, vals [][]float32, m int)

// simdChain: this build has no SIMD paths.
func simdChain(string) (chainFunc, int) { return nil, 0 }

// maxChainSteps bounds a chain's length.
const maxChainSteps = 32
