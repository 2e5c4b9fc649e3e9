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
	if got := cellColor(far, nil); got != closeness[3].color {
		t.Errorf("20 points away coloured %s", got)
	}
	if got := cellColor(mk("c", 60, "not converged"), nil); got != closeness[3].color {
		t.Errorf("converged where the reference did not: %s", got)
	}
}

// TestHTMLShape: at a scaled-down preset a cell is coloured by how its drop
// from the best cell of its network compares with the reference's drop, not
// by its distance from the paper's number; at the paper's preset by that
// distance. Each table's legend names the colouring it uses.
func TestHTMLShape(t *testing.T) {
	l := Layout{Title: "T", Corner: "bits", Rows: []string{"2", "4", "6"}, Columns: []string{"A", "B"},
		Cells:     [][]string{{"a2", "b2"}, {"a4", "b4"}, {"a6", "b6"}},
		Reference: [][]string{{"80.00", "70.00"}, {"90.00", "85.00"}, {"91.00", "not converged"}}}
	rec := func(preset string, final float64, ref string) *Record {
		r := &Record{Final: final, Complete: true, Data: "d", Preset: preset, Backend: "b", Seed: 1}
		r.SetReference(ref)
		return r
	}
	quick := map[string]*Record{
		"a2": rec("quick", 50, "80.00"),   // drop 11 against the reference's 11: the same shape, 30 points below
		"a4": rec("quick", 60.5, "90.00"), // drop 0.5 against 1
		"a6": rec("quick", 61, "91.00"),   // the column's best: drop 0
		"b2": rec("quick", 10, "70.00"),   // at chance: drop 62 against 15
		"b4": rec("quick", 72, "85.00"),   // the column's best (b6's reference is no number)
	}
	drops := l.drops(quick)
	for name, want := range map[string]drop{"a2": {11, 11}, "a4": {0.5, 1}, "a6": {0, 0}, "b2": {62, 15}, "b4": {0, 0}} {
		if got, ok := drops[name]; !ok || math.Abs(got.ours-want.ours) > 1e-9 || math.Abs(got.ref-want.ref) > 1e-9 {
			t.Errorf("drop of %s = %+v (found %v), want %+v", name, got, ok, want)
		}
	}
	h := l.HTML(quick)
	for _, want := range []string{
		`title="a2" style="border:1px solid #bbb;padding:4px 8px;text-align:center;background:` + closeness[0].color,
		`drop 11.00 (ref 11.00)`,
		`title="b2" style="border:1px solid #bbb;padding:4px 8px;text-align:center;background:` + closeness[3].color,
		"drop from the best cell of its column",
		"Colour, at a scaled-down preset",
	} {
		if !strings.Contains(h, want) {
			t.Errorf("quick table lacks %q:\n%s", want, h)
		}
	}
	if strings.Contains(h, "Colour: how close ours is to the reference") {
		t.Errorf("quick table explains the paper's colouring too:\n%s", h)
	}
	// The same numbers at the paper's preset: 30 points below is far.
	paper := map[string]*Record{"a2": rec("paper", 50, "80.00")}
	hp := l.HTML(paper)
	if want := `title="a2" style="border:1px solid #bbb;padding:4px 8px;text-align:center;background:` + closeness[3].color; !strings.Contains(hp, want) {
		t.Errorf("paper table lacks %q:\n%s", want, hp)
	}
	if strings.Contains(hp, "drop ") || strings.Contains(hp, "scaled-down") {
		t.Errorf("paper table shows drops:\n%s", hp)
	}
	reading := strings.Join(l.Reading(quick), "\n")
	for _, want := range []string{
		"A: ours is best at a6 (61.00%) and worst at a2 (50.00%), 11.00 points lower; the reference's a2 is 11.00 points below its a6.",
		"B: ours is best at b4 (72.00%) and worst at b2 (10.00%), 62.00 points lower; the reference's b2 is 15.00 points below its b4.",
		"Near chance (10 classes: 10%), 1 cell: B b2 (10.00%).",
		"Ours is 13.00 to 60.00 points below the paper's numbers",
	} {
		if !strings.Contains(reading, want) {
			t.Errorf("reading lacks %q:\n%s", want, reading)
		}
	}
	if r := strings.Join(l.Reading(paper), "\n"); strings.Contains(r, "paper's numbers") {
		t.Errorf("the paper's preset told to compare drops:\n%s", r)
	}
	// One network across the whole table: the best is the table's.
	l.Networks = WholeTable
	if d := l.drops(quick)["b2"]; math.Abs(d.ours-62) > 1e-9 || math.Abs(d.ref-21) > 1e-9 {
		t.Errorf("whole-table drop of b2 = %+v, want 62 and 21 (from a6's 91)", d)
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
