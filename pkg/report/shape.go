package report

import (
	"strconv"
	"strings"
)

// At a scaled-down preset (quick: a tenth of the data, a few epochs) no
// accuracy can come near the paper's, so "ours - reference" says only how
// much smaller the run was. What the preset can reproduce is the table's
// shape: how much each cell loses against the best cell of the same
// network. The HTML table shows, and colours by, ours' drop against the
// reference's drop for every record whose preset is not "paper".

// Grouping says which cells of a layout train the same network.
type Grouping int

const (
	// ByColumn: each column is one network (PACT, LSQ, DoReFa: bits down
	// the rows, networks across).
	ByColumn Grouping = iota
	// WholeTable: every cell trains the one network (a PTQ table, DoReFa on
	// SVHN's single row).
	WholeTable
)

// drop is one cell's loss against the best cell of its network, ours and
// the reference's, in accuracy points.
type drop struct{ ours, ref float64 }

// drops computes every cell's drop, for the cells with both a complete
// record and a numeric reference; the best of a network is taken over
// those cells only, so ours and the reference's are drops from the same
// cell set.
func (l Layout) drops(records map[string]*Record) map[string]drop {
	type cell struct {
		name      string
		ours, ref float64
	}
	groups := map[int][]cell{}
	for i := range l.Rows {
		for j := range l.Columns {
			name := l.Cells[i][j]
			r := records[name]
			ref, ok := refValue(l.ref(i, j))
			if name == "" || r == nil || !r.Complete || !ok {
				continue
			}
			g := l.network(j)
			groups[g] = append(groups[g], cell{name, r.Final, ref})
		}
	}
	out := map[string]drop{}
	for _, cells := range groups {
		bestOurs, bestRef := cells[0].ours, cells[0].ref
		for _, c := range cells {
			bestOurs, bestRef = max(bestOurs, c.ours), max(bestRef, c.ref)
		}
		for _, c := range cells {
			out[c.name] = drop{ours: bestOurs - c.ours, ref: bestRef - c.ref}
		}
	}
	return out
}

// network numbers the network of the cells in column j (see Grouping).
func (l Layout) network(j int) int {
	if l.Networks == WholeTable {
		return 0
	}
	return j
}

// refValue is a reference cell's accuracy, when it is a number.
func refValue(text string) (float64, bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
	return v, err == nil
}

// scaledDown says whether a record ran at a preset smaller than the paper's.
func scaledDown(r *Record) bool { return r != nil && r.Preset != "paper" }
