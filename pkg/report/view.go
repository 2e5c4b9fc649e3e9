package report

import (
	"fmt"
	"strings"
)

// TableView is everything shown for one table: its layout with the
// records and the reading computed from them, the FP models its PTQ cells
// start from, its "beyond the reference" rows, and what the records cost.
// One model with two renderings, so that the runner, the replication ledger
// (RESULTS.md) and the notebooks show the same table.
type TableView struct {
	Layout  Layout
	Extra   *Layout // "beyond the reference" rows (nil: none)
	Records map[string]*Record
	// FPModels are the complete records of the FP models the table's PTQ
	// cells start from, in the order shown.
	FPModels []*Record
	Cost     *Cost // nil: not shown
	// FPRole says what the FP models are to the table ("" : "PTQ starts
	// from it").
	FPRole string
}

// fpLine describes an FP model's record in a sentence.
func fpLine(fp *Record) (what, took string) {
	secs, estimated := fp.Seconds()
	took = FormatDuration(secs)
	if estimated {
		took += " of training (wall time lost on a resume)"
	}
	return fmt.Sprintf("%.2f%% test accuracy after %s", fp.Final, Epochs(fp.EpochsRun)), took
}

func (v TableView) fpRole() string {
	if v.FPRole == "" {
		return "PTQ starts from it"
	}
	return v.FPRole
}

// Markdown renders the view: the layout, its reading as a list, the FP
// models, the extra rows and their reading, and the cost as a list.
func (v TableView) Markdown() string {
	var b strings.Builder
	b.WriteString(v.Layout.Markdown(v.Records))
	b.WriteString(readingMarkdown(v.Layout, v.Records))
	for _, fp := range v.FPModels {
		acc, took := fpLine(fp)
		fmt.Fprintf(&b, "\nFP model %s (%s): %s, %s, %.1f images/s (%s).\n", fp.Cell, v.fpRole(), acc, took, fp.ImagesPerS, fp.ModelSize)
	}
	if v.Extra != nil {
		b.WriteString("\n" + v.Extra.Markdown(v.Records))
		b.WriteString(readingMarkdown(*v.Extra, v.Records))
	}
	b.WriteString(prunedMarkdown([]*Layout{&v.Layout, v.Extra}, v.Records))
	if v.Cost != nil {
		b.WriteString("\n" + v.Cost.Markdown())
	}
	return b.String()
}

// HTML renders the same as Markdown, for a notebook.
func (v TableView) HTML() string {
	var b strings.Builder
	b.WriteString(v.Layout.HTML(v.Records))
	b.WriteString(v.Layout.ReadingHTML(v.Records))
	for _, fp := range v.FPModels {
		acc, took := fpLine(fp)
		fmt.Fprintf(&b, `<p style="font-family:sans-serif;font-size:13px">FP model <b>%s</b> (%s; %s): <b>%s</b>, %s, %.1f images/s.</p>`,
			esc(fp.Cell), esc(fp.ModelSize), esc(v.fpRole()), esc(acc), esc(took), fp.ImagesPerS)
	}
	if v.Extra != nil {
		b.WriteString(v.Extra.HTML(v.Records))
		b.WriteString(v.Extra.ReadingHTML(v.Records))
	}
	b.WriteString(prunedHTML([]*Layout{&v.Layout, v.Extra}, v.Records))
	if v.Cost != nil {
		b.WriteString(v.Cost.HTML())
	}
	return b.String()
}

// readingMarkdown renders Layout.Reading as a list under a line that says
// where it comes from; empty when there is nothing to read.
func readingMarkdown(l Layout, records map[string]*Record) string {
	lines := l.Reading(records)
	if len(lines) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nReading %s (computed from these records):\n\n", l.Title)
	for _, s := range lines {
		fmt.Fprintf(&b, "- %s\n", s)
	}
	return b.String()
}
