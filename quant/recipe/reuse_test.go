package recipe

import (
	"context"
	"reflect"
	"testing"

	"github.com/mlsysrep/mlsysrep/pkg/backend"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
	"github.com/mlsysrep/mlsysrep/pkg/report"
)

// TestEverySpecFieldIsInTheKey: a Spec is everything that decides a cell's
// result besides the code, so a change to any of its fields must change
// the key of the cell's record (through the recipe, the schedule text or
// the model size): otherwise a record or checkpoint of the old recipe is
// reused for the new one. The fields are enumerated by reflection, so a
// field added to Spec and left out of the record fails here too.
func TestEverySpecFieldIsInTheKey(t *testing.T) {
	tb := &Table{Name: "key-test"}
	c := MustCell("resnet18/pact:w4a4")
	key := func(s Spec) report.Key {
		t.Helper()
		_, size, err := modelFn(c.Model, c.Quant, s)
		if err != nil {
			t.Fatal(err)
		}
		return trainingRecord(tb, Smoke, c, c.Name, s, size, 1, "synthetic cifar10").Key()
	}
	base := Spec{Width: 0.125, Blocks: 1, TrainImages: 64, TestImages: 32, Epochs: 2, Batch: 32, LR: 0.1,
		Milestones: []int{1}, Calibration: 16}
	want := key(base)
	st := reflect.TypeOf(base)
	for i := range st.NumField() {
		name := st.Field(i).Name
		s := base
		s.Milestones = append([]int{}, base.Milestones...)
		v := reflect.ValueOf(&s).Elem().Field(i)
		switch v.Kind() {
		case reflect.Int:
			v.SetInt(v.Int() + 1)
		case reflect.Float64:
			v.SetFloat(v.Float() + 0.5)
		case reflect.Bool:
			v.SetBool(!v.Bool())
		case reflect.Slice:
			v.Set(reflect.Append(v, reflect.ValueOf(7)))
		default:
			t.Fatalf("Spec.%s is a %s: teach this test to change it", name, v.Kind())
		}
		if got := key(s); got == want {
			t.Errorf("Spec.%s changed, the record's key did not (%v)", name, got)
		}
	}
}

// TestRerunReusesOnlyTheSameRecipe runs a cell twice through Run with the
// same recipe, then once more with another learning rate: the second run
// must reuse the first run's record (its commit, marked here, stays) and
// the third must compute the cell again and replace the record, for a
// trained cell and for a PTQ cell (whose FP model's recipe changes with it).
func TestRerunReusesOnlyTheSameRecipe(t *testing.T) {
	if testing.Short() {
		t.Skip("trains tiny smoke models; run without -short")
	}
	be, err := backend.TestEngine()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		table, cell string
		ptq         bool
	}{
		{"reuse-test-trained", "resnet18/fp", false},
		{"reuse-test-ptq", "resnet18/ptq:w4a4", true},
	} {
		t.Run(tc.table, func(t *testing.T) {
			lr := 0.1
			Register(&Table{Name: tc.table, PTQ: tc.ptq, Layout: report.Layout{Title: tc.table, Corner: "-",
				Rows: []string{"-"}, Columns: []string{"-"}, Cells: [][]string{{tc.cell}}},
				Recipe: func(Preset, Model, quant.Config) (Spec, error) {
					return Spec{Width: 0.125, Blocks: 1, TrainImages: 64, TestImages: 32, Epochs: 1, Batch: 32, LR: lr,
						Calibration: 32}, nil
				}})
			opts := Options{Table: tc.table, Preset: Smoke, Data: DataOptions{Source: "synthetic"}, Out: t.TempDir(),
				Backend: be, BackendName: "purego", Seed: 1}
			run := func() *report.Record {
				t.Helper()
				res, err := Run(context.Background(), opts)
				if err != nil {
					t.Fatal(err)
				}
				r := res.Records[tc.cell]
				if r == nil || !r.Complete {
					t.Fatalf("no complete record of %s: %+v", tc.cell, r)
				}
				return r
			}
			const mark = "the first run"
			first := run()
			first.Commit = mark
			if err := first.Save(opts.Out); err != nil {
				t.Fatal(err)
			}
			if again := run(); again.Commit != mark {
				t.Errorf("same recipe: the record was computed again (commit %q), not reused", again.Commit)
			}
			lr = 0.05
			changed := run()
			if changed.Commit == mark || changed.Recipe.LR != lr {
				t.Errorf("learning rate changed to %g: got the record of lr %g, commit %q (the old one reused)",
					lr, changed.Recipe.LR, changed.Commit)
			}
			saved, err := report.Find(opts.Out, string(Smoke), tc.table, tc.cell)
			if err != nil || len(saved) != 1 || saved[0].Commit == mark || saved[0].Recipe.LR != lr {
				t.Errorf("records on disk after the change: %d (%v), want only the new recipe's", len(saved), err)
			}
		})
	}
}
