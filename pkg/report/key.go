package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
)

// Key is everything that makes a cell's result differ besides the code:
// preset, table, cell, seed, the data copy it trained on, and a digest of
// its recipe (schedule, batch, images, model size...). A record is reused,
// and a checkpoint resumed, only under the same key; records of different
// seeds or data copies live side by side.
type Key struct {
	Preset, Table, Cell string
	Seed                uint64
	Data                string // the copy, as records name it: "CIFAR-10 (JPEG q75 mirror)"
	Recipe              string // RecipeDigest of the record
}

// Key is the record's key.
func (r *Record) Key() Key {
	return Key{Preset: r.Preset, Table: r.Table, Cell: r.Cell, Seed: r.Seed, Data: r.Data, Recipe: r.RecipeDigest()}
}

// RecipeDigest is a short digest of what, besides the seed and the data,
// decides the record's numbers: the recipe, the model and its size.
func (r *Record) RecipeDigest() string {
	b, err := json.Marshal(struct {
		Recipe    Recipe
		Model     string
		ModelSize string
	}{r.Recipe, r.Model, r.ModelSize})
	if err != nil { // a struct of strings and numbers always marshals
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// String names the key for messages.
func (k Key) String() string {
	return fmt.Sprintf("%s %s %s, seed %d, %s, recipe %s", k.Preset, k.Table, k.Cell, k.Seed, k.Data, k.Recipe)
}

// RecordPath is where the record of this key lives under a results folder:
// dir/<preset>/<table>/<cell>.seed<N>.<data>.json. The recipe is not in the
// name: a rerun under a changed recipe replaces the record of the old one.
func (k Key) RecordPath(dir string) string {
	return filepath.Join(dir, k.Preset, k.Table, fmt.Sprintf("%s.seed%d.%s.json", SafeName(k.Cell), k.Seed, Slug(k.Data)))
}

// CheckpointDir is where a training checkpoint of this key lives under a
// results folder: dir/checkpoints/<preset>/<table>/<cell>/seed<N>.<data>.<recipe>.
func (k Key) CheckpointDir(dir string) string {
	return filepath.Join(dir, "checkpoints", k.Preset, k.Table, SafeName(k.Cell),
		fmt.Sprintf("seed%d.%s.%s", k.Seed, Slug(k.Data), k.Recipe))
}

// Slug is s as a file-name part: lower-case letters and digits, other runs
// of characters as one "-" ("CIFAR-10 (JPEG q75 mirror)" ->
// "cifar-10-jpeg-q75-mirror"); "unknown" when nothing is left.
func Slug(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(c)
			dash = false
			continue
		}
		dash = true
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}
