package report

import (
	"fmt"
	"math"
	"strings"
)

// Reading says what a table's records show, computed from them, one
// sentence per point, so that the text under a table cannot contradict its
// numbers (a notebook's prose is written once; its records change with the
// preset and every rerun). Per network (a column, or the whole table, see
// Grouping) it gives ours' best and worst cell and the reference's drop over
// the same cells; then the cells near chance, the reference cells that did
// not converge, and, at a scaled-down preset, how far below the paper's
// numbers ours are and what to compare instead.
func (l Layout) Reading(records map[string]*Record) []string {
	type cell struct {
		name, label string
		r           *Record
		ref         string
	}
	groups := map[int][]cell{}
	var order []int
	for i := range l.Rows {
		for j := range l.Columns {
			name := l.Cells[i][j]
			r := records[name]
			if name == "" || r == nil || !r.Complete {
				continue
			}
			g := l.network(j)
			if _, seen := groups[g]; !seen {
				order = append(order, g)
			}
			groups[g] = append(groups[g], cell{name, cellLabel(name), r, l.ref(i, j)})
		}
	}
	drops := l.drops(records)
	var out, chance, unconverged []string
	scaled := false
	gap := [2]float64{math.Inf(1), math.Inf(-1)} // reference - ours, smallest and largest
	for _, g := range order {
		cells := groups[g]
		network, prefix := "Ours", "" // one network: the table's
		if l.Networks == ByColumn {
			network, prefix = l.Columns[g]+": ours", l.Columns[g]+" "
		}
		best, worst := cells[0], cells[0]
		for _, c := range cells {
			if c.r.Final > best.r.Final {
				best = c
			}
			if c.r.Final < worst.r.Final {
				worst = c
			}
			scaled = scaled || scaledDown(c.r)
			if c.r.Difference != nil {
				gap[0], gap[1] = math.Min(gap[0], -*c.r.Difference), math.Max(gap[1], -*c.r.Difference)
			}
			if c.r.Final < collapseLimit {
				chance = append(chance, fmt.Sprintf("%s%s (%.2f%%)", prefix, c.label, c.r.Final))
			}
			if strings.Contains(c.ref, "not converged") {
				verdict := "ours did not either"
				if c.r.Final >= collapseLimit {
					verdict = fmt.Sprintf("ours did (%.2f%%)", c.r.Final)
				}
				unconverged = append(unconverged, fmt.Sprintf("%s%s: %s", prefix, c.label, verdict))
			}
		}
		if len(cells) == 1 {
			out = append(out, fmt.Sprintf("%s: one cell with a record, %s at %.2f%%.", network, best.label, best.r.Final))
			continue
		}
		s := fmt.Sprintf("%s is best at %s (%.2f%%) and worst at %s (%.2f%%), %.2f points lower",
			network, best.label, best.r.Final, worst.label, worst.r.Final, best.r.Final-worst.r.Final)
		if d, ok := drops[worst.name]; ok {
			if db, ok := drops[best.name]; ok {
				s += fmt.Sprintf("; the reference's %s is %s its %s", worst.label, below(d.ref-db.ref), best.label)
			}
		}
		out = append(out, s+".")
		bestRef := 0.0
		for _, c := range cells {
			if v, ok := refValue(c.ref); ok {
				bestRef = math.Max(bestRef, v)
			}
		}
		if scaledDown(best.r) && bestRef > 0 && best.r.Final < bestRef/2 {
			out = append(out, fmt.Sprintf("%s reaches at most %.2f%% here, where the reference reaches %.2f%%: "+
				"at this preset the network is far from trained, and its drops say little.", network, best.r.Final, bestRef))
		}
	}
	if len(chance) > 0 {
		const shown = 6
		list := strings.Join(chance[:min(shown, len(chance))], ", ")
		if len(chance) > shown {
			list += fmt.Sprintf(" and %d more", len(chance)-shown)
		}
		cells := "cells"
		if len(chance) == 1 {
			cells = "cell"
		}
		out = append(out, fmt.Sprintf("Near chance (10 classes: 10%%), %d %s: %s.", len(chance), cells, list))
	}
	if len(unconverged) > 0 {
		out = append(out, "Where the reference did not converge: "+strings.Join(unconverged, "; ")+".")
	}
	if scaled && gap[0] <= gap[1] {
		span := fmt.Sprintf("from %s to %s", below(gap[0]), below(gap[1]))
		if gap[0] >= 0 {
			span = fmt.Sprintf("%.2f to %.2f points below", gap[0], gap[1])
		}
		out = append(out, fmt.Sprintf("Ours is %s the paper's numbers: a scaled-down preset trains on a "+
			"fraction of the data for a few epochs, so compare the drops within each network (the colours), not the numbers.", span))
	}
	return out
}

// below says "X points below" or "X points above" for a gap of x points
// (positive: below).
func below(x float64) string {
	if x < 0 {
		return fmt.Sprintf("%.2f points above", -x)
	}
	return fmt.Sprintf("%.2f points below", x)
}

// cellLabel is a cell name without its network: "resnet18/pact:w4a4" ->
// "pact:w4a4".
func cellLabel(name string) string {
	if i := strings.Index(name, "/"); i >= 0 {
		return name[i+1:]
	}
	return name
}

// ReadingHTML renders Reading as a list under a heading that says where it
// comes from; empty when there is nothing to read.
func (l Layout) ReadingHTML(records map[string]*Record) string {
	lines := l.Reading(records)
	if len(lines) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<div style="font-family:sans-serif;font-size:13px;max-width:60em"><b>Reading %s (computed from these records)</b><ul style="margin:2px 0 8px 0">`, esc(l.Title))
	for _, s := range lines {
		fmt.Fprintf(&b, "<li>%s</li>", esc(s))
	}
	b.WriteString("</ul></div>")
	return b.String()
}
