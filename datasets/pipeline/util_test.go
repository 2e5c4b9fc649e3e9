package pipeline

import "fmt"

func fmtInts(v []int) string     { return fmt.Sprint(v) }
func fmtInts32(v []int32) string { return fmt.Sprint(v) }

func flatten(v [][]int32) []int32 {
	var out []int32
	for _, x := range v {
		out = append(out, x...)
	}
	return out
}

func equalBatches(a, b [][]float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}
