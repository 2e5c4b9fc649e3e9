package main

import (
	"fmt"
	"strings"
)

// mutant is one planted bug.
type mutant struct {
	name, file, find, replace string
	packages                  []string
	run                       string // -run pattern, or empty for all tests
	line                      int    // where its block starts in the list
}

// parseList reads the bug list format described in the package comment.
func parseList(text string) ([]mutant, error) {
	var all []mutant
	var cur *mutant
	finish := func() error {
		if cur == nil {
			return nil
		}
		m := *cur
		cur = nil
		switch {
		case m.name == "":
			return fmt.Errorf("line %d: a bug without a name", m.line)
		case m.file == "" || m.find == "" || len(m.packages) == 0:
			return fmt.Errorf("line %d (%s): file, find and test are required", m.line, m.name)
		case m.find == m.replace:
			return fmt.Errorf("line %d (%s): replace equals find", m.line, m.name)
		}
		all = append(all, m)
		return nil
	}
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimRight(raw, " \t\r")
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if strings.TrimSpace(line) == "" {
			if err := finish(); err != nil {
				return nil, err
			}
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %d: %q is not \"key: value\"", i+1, line)
		}
		value = strings.TrimPrefix(value, " ")
		if cur == nil {
			cur = &mutant{line: i + 1}
		}
		switch strings.TrimSpace(key) {
		case "name":
			cur.name = value
		case "file":
			cur.file = value
		case "find":
			cur.find = unescape(value)
		case "replace":
			cur.replace = unescape(value)
		case "test":
			cur.packages = strings.Fields(value)
		case "run":
			cur.run = value
		default:
			return nil, fmt.Errorf("line %d: unknown key %q", i+1, key)
		}
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return all, nil
}

// unescape turns \n and \t in a find or replace text into a newline and a
// tab, so that a bug may span lines; \\ is a backslash.
func unescape(s string) string {
	r := strings.NewReplacer(`\\`, `\`, `\n`, "\n", `\t`, "\t")
	return r.Replace(s)
}
