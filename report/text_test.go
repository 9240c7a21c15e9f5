package report

import (
	"strings"
	"testing"
)

func TestWrap(t *testing.T) {
	tests := []struct {
		in     string
		width  int
		indent string
		want   []string
	}{
		{"short", 20, "", []string{"short"}},
		{"one two three four", 9, "", []string{"one two", "three", "four"}},
		{"fix: publish this record now", 12, "     ", []string{"fix: publish", "     this", "     record", "     now"}},
		{"  a.very.long.record.name.example. IN A 1", 12, "    ", []string{"  a.very.lon", "    g.record", "    .name.ex", "    ample.", "    IN A 1"}},
		{"two\nparagraphs", 20, "", []string{"two", "paragraphs"}},
	}
	for _, tc := range tests {
		got := wrap(tc.in, tc.width, tc.indent)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("wrap(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
		for _, l := range got {
			if len([]rune(l)) > tc.width {
				t.Errorf("line %q is longer than %d", l, tc.width)
			}
		}
	}
}
