package message

import (
	"os"
	"strings"
	"testing"
)

// TestEveryIDHasADocEntry: every ID of Catalog has a row in
// docs/message.md (as `id`, in backquotes), and each is declared once.
func TestEveryIDHasADocEntry(t *testing.T) {
	b, err := os.ReadFile("../../docs/message.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	seen := map[string]bool{}
	for _, s := range Catalog.Specs() {
		if seen[s.ID] {
			t.Errorf("%s declared twice", s.ID)
		}
		seen[s.ID] = true
		if !strings.Contains(doc, "| `"+s.ID+"` |") {
			t.Errorf("docs/message.md: no row for `%s`", s.ID)
		}
		if !strings.HasPrefix(s.ID, "msg.") || !s.Severity.Valid() || s.Summary == "" {
			t.Errorf("spec %+v", s)
		}
	}
}
