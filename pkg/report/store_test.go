package report

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestRecordsKeyedBySeedAndCopy: records of one cell under different seeds
// and data copies are separate files (a seed-2 run once replaced seed 1's
// record); a record in the layout from before keys is still read.
func TestRecordsKeyedBySeedAndCopy(t *testing.T) {
	dir := t.TempDir()
	mk := func(seed uint64, data string, final float64) *Record {
		return &Record{Table: "pact", Cell: "resnet18/pact:w4a4", Preset: "quick", Seed: seed, Data: data, Final: final, Complete: true}
	}
	for _, r := range []*Record{mk(1, "CIFAR-10 (JPEG q75 mirror)", 60), mk(2, "CIFAR-10 (JPEG q75 mirror)", 61), mk(1, "synthetic cifar10", 12)} {
		if err := r.Save(dir); err != nil {
			t.Fatal(err)
		}
	}
	all, err := Find(dir, "quick", "pact", "resnet18/pact:w4a4")
	if err != nil || len(all) != 3 {
		t.Fatalf("Find: %d records, %v; want 3", len(all), err)
	}
	for _, tc := range []struct {
		seed  uint64
		data  string
		final float64
	}{{1, "CIFAR-10 (JPEG q75 mirror)", 60}, {2, "CIFAR-10 (JPEG q75 mirror)", 61}, {1, "synthetic cifar10", 12}} {
		got, err := Load(dir, mk(tc.seed, tc.data, 0).Key())
		if err != nil || got == nil || got.Final != tc.final {
			t.Errorf("seed %d %s: %+v %v", tc.seed, tc.data, got, err)
		}
	}
	if got, err := Load(dir, mk(3, "CIFAR-10 (JPEG q75 mirror)", 0).Key()); got != nil || err != nil {
		t.Errorf("seed 3: %+v %v, want none", got, err)
	}
	// A legacy file (no seed or copy in its name) is read by its content.
	legacy := &Record{Table: "pact", Cell: "resnet18/pact:w2a2", Preset: "quick", Seed: 1, Data: "d", Final: 40, Complete: true}
	if err := os.WriteFile(legacyPath(dir, "quick", "pact", legacy.Cell), []byte(`{"table":"pact","cell":"resnet18/pact:w2a2","preset":"quick","seed":1,"data":"d","final_accuracy":40,"complete":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := Load(dir, legacy.Key()); err != nil || got == nil || got.Final != 40 {
		t.Errorf("legacy record: %+v %v", got, err)
	}
}

// TestCorruptRecordIsAnError: a record file that is not a record, or that
// sits under another cell's name, is an error naming it (it was once shown
// as "not run yet", or silently trained over), and the file is left alone.
func TestCorruptRecordIsAnError(t *testing.T) {
	for _, tc := range []struct {
		name, content string
	}{
		{"truncated", `{"table": "pact", "cell": "resnet18/pact:w4a4"`},
		{"not a record", `[1, 2, 3]`},
		{"no identity", `{"final_accuracy": 50}`},
		{"another cell", `{"table":"pact","cell":"resnet18/pact:w2a2","preset":"quick","seed":1,"data":"d"}`},
		{"another seed", `{"table":"pact","cell":"resnet18/pact:w4a4","preset":"quick","seed":7,"data":"d"}`},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "quick", "pact", "resnet18__pact_w4a4.seed1.d.json")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Find(dir, "quick", "pact", "resnet18/pact:w4a4")
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v", tc.name, err)
		}
		if b, _ := os.ReadFile(path); string(b) != tc.content {
			t.Errorf("%s: the file was changed", tc.name)
		}
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"CIFAR-10 (JPEG q75 mirror)": "cifar-10-jpeg-q75-mirror",
		"CIFAR-10 (official binary)": "cifar-10-official-binary",
		"synthetic cifar10":          "synthetic-cifar10",
		"":                           "unknown",
		"../..":                      "unknown",
	} {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzDecode: any bytes give a record that names its table, cell and preset
// and survives a save and reload unchanged, or an ErrCorrupt; never a panic.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"table":"pact","cell":"resnet18/pact:w4a4","preset":"quick","seed":1,"data":"d","final_accuracy":40,"complete":true}`))
	f.Add([]byte(`{"table":"pact","cell":"c","preset":"p","curve":[{"epoch":1}],"epochs_run":1}`))
	f.Add([]byte(`{`))
	f.Add([]byte(`{"table":"pact","cell":"` + strings.Repeat("4", 300) + `","preset":"quick","seed":18446744073709551615,"data":"` + strings.Repeat("d ", 60) + `"}`))
	f.Add([]byte(`{"table":"` + strings.Repeat("t", 96) + `","cell":"` + strings.Repeat("c", 96) + `","preset":"` + strings.Repeat("p", 96) + `","seed":18446744073709551615,"data":"` + strings.Repeat("d", 96) + `"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if r.Table == "" || r.Cell == "" || r.Preset == "" {
			t.Fatalf("decoded a record without identity: %+v", r)
		}
		dir := t.TempDir()
		if err := r.Save(dir); err != nil {
			t.Fatalf("a decoded record does not save: %v", err)
		}
		got, err := Load(dir, r.Key())
		if err != nil || got == nil || got.Key() != r.Key() {
			t.Fatalf("round trip: %+v %v", got, err)
		}
	})
}

// TestRecipeDigestCoversEveryField: a change to any field of the recipe, or
// to the model or its size, gives another digest and so another key: a
// record (or checkpoint) of the old recipe is then neither reused nor
// resumed. The fields are enumerated by reflection, so a field added to
// Recipe and left out of the digest fails here too.
func TestRecipeDigestCoversEveryField(t *testing.T) {
	base := Record{Table: "pact", Cell: "resnet18/pact:w4a4", Preset: "quick", Seed: 1, Data: "d", Model: "resnet18",
		ModelSize: "width 0.25, 701466 parameters", Recipe: Recipe{Epochs: 14, Batch: 128, LR: 0.1, Schedule: "lr 0.1, x0.1 at epochs [6 12]",
			Momentum: 0.9, WeightDecay: 5e-4, ClipNorm: 1, TrainImages: 10000, Calibration: 2000, Observer: "minmax", Init: "default"}}
	type change struct {
		name  string
		apply func(*Record)
	}
	changes := []change{
		{"Model", func(r *Record) { r.Model = "mobilenetv2" }},
		{"ModelSize", func(r *Record) { r.ModelSize = "width 0.5, 1 parameters" }},
	}
	rt := reflect.TypeOf(Recipe{})
	for i := range rt.NumField() {
		f := rt.Field(i)
		changes = append(changes, change{"Recipe." + f.Name, func(r *Record) {
			v := reflect.ValueOf(&r.Recipe).Elem().Field(i)
			switch v.Kind() {
			case reflect.Int:
				v.SetInt(v.Int() + 1)
			case reflect.Float64:
				v.SetFloat(v.Float() + 0.5)
			case reflect.String:
				v.SetString(v.String() + " changed")
			default:
				t.Fatalf("Recipe.%s is a %s: teach this test to change it", f.Name, v.Kind())
			}
		}})
	}
	for _, c := range changes {
		r := base
		c.apply(&r)
		if r.Recipe == base.Recipe && r.Model == base.Model && r.ModelSize == base.ModelSize {
			t.Fatalf("%s: the change changed nothing", c.name)
		}
		if r.RecipeDigest() == base.RecipeDigest() || r.Key() == base.Key() {
			t.Errorf("%s changed, the digest (%s) and key did not", c.name, r.RecipeDigest())
		}
	}
	// What is not the recipe leaves the digest alone: a rerun on another
	// backend or commit answers the same question.
	r := base
	r.Backend, r.Commit, r.Final, r.WallSeconds = "xla:cpu", "abc", 50, 10
	if r.Key() != base.Key() {
		t.Errorf("backend, commit or results changed the key: %v, was %v", r.Key(), base.Key())
	}
}
