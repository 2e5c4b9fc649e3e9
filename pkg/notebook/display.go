package notebook

import (
	"fmt"
	"strings"

	"github.com/janpfeifer/gonb/gonbui"
	"github.com/mlsysrep/mlsysrep/pkg/plot"
)

// inNotebook tells whether the program runs as a GoNB cell.
func inNotebook() bool { return gonbui.IsNotebook }

// displayHTML shows HTML and waits until GoNB has it: output still in the
// pipe when the cell's program exits can be lost (seen in a CI run: a
// notebook's last cell came back empty).
func displayHTML(h string) {
	gonbui.DisplayHTML(h)
	gonbui.Sync()
}

// ShowHTML displays HTML in the notebook (outside one it prints it).
func ShowHTML(h string) { ShowHTMLOrText(h, h) }

// ShowHTMLOrText displays HTML in the notebook; outside one it prints text
// (a table's Markdown, say) instead.
func ShowHTMLOrText(h, text string) {
	if !inNotebook() {
		fmt.Println(text)
		return
	}
	displayHTML(h)
}

// ChartsHTML lays charts out side by side, wrapping when narrow.
func ChartsHTML(charts ...plot.Chart) string {
	var b strings.Builder
	b.WriteString(`<div style="display:flex;flex-wrap:wrap;gap:8px">`)
	for _, c := range charts {
		b.WriteString("<div>" + c.SVG() + "</div>")
	}
	b.WriteString(`</div>`)
	return b.String()
}

// ShowCharts displays charts side by side (outside a notebook it prints
// their titles and series names).
func ShowCharts(charts ...plot.Chart) {
	if !inNotebook() {
		for _, c := range charts {
			names := []string{}
			for _, s := range c.Series {
				names = append(names, s.Name)
			}
			fmt.Printf("[chart %q: %s]\n", c.Title, strings.Join(names, ", "))
		}
		return
	}
	displayHTML(ChartsHTML(charts...))
}
