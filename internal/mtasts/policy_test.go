package mtasts

import (
	"strings"
	"testing"
)

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		name, text string
		mode       string
		maxAge     int64
		mx         string
		kinds      string
	}{
		{"lf", "version: STSv1\nmode: enforce\nmx: mail.example.org\nmx: *.example.net\nmax_age: 604800\n", "enforce", 604800, "mail.example.org *.example.net", ""},
		{"crlf", "version: STSv1\r\nmode: testing\r\nmx: mail.example.org\r\nmax_age: 86400\r\n", "testing", 86400, "mail.example.org", ""},
		{"no final newline, tabs", "version:\tSTSv1\nmode:enforce\nmx: a.example\nmax_age: 0", "enforce", 0, "a.example", ""},
		{"unknown keys", "version: STSv1\nmode: enforce\nfoo: bar\nMX: x\nmx: a.example\nmax_age: 1\n", "enforce", 1, "a.example", ""},
		{"none without mx", "version: STSv1\nmode: none\nmax_age: 86400\n", "none", 86400, "", ""},
		{"ip in mx", "version: STSv1\nmode: enforce\nmx: 192.0.2.1\nmax_age: 1\n", "enforce", 1, "192.0.2.1", "mx-address"},
		{"ipv6 in mx", "version: STSv1\nmode: enforce\nmx: [2001:db8::1]\nmax_age: 1\n", "enforce", 1, "[2001:db8::1]", "mx-address"},
		{"bad wildcard", "version: STSv1\nmode: enforce\nmx: mail.*.example\nmax_age: 1\n", "enforce", 1, "mail.*.example", "mx"},
		{"max_age too big", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n", "enforce", 31557601, "a.example", "max-age"},
		{"max_age limit", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557600\n", "enforce", 31557600, "a.example", ""},
		{"max_age not a number", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n", "enforce", 0, "a.example", "max-age"},
		{"max_age 11 digits", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 00000000001\n", "enforce", 0, "a.example", "max-age"},
		{"bad mode", "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n", "Enforce", 1, "a.example", "mode"},
		{"bad version", "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n", "enforce", 1, "a.example", "version"},
		{"duplicate mode", "version: STSv1\nmode: enforce\nmode: testing\nmx: a.example\nmax_age: 1\n", "enforce", 1, "a.example", "duplicate"},
		{"empty", "", "", 0, "", "version mode max-age mx"},
		{"not key value", "version STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n", "enforce", 1, "a.example", "malformed-field version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ParsePolicy(tt.text)
			var kinds []string
			for _, pr := range p.Problems {
				kinds = append(kinds, string(pr.Kind))
			}
			if got := strings.Join(kinds, " "); got != tt.kinds {
				t.Errorf("problems = %q %+v, want %q", got, p.Problems, tt.kinds)
			}
			if p.Mode != tt.mode || p.MaxAge != tt.maxAge || strings.Join(p.MX, " ") != tt.mx {
				t.Errorf("policy = %+v", p)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, host string
		want          bool
	}{
		{"mail.example.org", "mail.example.org", true},
		{"mail.example.org", "MAIL.Example.org.", true},
		{"mail.example.org.", "mail.example.org", true},
		{"mail.example.org", "mx.example.org", false},
		{"*.example.org", "mail.example.org", true},
		{"*.example.org", "a.b.example.org", false}, // exactly one label
		{"*.example.org", "example.org", false},
		{"*.example.org", ".example.org", false},
		{"*.b.example.org", "a.b.example.org", true},
		{"*.example.org", "mail.example.net", false},
		{"", "mail.example.org", false},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.host); got != tt.want {
			t.Errorf("Match(%q, %q) = %v", tt.pattern, tt.host, got)
		}
	}
}

func TestRenderParses(t *testing.T) {
	p := ParsePolicy(Render(ModeEnforce, 604800, []string{"mail.example.org", "*.example.net"}))
	if !p.Valid() || p.Mode != ModeEnforce || len(p.MX) != 2 {
		t.Fatalf("rendered policy = %+v", p)
	}
}

// BenchmarkParsePolicy parses a typical policy file.
func BenchmarkParsePolicy(b *testing.B) {
	text := "version: STSv1\r\nmode: enforce\r\nmx: mail.example.org\r\nmx: *.mx.example.net\r\nmx: backup.example.com\r\nmax_age: 604800\r\n"
	b.ReportAllocs()
	for b.Loop() {
		if p := ParsePolicy(text); !p.Valid() {
			b.Fatal(p.Problems)
		}
	}
}
