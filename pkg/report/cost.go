package report

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Cost is what a table's records cost and where they came from.
type Cost struct {
	Done, Cells int      // cells with a complete record, cells in the table
	Missing     []string // cells without one
	Seconds     float64  // summed wall time
	Estimated   bool     // some record lost its wall time on a resume: its epochs' seconds count instead
	ImagesPerS  float64  // training images/s over every epoch of the records (0: no training)
	Backends    []string // distinct values over the complete records
	Data, Seeds []string
	Commits     []string // "(dirty tree)" appended where the tree was dirty
	// CPUSteal is the host's CPU steal over the training epochs that measured
	// it (weighted by their seconds), which StealEpochs of Epochs did: images/s
	// fell by about as much as the hypervisor took.
	CPUSteal            float64
	StealEpochs, Epochs int
}

// NewCost sums the complete records among records over the table's cells
// (cells: those its preset runs; records may hold more, such as the FP
// models PTQ cells start from, which count toward time, images/s and
// provenance but not toward the cells).
func NewCost(cells []string, records map[string]*Record) Cost {
	var c Cost
	for _, name := range cells {
		c.Cells++
		if rec := records[name]; rec != nil && rec.Complete {
			c.Done++
		} else {
			c.Missing = append(c.Missing, name)
		}
	}
	var trainImages, trainSeconds, stolen, stealSeconds float64
	sets := [4]map[string]bool{{}, {}, {}, {}}
	for _, rec := range records {
		if rec == nil || !rec.Complete {
			continue
		}
		for _, e := range rec.Curve {
			trainImages += float64(e.Images)
			trainSeconds += e.Seconds
			c.Epochs++
			if e.CPUSteal != nil {
				c.StealEpochs++
				stolen += *e.CPUSteal * e.Seconds
				stealSeconds += e.Seconds
			}
		}
		w, estimated := rec.Seconds()
		c.Seconds += w
		c.Estimated = c.Estimated || estimated
		commit := rec.Commit
		if rec.Dirty {
			commit += " (dirty tree)"
		}
		for i, v := range []string{rec.Backend, rec.Data, fmt.Sprint(rec.Seed), commit} {
			if v != "" {
				sets[i][v] = true
			}
		}
	}
	if trainSeconds > 0 {
		c.ImagesPerS = trainImages / trainSeconds
	}
	if stealSeconds > 0 {
		c.CPUSteal = stolen / stealSeconds
	}
	c.Backends, c.Data, c.Seeds, c.Commits = sorted(sets[0]), sorted(sets[1]), sorted(sets[2]), sorted(sets[3])
	return c
}

// StealNote is the host CPU steal that images/s figures should be read with,
// as a parenthesis to append to them ("" when no epoch measured it).
func (c Cost) StealNote() string {
	if c.StealEpochs == 0 {
		return ""
	}
	return fmt.Sprintf(" (host CPU steal %.0f%% over the %d of %d epochs that measured it)", 100*c.CPUSteal, c.StealEpochs, c.Epochs)
}

// Markdown renders the cost as a Markdown list.
func (c Cost) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "- Cells run: %d of %d; wall time %s", c.Done, c.Cells, FormatDuration(c.Seconds))
	if c.Estimated {
		b.WriteString(" (a record that lost its wall time on a resume counts its epochs' training seconds)")
	}
	if c.ImagesPerS > 0 {
		fmt.Fprintf(&b, "; training %.1f images/s", c.ImagesPerS)
	}
	b.WriteString(c.StealNote())
	b.WriteString(".\n")
	if c.Done > 0 {
		fmt.Fprintf(&b, "- Backend: %s; data: %s; seed: %s; commit: %s.\n", strings.Join(c.Backends, ", "),
			strings.Join(c.Data, ", "), strings.Join(c.Seeds, ", "), strings.Join(c.Commits, ", "))
	}
	if len(c.Missing) > 0 {
		fmt.Fprintf(&b, "- Not run yet (%d): %s.\n", len(c.Missing), strings.Join(c.Missing, " "))
	}
	return b.String()
}

// HTML renders what Markdown does as a paragraph.
func (c Cost) HTML() string {
	var b strings.Builder
	fmt.Fprintf(&b, `<p style="font-family:sans-serif;font-size:12px;color:#333">Cells with a record: %d of %d; wall time %s`, c.Done, c.Cells, FormatDuration(c.Seconds))
	if c.Estimated {
		b.WriteString(" (a record that lost its wall time on a resume counts its epochs' training seconds)")
	}
	if c.ImagesPerS > 0 {
		fmt.Fprintf(&b, "; training %.1f images/s", c.ImagesPerS)
	}
	b.WriteString(esc(c.StealNote()))
	if c.Done > 0 {
		fmt.Fprintf(&b, ". Backend: %s; data: %s; seed: %s; commit: %s", esc(strings.Join(c.Backends, ", ")),
			esc(strings.Join(c.Data, ", ")), esc(strings.Join(c.Seeds, ", ")), esc(strings.Join(c.Commits, ", ")))
	}
	if len(c.Missing) > 0 {
		fmt.Fprintf(&b, ". Not run yet (%d): %s", len(c.Missing), esc(strings.Join(c.Missing, " ")))
	}
	b.WriteString(".</p>")
	return b.String()
}

func sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// FormatDuration formats seconds as "45 s", "12 min" or "1 h 23 min",
// rounded to the minute above a minute.
func FormatDuration(s float64) string {
	if s < 59.5 {
		return fmt.Sprintf("%.0f s", s)
	}
	m := int(math.Round(s / 60))
	if m < 60 {
		return fmt.Sprintf("%d min", m)
	}
	return fmt.Sprintf("%d h %02d min", m/60, m%60)
}

// Epochs is "1 epoch" or "n epochs".
func Epochs(n int) string {
	if n == 1 {
		return "1 epoch"
	}
	return fmt.Sprintf("%d epochs", n)
}
