package report

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Closeness bands of the HTML tables: |ours - reference| in accuracy points.
var closeness = []struct {
	max         float64
	color, text string
}{
	{1, "#b7e1b0", "within 1 point"},
	{3, "#e3f1b4", "within 3"},
	{10, "#fde3a7", "within 10"},
	{math.Inf(1), "#f6b3a8", "more than 10 away"},
}

const (
	missingColor  = "#eeeeee"
	noRefColor    = "#ffffff"
	collapseLimit = 20.0 // %: below it a run counts as "not converged" (10 classes: chance is 10%)
)

// cellColor colours a cell: at the paper's preset by how close ours is to
// the reference; at a scaled-down one (d not nil) by how close ours' drop
// from its network's best cell is to the reference's (shape.go). A
// reference "not converged" matches ours when ours is near chance.
func cellColor(r *Record, d *drop) string {
	band := func(diff float64) string {
		for _, c := range closeness {
			if diff <= c.max {
				return c.color
			}
		}
		return closeness[len(closeness)-1].color
	}
	switch {
	case r == nil || !r.Complete:
		return missingColor
	case d != nil:
		return band(math.Abs(d.ours - d.ref))
	case r.Difference != nil:
		return band(math.Abs(*r.Difference))
	case strings.Contains(r.RefText, "not converged"):
		if r.Final < collapseLimit {
			return closeness[0].color
		}
		return closeness[len(closeness)-1].color
	}
	return noRefColor
}

// HTML renders the layout as an HTML table with three numbers per cell
// (reference, ours, difference), each cell coloured by how close ours is to
// the reference, and a caption naming the data copies, presets, backends and
// seeds of the records. The table has class "mlsysrep-table" (the notebook
// checks look for it).
func (l Layout) HTML(records map[string]*Record) string {
	var b strings.Builder
	b.WriteString(`<table class="mlsysrep-table" style="border-collapse:collapse;font-family:sans-serif;font-size:13px;margin:6px 0">`)
	fmt.Fprintf(&b, `<caption style="caption-side:top;text-align:left;font-weight:bold;padding:4px 0">%s</caption>`, esc(l.Title))
	th := `style="border:1px solid #bbb;padding:4px 8px;background:#f4f4f4"`
	fmt.Fprintf(&b, `<tr><th %s>%s</th>`, th, esc(l.Corner))
	for _, c := range l.Columns {
		fmt.Fprintf(&b, `<th %s>%s</th>`, th, esc(c))
	}
	b.WriteString(`</tr>`)
	drops := l.drops(records)
	shapes, plain := false, false // which colourings the table uses
	for i, row := range l.Rows {
		fmt.Fprintf(&b, `<tr><th %s>%s</th>`, th, esc(row))
		for j := range l.Columns {
			name, ref := l.Cells[i][j], l.ref(i, j)
			r := records[name]
			if name == "" {
				b.WriteString(`<td style="border:1px solid #bbb"></td>`)
				continue
			}
			ours, diff, dropLine := "-", "", ""
			var d *drop
			if r != nil && r.Complete {
				ours = fmt.Sprintf("%.2f", r.Final)
				if r.Difference != nil {
					diff = fmt.Sprintf("%+.2f", *r.Difference)
				}
				if dd, ok := drops[name]; ok && scaledDown(r) {
					d = &dd
					dropLine = fmt.Sprintf(`<div style="font-size:11px">drop %.2f (ref %.2f)</div>`, dd.ours, dd.ref)
					shapes = true
				} else {
					plain = true
				}
			}
			fmt.Fprintf(&b, `<td title="%s" style="border:1px solid #bbb;padding:4px 8px;text-align:center;background:%s">`,
				esc(name), cellColor(r, d))
			fmt.Fprintf(&b, `<div style="font-size:11px;color:#555">ref %s</div><div style="font-size:15px;font-weight:bold">%s</div><div style="font-size:11px">%s</div>%s</td>`,
				esc(orDash(ref)), ours, diff, dropLine)
		}
		b.WriteString(`</tr>`)
	}
	b.WriteString(`</table>`)
	if cap := l.provenance(records); cap != "" {
		what := "Test accuracy %: reference (top), ours (middle), ours - reference (bottom)."
		if shapes {
			network := "column"
			if l.Networks == WholeTable {
				network = "table"
			}
			what = fmt.Sprintf("Test accuracy %%: reference (top), ours (middle), ours - reference, then each accuracy's drop "+
				"from the best cell of its %s (ours, and the reference's in brackets).", network)
		}
		fmt.Fprintf(&b, `<div style="font-family:sans-serif;font-size:12px;color:#333;max-width:60em">%s %s.</div>`,
			esc(what), esc(cap))
	}
	b.WriteString(legendHTML(shapes, plain || !shapes))
	return b.String()
}

// legendHTML explains the colours of the colourings a table uses: by the
// drops (a scaled-down preset), by closeness (the paper's), or both.
func legendHTML(shapes, plain bool) string {
	var b strings.Builder
	line := func(title string, text func(i int) string) {
		fmt.Fprintf(&b, `<div style="font-family:sans-serif;font-size:11px;margin:4px 0">%s `, esc(title))
		for i, c := range closeness {
			fmt.Fprintf(&b, `<span style="background:%s;padding:1px 6px;margin-right:4px;border:1px solid #ccc">%s</span>`, c.color, esc(text(i)))
		}
		fmt.Fprintf(&b, `<span style="background:%s;padding:1px 6px;border:1px solid #ccc">not run</span></div>`, missingColor)
	}
	if shapes {
		line("Colour, at a scaled-down preset (its accuracies cannot reach the paper's, the shape of the table can): "+
			"how far ours' drop from its network's best cell is from the reference's drop:", func(i int) string {
			return strings.Replace(closeness[i].text, "away", "apart", 1)
		})
	}
	if plain {
		line("Colour: how close ours is to the reference:", func(i int) string { return closeness[i].text })
	}
	b.WriteString(`<div style="margin-bottom:10px"></div>`)
	return b.String()
}

func (l Layout) ref(i, j int) string {
	if i < len(l.Reference) && j < len(l.Reference[i]) {
		return l.Reference[i][j]
	}
	return ""
}

// provenance names the data copies, presets, backends and seeds of the
// layout's complete records.
func (l Layout) provenance(records map[string]*Record) string {
	seen := map[string]bool{}
	var out []string
	for _, row := range l.Cells {
		for _, name := range row {
			r := records[name]
			if name == "" || r == nil || !r.Complete {
				continue
			}
			c := fmt.Sprintf("%s, preset %s, %s, seed %d", r.Data, r.Preset, r.Backend, r.Seed)
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "Data, preset, backend, seed: " + strings.Join(out, "; ")
}

func esc(s string) string { return html.EscapeString(s) }
