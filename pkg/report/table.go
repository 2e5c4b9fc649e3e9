package report

import (
	"fmt"
	"strings"
)

// Layout places a table's cells: Rows x Columns, Cells[row][col] naming the
// cell (empty: no cell), Reference[row][col] the reference's text.
type Layout struct {
	Name      string
	Title     string
	Corner    string // top-left header, e.g. "bitW \\ bitA"
	Rows      []string
	Columns   []string
	Cells     [][]string
	Reference [][]string
	// Networks says which cells train one network (see Grouping), for the
	// comparison a scaled-down preset can make (shape.go).
	Networks Grouping
}

// Markdown renders the layout with "ours (reference, difference)" per cell
// from the records (a missing record shows "-"), and a caption naming the
// data copies, presets, backends and seeds the records came from.
func (l Layout) Markdown(records map[string]*Record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n| %s | %s |\n|%s\n", l.Title, l.Corner, strings.Join(l.Columns, " | "),
		strings.Repeat("---|", len(l.Columns)+1))
	for i, row := range l.Rows {
		cells := make([]string, len(l.Columns))
		for j := range l.Columns {
			name := l.Cells[i][j]
			ref := l.ref(i, j)
			r := records[name]
			switch {
			case name == "":
				cells[j] = ""
			case r == nil || !r.Complete:
				cells[j] = fmt.Sprintf("- (%s)", orDash(ref))
			case r.Difference != nil:
				cells[j] = fmt.Sprintf("%.2f (%s, %+.2f)", r.Final, ref, *r.Difference)
			default:
				cells[j] = fmt.Sprintf("%.2f (%s)", r.Final, orDash(ref))
			}
		}
		fmt.Fprintf(&b, "| %s | %s |\n", row, strings.Join(cells, " | "))
	}
	if c := l.provenance(records); c != "" {
		fmt.Fprintf(&b, "\nEach cell: ours (reference, ours - reference), test accuracy %%. %s.\n", c)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
