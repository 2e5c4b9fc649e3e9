// Package plot draws small static SVG charts (lines, step functions,
// histograms, vertical marker lines) for notebooks and reports. SVG is text,
// so a chart renders in JupyterLab, in a headless nbconvert HTML export and
// on GitHub alike, with nothing loaded from the network (plotly's CDN is not
// reachable everywhere the notebooks run).
package plot

import (
	"fmt"
	"html"
	"math"
	"math/rand/v2"
	"strings"
	"sync/atomic"
)

// clipIDs numbers the charts' clip paths: ids must be unique in a page that
// shows several charts, including charts drawn by different programs (each
// notebook cell is one), hence the per-process random prefix.
var (
	clipIDs    atomic.Int64
	clipPrefix = fmt.Sprintf("mlsysrep-clip-%08x", rand.Uint32())
)

// Series is one line of a chart.
type Series struct {
	Name string
	X, Y []float64
	// Dashed draws the line dashed (e.g. a reference or the identity).
	Dashed bool
	// Points draws a dot at every point instead of (or with) a line.
	Points bool
	// NoLine leaves out the line (with Points: a scatter plot).
	NoLine bool
}

// Bars is a histogram: Counts[i] counts the values in [Edges[i], Edges[i+1]).
type Bars struct {
	Name   string
	Edges  []float64
	Counts []float64
}

// Chart is a 2-D chart. The zero value of a field means "automatic".
type Chart struct {
	Title          string
	XLabel, YLabel string
	Width, Height  int // pixels (default 480 x 300)
	Series         []Series
	Bars           []Bars
	// VLines draws thin vertical lines at these x values (a quantization
	// grid, a clipping level); VLineLabel names them in the legend.
	VLines     []float64
	VLineLabel string
	// XMin..YMax fix the axes' ranges when XMax > XMin (YMax > YMin).
	XMin, XMax, YMin, YMax float64
	// LogY draws the y axis in log10 scale (values <= 0 are skipped).
	LogY bool
}

// palette is Okabe-Ito's colour-blind friendly set without its yellow
// (too pale on white), then five darker colours of Paul Tol's sets: twelve
// distinct colours, each at least 2:1 against white, so that a table's ten
// or so curves do not share one (TestPalette).
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
	"#882255", "#999933", "#44AA99", "#AA4499", "#661100"}

// Color returns the i-th colour of the charts' palette.
func Color(i int) string { return palette[i%len(palette)] }

// SVG renders the chart. Non-finite values are skipped (a line breaks there).
func (c Chart) SVG() string {
	w, h := c.Width, c.Height
	if w <= 0 {
		w = 480
	}
	if h <= 0 {
		h = 300
	}
	const left, right, top, bottom = 58, 12, 28, 44
	legend := c.legendEntries()
	legendH := 16 * len(legend)
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	x0, x1, y0, y1 := c.ranges()
	ty := func(v float64) float64 {
		if c.LogY {
			v = math.Log10(v)
		}
		return v
	}
	sx := func(v float64) float64 { return float64(left) + (v-x0)/(x1-x0)*pw }
	sy := func(v float64) float64 { return float64(top) + (1-(ty(v)-y0)/(y1-y0))*ph }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`,
		w, h+legendH, w, h+legendH)
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="white"/>`, w, h+legendH)
	if c.Title != "" {
		fmt.Fprintf(&b, `<text x="%d" y="17" text-anchor="middle" font-size="13" font-weight="bold">%s</text>`, w/2, esc(c.Title))
	}
	// Grid and ticks.
	xTicks := ticks(x0, x1, 6)
	if c.integerX() {
		xTicks = integerTicks(x0, x1, xTicks)
	}
	for _, t := range xTicks {
		x := sx(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`, x, top, x, float64(top)+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x, float64(top)+ph+14, tickLabel(t))
	}
	for _, t := range ticks(y0, y1, 5) {
		y := float64(top) + (1-(t-y0)/(y1-y0))*ph
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`, left, y, float64(left)+pw, y)
		label := tickLabel(t)
		if c.LogY {
			label = tickLabel(math.Pow(10, t))
		}
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, left-4, y+4, label)
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%.1f" fill="none" stroke="#888"/>`, left, top, pw, ph)
	if c.XLabel != "" {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, float64(left)+pw/2, h-8, esc(c.XLabel))
	}
	if c.YLabel != "" {
		fmt.Fprintf(&b, `<text transform="translate(14,%.1f) rotate(-90)" text-anchor="middle">%s</text>`, float64(top)+ph/2, esc(c.YLabel))
	}
	// Clip what falls outside the plotting area (fixed ranges).
	clip := fmt.Sprintf("%s-%d", clipPrefix, clipIDs.Add(1))
	fmt.Fprintf(&b, `<clipPath id="%s"><rect x="%d" y="%d" width="%.1f" height="%.1f"/></clipPath><g clip-path="url(#%s)">`,
		clip, left, top, pw, ph, clip)
	for i, bars := range c.Bars {
		col := Color(i)
		for j, n := range bars.Counts {
			if j+1 >= len(bars.Edges) || !finite(n) || n <= 0 || c.LogY && n <= 0 {
				continue
			}
			xa, xb := sx(bars.Edges[j]), sx(bars.Edges[j+1])
			base := y0
			if c.LogY {
				base = math.Pow(10, y0)
			} else if base < 0 {
				base = 0
			}
			ya, yb := sy(n), sy(base)
			fmt.Fprintf(&b, `<rect x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="%s" fill-opacity="0.45" stroke="%s" stroke-width="0.4"/>`,
				xa, ya, math.Max(xb-xa, 0.5), math.Max(yb-ya, 0), col, col)
		}
	}
	for _, v := range c.VLines {
		if finite(v) {
			fmt.Fprintf(&b, `<line x1="%.2f" y1="%d" x2="%.2f" y2="%.1f" stroke="#444" stroke-width="0.8" stroke-opacity="0.7"/>`,
				sx(v), top, sx(v), float64(top)+ph)
		}
	}
	for i, s := range c.Series {
		col := Color(i + len(c.Bars))
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="5,3"`
		}
		if !s.NoLine {
			for _, seg := range segments(s, c.LogY) {
				var pts []string
				for _, k := range seg {
					pts = append(pts, fmt.Sprintf("%.2f,%.2f", sx(s.X[k]), sy(s.Y[k])))
				}
				fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.8"%s points="%s"/>`, col, dash, strings.Join(pts, " "))
			}
		}
		if s.Points {
			for k := range s.X {
				if k < len(s.Y) && finite(s.X[k]) && finite(s.Y[k]) && (!c.LogY || s.Y[k] > 0) {
					fmt.Fprintf(&b, `<circle cx="%.2f" cy="%.2f" r="2.5" fill="%s"/>`, sx(s.X[k]), sy(s.Y[k]), col)
				}
			}
		}
	}
	b.WriteString(`</g>`)
	for i, e := range legend {
		y := h + 16*i + 4
		if e.line {
			fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`, left, y, left+22, y, e.color, e.dash)
		} else {
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="22" height="8" fill="%s" fill-opacity="0.45"/>`, left, y-4, e.color)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`, left+28, y+4, esc(e.name))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

type legendEntry struct {
	name, color, dash string
	line              bool
}

func (c Chart) legendEntries() []legendEntry {
	var out []legendEntry
	for i, bars := range c.Bars {
		if bars.Name != "" {
			out = append(out, legendEntry{name: bars.Name, color: Color(i)})
		}
	}
	if len(c.VLines) > 0 && c.VLineLabel != "" {
		out = append(out, legendEntry{name: c.VLineLabel, color: "#444", line: true})
	}
	for i, s := range c.Series {
		if s.Name != "" {
			e := legendEntry{name: s.Name, color: Color(i + len(c.Bars)), line: true}
			if s.Dashed {
				e.dash = ` stroke-dasharray="5,3"`
			}
			out = append(out, e)
		}
	}
	return out
}

// segments splits a series at non-finite points into index runs.
func segments(s Series, logY bool) [][]int {
	var out [][]int
	var cur []int
	for k := range s.X {
		ok := k < len(s.Y) && finite(s.X[k]) && finite(s.Y[k]) && (!logY || s.Y[k] > 0)
		if ok {
			cur = append(cur, k)
			continue
		}
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur = nil
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// ranges returns the x range and the y range (log10 of it with LogY),
// padded so that lines do not touch the frame.
func (c Chart) ranges() (x0, x1, y0, y1 float64) {
	x0, x1, y0, y1 = math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	addY := func(v float64) {
		if c.LogY {
			if v <= 0 {
				return
			}
			v = math.Log10(v)
		}
		if finite(v) {
			y0, y1 = math.Min(y0, v), math.Max(y1, v)
		}
	}
	addX := func(v float64) {
		if finite(v) {
			x0, x1 = math.Min(x0, v), math.Max(x1, v)
		}
	}
	for _, s := range c.Series {
		for k := range s.X {
			if k < len(s.Y) && finite(s.Y[k]) {
				addX(s.X[k])
				addY(s.Y[k])
			}
		}
	}
	for _, bars := range c.Bars {
		for _, e := range bars.Edges {
			addX(e)
		}
		for _, n := range bars.Counts {
			addY(n)
		}
		if !c.LogY {
			addY(0)
		}
	}
	for _, v := range c.VLines {
		addX(v)
	}
	if c.XMax > c.XMin {
		x0, x1 = c.XMin, c.XMax
	}
	if c.YMax > c.YMin {
		y0, y1 = c.YMin, c.YMax
		if c.LogY {
			y0, y1 = math.Log10(math.Max(c.YMin, 1e-300)), math.Log10(c.YMax)
		}
	} else if finite(y0) && finite(y1) {
		pad := 0.05 * (y1 - y0)
		if pad == 0 {
			pad = 0.5
		}
		y0, y1 = y0-pad, y1+pad
	}
	if !finite(x0) || !finite(x1) {
		x0, x1 = 0, 1
	}
	if c.XMax <= c.XMin && c.hasPoints() { // dots at the ends would be cut in half
		pad := 0.03 * (x1 - x0)
		x0, x1 = x0-pad, x1+pad
	}
	if !finite(y0) || !finite(y1) {
		y0, y1 = 0, 1
	}
	if x1 == x0 {
		x0, x1 = x0-0.5, x1+0.5
	}
	return x0, x1, y0, y1
}

func (c Chart) hasPoints() bool {
	for _, s := range c.Series {
		if s.Points {
			return true
		}
	}
	return false
}

// ticks returns about n round tick values within [lo, hi].
func ticks(lo, hi float64, n int) []float64 {
	span := hi - lo
	if !(span > 0) || !finite(span) {
		return nil
	}
	step := math.Pow(10, math.Floor(math.Log10(span/float64(n))))
	for _, m := range []float64{1, 2, 5, 10} {
		if span/(step*m) <= float64(n) {
			step *= m
			break
		}
	}
	var out []float64
	for t := math.Ceil(lo/step) * step; t <= hi+step*1e-9; t += step {
		if math.Abs(t) < step*1e-9 {
			t = 0
		}
		out = append(out, t)
	}
	return out
}

// integerX says whether every series' x values are whole numbers (epochs,
// bit widths): their axis then gets no fractional ticks.
func (c Chart) integerX() bool {
	n := 0
	for _, s := range c.Series {
		for _, x := range s.X {
			if x != math.Trunc(x) {
				return false
			}
			n++
		}
	}
	return n > 0
}

// integerTicks replaces ticks closer than 1 apart by every whole number in
// [lo, hi]; wider ticks are whole already (rounded off their float noise).
func integerTicks(lo, hi float64, ts []float64) []float64 {
	if len(ts) >= 2 && ts[1]-ts[0] >= 1 {
		out := make([]float64, len(ts))
		for i, t := range ts {
			out[i] = math.Round(t)
		}
		return out
	}
	var out []float64
	for t := math.Ceil(lo); t <= hi; t++ {
		out = append(out, t)
	}
	return out
}

func tickLabel(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 1e5 || a < 1e-3:
		return fmt.Sprintf("%.0e", v)
	default:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
	}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func esc(s string) string { return html.EscapeString(s) }

// Histogram counts values into n equal bins over [lo, hi] (values outside
// are counted in the end bins), for Chart.Bars.
func Histogram(name string, values []float64, lo, hi float64, n int) Bars {
	if n < 1 {
		n = 1
	}
	if !(hi > lo) {
		lo, hi = lo-0.5, lo+0.5
	}
	b := Bars{Name: name, Edges: make([]float64, n+1), Counts: make([]float64, n)}
	for i := range b.Edges {
		b.Edges[i] = lo + (hi-lo)*float64(i)/float64(n)
	}
	for _, v := range values {
		if !finite(v) {
			continue
		}
		i := int((v - lo) / (hi - lo) * float64(n))
		b.Counts[min(max(i, 0), n-1)]++
	}
	return b
}

// Linspace returns n evenly spaced values from lo to hi inclusive.
func Linspace(lo, hi float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		if n == 1 {
			out[i] = lo
			continue
		}
		out[i] = lo + (hi-lo)*float64(i)/float64(n-1)
	}
	return out
}
