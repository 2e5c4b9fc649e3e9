package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestParseList reads the list format: blocks, comments, escapes, and the
// errors a broken list must give.
func TestParseList(t *testing.T) {
	good := "# a comment\nname: flip\nfile: a.go\nfind: x < y\nreplace: x >= y\ntest: ./a/ ./b/\nrun: TestA\n\n" +
		"name: two lines\nfile: b.go\nfind: a\\n\\tb\nreplace: a\ntest: ./b/\n"
	ms, err := parseList(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 {
		t.Fatalf("%d bugs, want 2", len(ms))
	}
	if m := ms[0]; m.name != "flip" || m.file != "a.go" || m.find != "x < y" || m.replace != "x >= y" ||
		strings.Join(m.packages, ",") != "./a/,./b/" || m.run != "TestA" {
		t.Errorf("first bug = %+v", m)
	}
	if ms[1].find != "a\n\tb" {
		t.Errorf("escapes: find = %q", ms[1].find)
	}
	for _, c := range []struct{ text, want string }{
		{"file: a.go\nfind: x\nreplace: y\ntest: ./a/\n", "without a name"},
		{"name: n\nfile: a.go\nreplace: y\ntest: ./a/\n", "required"},
		{"name: n\nfile: a.go\nfind: x\nreplace: x\ntest: ./a/\n", "replace equals find"},
		{"name: n\nwhat: x\n", "unknown key"},
		{"name: n\njust text\n", "not \"key: value\""},
	} {
		if _, err := parseList(c.text); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseList(%q) = %v, want an error containing %q", c.text, err, c.want)
		}
	}
}

// TestBuiltinList checks that the embedded list parses and that every bug
// still finds its text exactly once in the source (the code may move).
func TestBuiltinList(t *testing.T) {
	ms, err := parseList(builtinList)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("the built-in list is empty")
	}
	root := filepath.Join("..", "..", "..") // go test runs in quant/cmd/mutants
	for _, m := range ms {
		data, err := readFile(root, m.file)
		if err != nil {
			t.Errorf("%s: %v", m.name, err)
			continue
		}
		if n := strings.Count(data, m.find); n != 1 {
			t.Errorf("%s: %s holds the text to replace %d times, want once", m.name, m.file, n)
		}
	}
}
