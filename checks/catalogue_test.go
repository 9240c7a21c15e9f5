package checks_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailcheck/mailcheck/checks"
)

// TestEveryIDHasADocEntry: every finding a check can emit is described
// in its page docs/checks/NAME.md, and every finding of the runner in
// docs/scoring.md (as `id`, in backquotes).
func TestEveryIDHasADocEntry(t *testing.T) {
	read := func(path string) string {
		b, err := os.ReadFile(filepath.Join("..", path))
		if err != nil {
			t.Fatalf("%v", err)
		}
		return string(b)
	}
	for _, c := range checks.Registry() {
		m := c.Meta()
		page := "docs/checks/" + m.Name + ".md"
		doc := read(page)
		for _, s := range m.Findings {
			if !strings.Contains(doc, "`"+s.ID+"`") {
				t.Errorf("%s: no entry for `%s`", page, s.ID)
			}
		}
	}
	doc := read("docs/scoring.md")
	for _, s := range checks.RunnerSpecs {
		if !strings.Contains(doc, "`"+s.ID+"`") {
			t.Errorf("docs/scoring.md: no entry for `%s`", s.ID)
		}
	}
}

// TestEachIDDeclaredOnce: a check's Meta lists exactly the specs it
// declares (findings.Catalog), with no ID twice across the registry.
func TestEachIDDeclaredOnce(t *testing.T) {
	seen := map[string]string{}
	for _, c := range checks.Registry() {
		m := c.Meta()
		if len(m.Findings) == 0 {
			t.Errorf("%s declares no finding", m.Name)
		}
		for _, s := range m.Findings {
			if prev, ok := seen[s.ID]; ok {
				t.Errorf("%s declared by %s and %s", s.ID, prev, m.Name)
			}
			seen[s.ID] = m.Name
		}
	}
}
