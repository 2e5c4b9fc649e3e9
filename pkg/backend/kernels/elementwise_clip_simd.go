//go:build goexperiment.simd && amd64

package kernels

import (
	"simd/archsimd"
	"unsafe"
)

// simdClip returns a SIMD path's clipFunc and its vector width, or nil.
func simdClip(path string) (clipFunc, int) {
	switch path {
	case "avx512":
		return clipAVX512, 16
	case "avx2":
		return clipAVX2, 8
	}
	return nil, 0
}

// clipAVX2 is clipFunc on 8-lane vectors: the normalization as affineAVX2
// computes it (Sub, Mul, Add), then the clip's instructions as avx2Apply
// computes each, operands in the program's order. Max and Min are a
// compare and a blend, not VMAXPS and VMINPS: for a NaN or two zeros
// those return their second operand, and Go's compiler treats them as
// commutative, free to swap the operands of a Max of two registers (it
// did: Max(0, NaN) gave 0 where the interpreter, whose second operand
// comes from memory, gives NaN). The blend gives the interpreter's
// a > b ? a : b and a < b ? a : b whatever the register allocation.
func clipAVX2(kind clipKind, out, x, g, mean, a, offset []float32, ph, c int, lo, hi, lo2 float32, n int) {
	_, _ = out[n-1], x[n-1]
	checkCycles(c+8, mean, a, offset)
	if kind == clipMask {
		_ = g[n-1]
	}
	po, px, pg := ptr(out), ptr(x), ptr(g)
	pm, pa, pf := ptr(mean), ptr(a), ptr(offset)
	vlo, vhi, vlo2 := archsimd.BroadcastFloat32x8(lo), archsimd.BroadcastFloat32x8(hi), archsimd.BroadcastFloat32x8(lo2)
	zero, one := archsimd.BroadcastFloat32x8(0), archsimd.BroadcastFloat32x8(1)
	switch kind {
	case clipForward:
		for i := 0; i < n; i += 8 {
			o, q := uintptr(i)*4, uintptr(ph)*4
			xn := load8(px, o).Sub(load8(pm, q)).Mul(load8(pa, q)).Add(load8(pf, q))
			t := vlo.Merge(xn, vlo.Greater(xn))              // Max(lo, xn)
			vhi.Merge(t, vhi.Less(t)).StoreArray(at8(po, o)) // Min(hi, t)
			for ph += 8; ph >= c; ph -= c {
			}
		}
	case clipMask:
		for i := 0; i < n; i += 8 {
			o, q := uintptr(i)*4, uintptr(ph)*4
			xn := load8(px, o).Sub(load8(pm, q)).Mul(load8(pa, q)).Add(load8(pf, q))
			t := vlo.Merge(xn, vlo.Greater(xn)) // Max(lo, xn)
			m := load8(pg, o).Mul(one.Merge(zero, t.Less(vhi)))
			m.Mul(zero.Merge(one, xn.Less(vlo2))).StoreArray(at8(po, o))
			for ph += 8; ph >= c; ph -= c {
			}
		}
	}
	archsimd.ClearAVXUpperBits() // see doc.go
}

// clipAVX512 is clipFunc on 16-lane vectors, as clipAVX2 (affineAVX512 and
// avx512Apply's operations).
func clipAVX512(kind clipKind, out, x, g, mean, a, offset []float32, ph, c int, lo, hi, lo2 float32, n int) {
	_, _ = out[n-1], x[n-1]
	checkCycles(c+16, mean, a, offset)
	if kind == clipMask {
		_ = g[n-1]
	}
	po, px, pg := ptr(out), ptr(x), ptr(g)
	pm, pa, pf := ptr(mean), ptr(a), ptr(offset)
	vlo, vhi, vlo2 := archsimd.BroadcastFloat32x16(lo), archsimd.BroadcastFloat32x16(hi), archsimd.BroadcastFloat32x16(lo2)
	zero, one := archsimd.BroadcastFloat32x16(0), archsimd.BroadcastFloat32x16(1)
	switch kind {
	case clipForward:
		for i := 0; i < n; i += 16 {
			o, q := uintptr(i)*4, uintptr(ph)*4
			xn := load16(px, o).Sub(load16(pm, q)).Mul(load16(pa, q)).Add(load16(pf, q))
			t := vlo.Merge(xn, vlo.Greater(xn))               // Max(lo, xn)
			vhi.Merge(t, vhi.Less(t)).StoreArray(at16(po, o)) // Min(hi, t)
			for ph += 16; ph >= c; ph -= c {
			}
		}
	case clipMask:
		for i := 0; i < n; i += 16 {
			o, q := uintptr(i)*4, uintptr(ph)*4
			xn := load16(px, o).Sub(load16(pm, q)).Mul(load16(pa, q)).Add(load16(pf, q))
			t := vlo.Merge(xn, vlo.Greater(xn)) // Max(lo, xn)
			m := load16(pg, o).Mul(one.Merge(zero, t.Less(vhi)))
			m.Mul(zero.Merge(one, xn.Less(vlo2))).StoreArray(at16(po, o))
			for ph += 16; ph >= c; ph -= c {
			}
		}
	}
	archsimd.ClearAVXUpperBits() // see doc.go
}

// load16 loads the 16 floats at byte offset off from p.
func load16(p unsafe.Pointer, off uintptr) archsimd.Float32x16 {
	return archsimd.LoadFloat32x16Array((*[16]float32)(unsafe.Add(p, off)))
}

// at16 is the 16 floats at byte offset off from p, to store into.
func at16(p unsafe.Pointer, off uintptr) *[16]float32 { return (*[16]float32)(unsafe.Add(p, off)) }
