package report

import (
	"sort"

	"github.com/mlsysrep/mlsysrep/pkg/plot"
)

// Metric names a per-epoch quantity of a record's curve.
type Metric string

// The metrics a training curve can show.
const (
	TestAccuracy Metric = "test accuracy (%)"
	TestLoss     Metric = "test loss"
	TrainLoss    Metric = "train loss"
)

func (m Metric) value(r *Record, i int) float64 {
	e := r.Curve[i]
	switch m {
	case TestAccuracy:
		return 100 * e.TestAccuracy
	case TestLoss:
		return e.TestLoss
	default:
		return e.TrainLoss
	}
}

// Curves draws one line per record that has a per-epoch curve (PTQ cells
// have none: they are calibrated, not trained), in cell-name order.
func Curves(title string, m Metric, records map[string]*Record) plot.Chart {
	names := make([]string, 0, len(records))
	for n, r := range records {
		if r != nil && len(r.Curve) > 0 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	c := plot.Chart{Title: title, XLabel: "epoch", YLabel: string(m), Width: 560, Height: 320}
	for _, n := range names {
		r := records[n]
		s := plot.Series{Name: n, Points: len(r.Curve) < 30}
		for i, e := range r.Curve {
			s.X = append(s.X, float64(e.Epoch))
			s.Y = append(s.Y, m.value(r, i))
		}
		c.Series = append(c.Series, s)
	}
	return c
}
