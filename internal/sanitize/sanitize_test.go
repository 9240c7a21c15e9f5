package sanitize

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"mx.example.org ESMTP", "mx.example.org ESMTP"},
		{"tab\tkept", "tab\tkept"},
		{"\x1b[2Jclear", `\x1b[2Jclear`},
		{"osc\x1b]52;c;ZXZpbA==\x07", `osc\x1b]52;c;ZXZpbA==\x07`},
		{"cr\rlf\n", `cr\x0dlf\x0a`},
		{"del\x7f", `del\x7f`},
		{"c1\u009b31m", `c1\u009b31m`},
		{"bidi\u202egnp.exe", `bidi\u202egnp.exe`},
		{"bücher", "bücher"},
		{"bad\xff\xfeutf8", `bad\xff\xfeutf8`},
	} {
		if got := Text(tc.in); got != tc.want {
			t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMultiline(t *testing.T) {
	if got := Multiline("tree:\n  a\x1b[1m\r\n  b", 0); got != "tree:\n  a\\x1b[1m\\x0d\n  b" {
		t.Errorf("Multiline = %q", got)
	}
}

func TestLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"0123456789abc", 10, "0123456" + Ellipsis},
		{"ééééé", 6, "éé" + Ellipsis[:0]},
		{"anything", 0, "anything"},
	} {
		got := Line(tc.in, tc.max)
		if tc.in == "ééééé" {
			// 6 bytes: 3 for the ellipsis leaves 3, cut back to a rune start.
			if got != "é"+Ellipsis {
				t.Errorf("Line(%q, %d) = %q", tc.in, tc.max, got)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("Line(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
		if tc.max > 0 && len(got) > tc.max {
			t.Errorf("Line(%q, %d) is %d bytes", tc.in, tc.max, len(got))
		}
	}
}

func FuzzText(f *testing.F) {
	for _, s := range []string{"", "abc", "\x1b[2J", "\xff", "é\u202e", strings.Repeat("\x00", 10)} {
		f.Add(s, 8)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		got := Line(s, max%200)
		if !utf8.ValidString(got) {
			t.Fatalf("Line(%q) = %q: invalid UTF-8", s, got)
		}
		if !IsClean(got) {
			t.Fatalf("Line(%q) = %q: not clean", s, got)
		}
		if Text(got) != got && max%200 <= 0 {
			t.Fatalf("Text not idempotent on %q", got)
		}
		if m := max % 200; m > 0 && len(got) > m && len(got) > len(Ellipsis) {
			t.Fatalf("Line(%q, %d) = %d bytes", s, m, len(got))
		}
	})
}
