package recipe

import "fmt"

// Shard returns slice i (1-based) of n deterministic, balanced slices of
// cells (cell names of table t): every cell lies in exactly one slice, and
// the slices depend only on t, cells and n, so tasks that compute them
// apart (a Slurm job array's tasks) agree.
//
// The unit of a slice is a QAT cell, or all the cells of a PTQ table that
// share a network: they calibrate the same FP model (not a cell: the first
// of them to run trains it and records it, the others reuse it), so one
// slice trains each FP model and no slice waits for another's. Units go to
// the slices in turn, in the given order, so slice sizes in units differ by
// at most one. A PTQ table of one network is therefore one unit: to spread
// its cells over tasks, give them disjoint -cells lists instead (the first
// task to need the FP model trains it under its lock, see report.Lock, and
// the others wait for it and reuse it).
func Shard(t *Table, cells []string, i, n int) ([]string, error) {
	if n < 1 || i < 1 || i > n {
		return nil, fmt.Errorf("shard %d/%d: want 1 <= I <= N", i, n)
	}
	units, err := shardUnits(t, cells)
	if err != nil {
		return nil, err
	}
	var out []string
	for k, u := range units {
		if k%n == i-1 {
			out = append(out, u...)
		}
	}
	return out, nil
}

// ShardUnits is the number of units Shard splits cells into: more slices
// than units leave some empty.
func ShardUnits(t *Table, cells []string) (int, error) {
	units, err := shardUnits(t, cells)
	return len(units), err
}

// shardUnits groups cells into Shard's units, in order of first appearance.
func shardUnits(t *Table, cells []string) ([][]string, error) {
	var units [][]string
	unitOf := map[Model]int{} // a PTQ table's network -> its unit
	for _, name := range cells {
		c, err := NewCell(name)
		if err != nil {
			return nil, err
		}
		if !t.PTQ {
			units = append(units, []string{name})
			continue
		}
		k, ok := unitOf[c.Model]
		if !ok {
			k = len(units)
			unitOf[c.Model] = k
			units = append(units, nil)
		}
		units[k] = append(units[k], name)
	}
	return units, nil
}

// CellNames lists the names of the cells a table runs at a preset, in
// order.
func (t *Table) CellNames(preset Preset) []string {
	var names []string
	for _, c := range t.CellsFor(preset) {
		names = append(names, c.Name)
	}
	return names
}
