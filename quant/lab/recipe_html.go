package lab

import (
	"fmt"
	"html"
	"strings"

	"github.com/mlsysrep/mlsysrep/pkg/notebook"
	"github.com/mlsysrep/mlsysrep/quant/recipe"

	// Every reference table, registered.
	_ "github.com/mlsysrep/mlsysrep/quant/tables"
)

// LoadTable reads a table's saved records for the notebook's preset (cells
// without a record are left out), running nothing.
func LoadTable(name string) (*recipe.Result, error) {
	preset, dir, err := settings()
	if err != nil {
		return nil, err
	}
	return recipe.LoadResult(name, preset, dir, Seed)
}

// RecipeHTML shows the recipe each network of a table trains with under the
// notebook's preset (the cell's quantization does not change the recipe).
func RecipeHTML(name string) (string, error) {
	preset, err := Preset()
	if err != nil {
		return "", err
	}
	t, err := recipe.Lookup(name)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	td := `style="border:1px solid #bbb;padding:3px 8px"`
	fmt.Fprintf(&b, `<table style="border-collapse:collapse;font-family:sans-serif;font-size:12px"><caption style="caption-side:top;text-align:left;font-weight:bold">Recipe of table %s, preset %s</caption><tr>`,
		html.EscapeString(name), preset)
	for _, h := range []string{"network", "width", "train images", "epochs", "batch", "lr", "schedule", "momentum", "weight decay", "PTQ calibration"} {
		fmt.Fprintf(&b, "<th %s>%s</th>", td, h)
	}
	b.WriteString("</tr>")
	seen := map[recipe.Model]bool{}
	for _, c := range t.CellsFor(preset) {
		if seen[c.Model] {
			continue
		}
		seen[c.Model] = true
		s, err := t.Recipe(preset, c.Model, c.Quant)
		if err != nil {
			return "", err
		}
		r := s.Record("")
		width, images, calib := fmt.Sprint(s.Width), "all", "-"
		if c.Model == recipe.SVHNModelA {
			width = "full (Model A)"
		}
		if r.TrainImages > 0 {
			images = fmt.Sprintf("first %d", r.TrainImages)
		}
		if t.PTQ {
			calib = fmt.Sprintf("first %d training images", r.Calibration)
		}
		fmt.Fprintf(&b, "<tr><td %s>%s</td><td %s>%s</td><td %s>%s</td><td %s>%d</td><td %s>%d</td><td %s>%g</td><td %s>%s</td><td %s>%g</td><td %s>%g</td><td %s>%s</td></tr>",
			td, c.Model, td, width, td, images, td, r.Epochs, td, r.Batch, td, r.LR, td, html.EscapeString(r.Schedule),
			td, r.Momentum, td, r.WeightDecay, td, calib)
	}
	b.WriteString("</table>")
	return b.String(), nil
}

// ShowRecipe displays RecipeHTML.
func ShowRecipe(name string) error {
	h, err := RecipeHTML(name)
	if err != nil {
		return err
	}
	notebook.ShowHTML(h)
	return nil
}
