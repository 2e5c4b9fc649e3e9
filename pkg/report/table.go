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
}

// Markdown renders the layout with "ours (reference, difference)" per cell
// from the records (a missing record shows "-"), and a caption naming the
// data copies, presets, backends and seeds the records came from.
func (l Layout) Markdown(records map[string]*Record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n| %s | %s |\n|%s\n", l.Title, l.Corner, strings.Join(l.Columns, " | "),
		strings.Repeat("---|", len(l.Columns)+1))
	seen := map[string]bool{}
	var captions []string
	for i, row := range l.Rows {
		cells := make([]string, len(l.Columns))
		for j := range l.Columns {
			name := l.Cells[i][j]
			ref := ""
			if i < len(l.Reference) && j < len(l.Reference[i]) {
				ref = l.Reference[i][j]
			}
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
			if r != nil && r.Complete {
				c := fmt.Sprintf("%s, preset %s, %s, seed %d", r.Data, r.Preset, r.Backend, r.Seed)
				if !seen[c] {
					seen[c] = true
					captions = append(captions, c)
				}
			}
		}
		fmt.Fprintf(&b, "| %s | %s |\n", row, strings.Join(cells, " | "))
	}
	if len(captions) > 0 {
		fmt.Fprintf(&b, "\nEach cell: ours (reference, ours - reference), test accuracy %%. Data, preset, backend, seed: %s.\n",
			strings.Join(captions, "; "))
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
