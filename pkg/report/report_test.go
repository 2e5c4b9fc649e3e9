package report

import (
	"math"
	"strings"
	"testing"
)

func TestRecordRoundTripAndReference(t *testing.T) {
	dir := t.TempDir()
	r := &Record{Table: "pact", Cell: "resnet18/pact:w4a4", Preset: "smoke", Final: 90.5, Complete: true,
		Data: "synthetic cifar10", Backend: "purego", Seed: 3}
	r.SetReference("94.16")
	if r.Difference == nil || math.Abs(*r.Difference-(90.5-94.16)) > 1e-9 {
		t.Fatalf("difference %v", r.Difference)
	}
	if err := r.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir, r.Key())
	if err != nil || got == nil || got.Final != 90.5 || *got.Reference != 94.16 {
		t.Fatalf("%+v %v", got, err)
	}
	nc := &Record{Final: 12}
	nc.SetReference("not converged")
	if nc.Reference != nil || nc.RefText != "not converged" {
		t.Errorf("not converged: %+v", nc)
	}
}

func TestMarkdown(t *testing.T) {
	l := Layout{Title: "T", Corner: "bits", Columns: []string{"A", "B"}, Rows: []string{"2"},
		Cells: [][]string{{"a", "b"}}, Reference: [][]string{{"50.00", "not converged"}}}
	a := &Record{Final: 52.25, Complete: true, Data: "d", Preset: "quick", Backend: "purego", Seed: 1}
	a.SetReference("50.00")
	b := &Record{Final: 11, Complete: true, Data: "d", Preset: "quick", Backend: "purego", Seed: 1}
	b.SetReference("not converged")
	md := l.Markdown(map[string]*Record{"a": a, "b": b})
	for _, want := range []string{"| bits | A | B |", "| 2 | 52.25 (50.00, +2.25) | 11.00 (not converged) |", "d, preset quick, purego, seed 1"} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in\n%s", want, md)
		}
	}
	if md2 := l.Markdown(nil); !strings.Contains(md2, "- (50.00)") {
		t.Errorf("missing cells not shown as '-':\n%s", md2)
	}
}

func TestHTMLTable(t *testing.T) {
	l := Layout{Title: "T", Corner: "w\\a", Rows: []string{"2", "4"}, Columns: []string{"A", "B"},
		Cells:     [][]string{{"m/x:w2a2", "m/x:w2a4"}, {"m/x:w4a2", ""}},
		Reference: [][]string{{"not converged", "50.00"}, {"90.00", ""}}}
	mk := func(cell string, final float64, ref string) *Record {
		r := &Record{Cell: cell, Final: final, Complete: true, Data: "d<1>", Preset: "smoke", Backend: "purego", Seed: 7}
		r.SetReference(ref)
		return r
	}
	recs := map[string]*Record{
		"m/x:w2a2": mk("m/x:w2a2", 10.2, "not converged"), // collapsed as the reference did
		"m/x:w2a4": mk("m/x:w2a4", 50.5, "50.00"),         // within 1 point
	}
	h := l.HTML(recs)
	for _, want := range []string{
		`class="mlsysrep-table"`,
		`background:` + closeness[0].color + `"><div style="font-size:11px;color:#555">ref not converged`,
		`ref 50.00</div><div style="font-size:15px;font-weight:bold">50.50</div><div style="font-size:11px">+0.50`,
		`background:` + missingColor + `"><div style="font-size:11px;color:#555">ref 90.00</div><div style="font-size:15px;font-weight:bold">-`,
		"d&lt;1&gt;, preset smoke, purego, seed 7",
	} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML lacks %q:\n%s", want, h)
		}
	}
	far := mk("m/x:w4a2", 70, "90.00")
	if got := cellColor(far); got != closeness[3].color {
		t.Errorf("20 points away coloured %s", got)
	}
	if got := cellColor(mk("c", 60, "not converged")); got != closeness[3].color {
		t.Errorf("converged where the reference did not: %s", got)
	}
}

func TestCurves(t *testing.T) {
	recs := map[string]*Record{
		"b": {Curve: []Epoch{{Epoch: 1, TestAccuracy: 0.5}, {Epoch: 2, TestAccuracy: 0.6}}},
		"a": {Curve: []Epoch{{Epoch: 1, TestLoss: 2}}},
		"p": {}, // a PTQ cell: no curve
	}
	c := Curves("t", TestAccuracy, recs)
	if len(c.Series) != 2 || c.Series[0].Name != "a" || c.Series[1].Y[1] != 60 {
		t.Fatalf("series %+v", c.Series)
	}
	if l := Curves("t", TestLoss, recs); l.Series[0].Y[0] != 2 {
		t.Errorf("loss %+v", l.Series[0])
	}
}
