package plot

import (
	"encoding/xml"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
)

// elements parses the SVG and counts its elements by name.
func elements(t *testing.T, svg string) map[string]int {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	n := map[string]int{}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatalf("invalid SVG: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok {
			n[se.Name.Local]++
		}
	}
}

func TestChartElements(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name  string
		chart Chart
		want  map[string]int
	}{
		{"two lines", Chart{Title: "a < b & c", Series: []Series{
			{Name: "x", X: []float64{0, 1, 2}, Y: []float64{0, 1, 4}},
			{Name: "id", X: []float64{0, 2}, Y: []float64{0, 2}, Dashed: true}}},
			map[string]int{"svg": 1, "polyline": 2}},
		{"NaN splits a line", Chart{Series: []Series{{X: []float64{0, 1, 2, 3, 4}, Y: []float64{0, 1, nan, 3, 4}}}},
			map[string]int{"polyline": 2}},
		{"scatter", Chart{Series: []Series{{X: []float64{0, 1, 2}, Y: []float64{1, 2, 3}, Points: true, NoLine: true}}},
			map[string]int{"polyline": 0, "circle": 3}},
		{"histogram with grid", Chart{Bars: []Bars{Histogram("w", []float64{-1, -0.5, 0, 0.1, 0.9}, -1, 1, 4)},
			VLines: []float64{-1, 0, 1}, VLineLabel: "grid"},
			map[string]int{"line": 3 + 2}}, // 3 grid lines + 2 legend lines at least
		{"log y skips non-positive", Chart{LogY: true, Series: []Series{{X: []float64{0, 1, 2, 3}, Y: []float64{1, 0, 10, 100}}}},
			map[string]int{"polyline": 2}},
		{"empty", Chart{}, map[string]int{"svg": 1, "polyline": 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := elements(t, tc.chart.SVG())
			for k, v := range tc.want {
				if k == "line" {
					if got[k] < v {
						t.Errorf("%s: %d, want >= %d", k, got[k], v)
					}
					continue
				}
				if got[k] != v {
					t.Errorf("%s: %d, want %d (all: %v)", k, got[k], v, got)
				}
			}
		})
	}
}

func TestTitleEscaped(t *testing.T) {
	svg := Chart{Title: "a < b & c"}.SVG()
	if !strings.Contains(svg, "a &lt; b &amp; c") {
		t.Errorf("title not escaped: %s", svg)
	}
}

func TestHistogram(t *testing.T) {
	h := Histogram("h", []float64{-5, 0, 0.24, 0.26, 0.99, 1, 7, math.NaN()}, 0, 1, 4)
	want := []float64{3, 1, 0, 3} // -5 and 7 fall in the end bins, 1 in the last
	for i, c := range h.Counts {
		if c != want[i] {
			t.Fatalf("counts %v, want %v", h.Counts, want)
		}
	}
	if len(h.Edges) != 5 || h.Edges[0] != 0 || h.Edges[4] != 1 || h.Edges[2] != 0.5 {
		t.Errorf("edges %v", h.Edges)
	}
}

func TestTicksAndLinspace(t *testing.T) {
	tk := ticks(0, 1, 5)
	if len(tk) != 6 || tk[0] != 0 || math.Abs(tk[5]-1) > 1e-12 {
		t.Errorf("ticks(0,1): %v", tk)
	}
	if tk := ticks(-3, 97, 5); tk[0] != 0 || tk[1] != 20 {
		t.Errorf("ticks(-3,97): %v", tk)
	}
	if ls := Linspace(-1, 1, 5); ls[0] != -1 || ls[2] != 0 || ls[4] != 1 {
		t.Errorf("linspace %v", ls)
	}
}

func TestFixedRangeClipsPoints(t *testing.T) {
	c := Chart{XMin: 0, XMax: 1, YMin: 0, YMax: 1, Series: []Series{{X: []float64{0, 5}, Y: []float64{0, 5}}}}
	x0, x1, y0, y1 := c.ranges()
	if x0 != 0 || x1 != 1 || y0 != 0 || y1 != 1 {
		t.Errorf("ranges %v %v %v %v", x0, x1, y0, y1)
	}
	if !strings.Contains(c.SVG(), "clip-path=") {
		t.Error("no clip path")
	}
}

// TestPalette: enough distinct colours for a table's curves, none too pale
// to read on white (WCAG contrast of at least 2:1; Okabe-Ito's yellow has
// 1.3).
func TestPalette(t *testing.T) {
	if len(palette) < 10 {
		t.Errorf("%d colours: a 10-curve chart repeats one", len(palette))
	}
	seen := map[string]bool{}
	for i, c := range palette {
		if seen[c] {
			t.Errorf("colour %s twice", c)
		}
		seen[c] = true
		if Color(i) != c {
			t.Errorf("Color(%d) = %s, want %s", i, Color(i), c)
		}
		var rgb [3]float64
		for k := range rgb {
			v, err := strconv.ParseUint(c[1+2*k:3+2*k], 16, 8)
			if err != nil {
				t.Fatalf("colour %q: %v", c, err)
			}
			x := float64(v) / 255
			if x <= 0.03928 {
				rgb[k] = x / 12.92
			} else {
				rgb[k] = math.Pow((x+0.055)/1.055, 2.4)
			}
		}
		lum := 0.2126*rgb[0] + 0.7152*rgb[1] + 0.0722*rgb[2]
		if contrast := 1.05 / (lum + 0.05); contrast < 2 {
			t.Errorf("colour %s has contrast %.2f:1 against white, want at least 2:1", c, contrast)
		}
	}
}

// TestIntegerXTicks: an axis of whole numbers (epochs) gets no fractional
// ticks; other axes keep theirs.
func TestIntegerXTicks(t *testing.T) {
	epochs := Chart{Series: []Series{{X: []float64{1, 2}, Y: []float64{10, 20}}}}.SVG()
	if !strings.Contains(epochs, ">1</text>") || !strings.Contains(epochs, ">2</text>") || strings.Contains(epochs, ">1.5</text>") {
		t.Errorf("epoch axis 1-2: want ticks 1 and 2 only:\n%s", epochs)
	}
	frac := Chart{Series: []Series{{X: []float64{1, 1.5, 2}, Y: []float64{10, 15, 20}}}}.SVG()
	if !strings.Contains(frac, ">1.2</text>") {
		t.Errorf("fractional axis lost its ticks:\n%s", frac)
	}
}
