package recipe

import (
	"slices"
	"testing"
)

// TestShardPartitions: for every table and preset and 1 to 7 slices, the
// slices hold every cell exactly once, their sizes in units differ by at
// most one, and a PTQ network's cells (which share its FP model) stay in one
// slice.
func TestShardPartitions(t *testing.T) {
	kinds := map[bool]int{} // PTQ or not -> tables seen
	for _, name := range TableNames() {
		tb, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		kinds[tb.PTQ]++
		for _, preset := range Presets {
			cells := tb.CellNames(preset)
			units, err := ShardUnits(tb, cells)
			if err != nil {
				t.Fatal(err)
			}
			nonEmpty := 0
			for i := 1; i <= len(cells); i++ {
				if slice, _ := Shard(tb, cells, i, len(cells)); len(slice) > 0 {
					nonEmpty++
				}
			}
			if nonEmpty != units {
				t.Errorf("%s %s: ShardUnits %d, but %d of %d slices hold cells", name, preset, units, nonEmpty, len(cells))
			}
			for n := 1; n <= 7; n++ {
				seen := map[string]int{}
				var sizes []int
				for i := 1; i <= n; i++ {
					slice, err := Shard(tb, cells, i, n)
					if err != nil {
						t.Fatal(err)
					}
					units := map[string]bool{}
					for _, c := range slice {
						seen[c]++
						cell, _ := NewCell(c)
						key := c
						if tb.PTQ {
							key = string(cell.Model)
						}
						units[key] = true
					}
					sizes = append(sizes, len(units))
					if again, _ := Shard(tb, cells, i, n); !slices.Equal(again, slice) {
						t.Fatalf("%s %s %d/%d: not deterministic", name, preset, i, n)
					}
				}
				for _, c := range cells {
					if seen[c] != 1 {
						t.Errorf("%s %s n=%d: cell %s in %d slices", name, preset, n, c, seen[c])
					}
				}
				if len(seen) != len(cells) {
					t.Errorf("%s %s n=%d: %d cells sliced, %d selected", name, preset, n, len(seen), len(cells))
				}
				if slices.Max(sizes)-slices.Min(sizes) > 1 {
					t.Errorf("%s %s n=%d: unit counts %v", name, preset, n, sizes)
				}
			}
		}
	}
	if kinds[true] == 0 || kinds[false] == 0 {
		t.Fatalf("tables registered in this test binary: %d PTQ, %d QAT; want both kinds", kinds[true], kinds[false])
	}
}

// TestShardKeepsPTQNetworks: a PTQ table's cells of one network land in one
// slice (they share its FP model); a QAT table's cells are spread one by one.
func TestShardKeepsPTQNetworks(t *testing.T) {
	ptq, err := Lookup("ptq-resnet18")
	if err != nil {
		t.Fatal(err)
	}
	cells := []string{"resnet18/ptq:w4a4", "resnet18/ptq:w2a2", "resnet18/ptq:w4a4/mse"}
	if got, _ := Shard(ptq, cells, 1, 2); !slices.Equal(got, cells) {
		t.Errorf("slice 1/2 of a one-network PTQ table: %v, want all of %v", got, cells)
	}
	if got, _ := Shard(ptq, cells, 2, 2); len(got) != 0 {
		t.Errorf("slice 2/2 of a one-network PTQ table: %v, want none", got)
	}
	pact, err := Lookup("pact")
	if err != nil {
		t.Fatal(err)
	}
	qat := []string{"resnet18/pact:w2a2", "mobilenetv2/pact:w2a2", "resnet18/pact:w4a4"}
	if got, _ := Shard(pact, qat, 1, 2); !slices.Equal(got, []string{"resnet18/pact:w2a2", "resnet18/pact:w4a4"}) {
		t.Errorf("slice 1/2 of QAT cells: %v", got)
	}
	for _, bad := range [][2]int{{0, 2}, {3, 2}, {1, 0}} {
		if _, err := Shard(pact, qat, bad[0], bad[1]); err == nil {
			t.Errorf("shard %d/%d accepted", bad[0], bad[1])
		}
	}
}
