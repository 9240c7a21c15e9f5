package report

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLayout(t *testing.T) {
	tests := []struct {
		in          string
		first, rest int
		extra       []string
		want        []string
	}{
		{"short", 20, 20, nil, []string{"short"}},
		{"one two three four", 9, 9, nil, []string{"one two", "three", "four"}},
		{"publish this record now", 12, 8, nil, []string{"publish this", "record", "now"}},
		// A DNS name longer than the line is never cut: it overflows.
		{"see a.very.long.record.name.example. IN A 1", 12, 12, nil, []string{"see", "a.very.long.record.name.example.", "IN A 1"}},
		// A quoted string is one unit, spaces and all.
		{`publish "v=spf1 mx -all" now`, 14, 14, nil, []string{"publish", `"v=spf1 mx -all"`, "now"}},
		{"two\n  paragraphs kept", 20, 20, nil, []string{"two", "  paragraphs kept"}},
		{"a message", 20, 20, []string{"[RFC 1 §2]"}, []string{"a message [RFC 1 §2]"}},
		{"a message", 12, 12, []string{"[RFC 1 §2]"}, []string{"a message", "[RFC 1 §2]"}},
	}
	for _, tc := range tests {
		got := layout(tc.in, tc.first, tc.rest, tc.extra...)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("layout(%q, %d, %d) = %q, want %q", tc.in, tc.first, tc.rest, got, tc.want)
		}
	}
}

func TestUnits(t *testing.T) {
	got := units(`a  "b  \" c" d"e f" g`)
	want := []string{"a", `"b  \" c"`, `d"e f"`, "g"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("units = %q, want %q", got, want)
	}
}

func TestAbbreviateKeys(t *testing.T) {
	key := strings.Repeat("ABCDEFGHIJ", 10)
	tests := []struct{ in, want string }{
		{`s._domainkey.example. IN TXT "v=DKIM1; k=rsa; p=` + key + `"`, `s._domainkey.example. IN TXT "v=DKIM1; k=rsa; p=ABCDEFGHIJABCDEFGHIJ…CDEFGHIJ"`},
		{`x. IN TXT "v=DKIM1; p=` + key[:60] + `" "` + key[:40] + `"`, `x. IN TXT "v=DKIM1; p=ABCDEFGHIJABCDEFGHIJ…CDEFGHIJ"`},
		{`x. IN TXT "v=DKIM1; p=short"`, `x. IN TXT "v=DKIM1; p=short"`},
		{`x. IN TXT "v=DKIM1; p="`, `x. IN TXT "v=DKIM1; p="`},
		{`x. IN TXT "up=` + key + `"`, `x. IN TXT "up=` + key + `"`},
	}
	for _, tc := range tests {
		if got := abbreviateKeys(tc.in); got != tc.want {
			t.Errorf("abbreviateKeys(%q)\n = %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestFixParts(t *testing.T) {
	key := strings.Repeat("k", 400)
	tests := []struct {
		fix  string
		want []string // records prefixed with "R:"
	}{
		{"make the PTR name resolve to the address (e.g. backup.example.org. IN A 198.51.100.25) or set the PTR to mx2.example.org.",
			[]string{"make the PTR name resolve to the address, e.g.", "R:backup.example.org. IN A 198.51.100.25", "or set the PTR to mx2.example.org."}},
		{`_dmarc.example.org. IN TXT "v=DMARC1; p=reject; rua=mailto:d@example.org"`,
			[]string{`R:_dmarc.example.org. IN TXT "v=DMARC1; p=reject; rua=mailto:d@example.org"`}},
		{`example.org. IN TXT "v=spf1 -all" (the domain sends no mail)`,
			[]string{`R:example.org. IN TXT "v=spf1 -all"`, "(the domain sends no mail)"}},
		{"publish an explicit MX record, e.g. example.org. IN MX 10 mail.example.org. (and an A record for mail.example.org), or a null MX \"0 .\"",
			[]string{"publish an explicit MX record, e.g.", "R:example.org. IN MX 10 mail.example.org.", "(and an A record for mail.example.org), or a null MX \"0 .\""}},
		{"publish mail.example.org. IN A <the server's IPv4 address> (and AAAA for IPv6)",
			[]string{"publish", "R:mail.example.org. IN A <the server's IPv4 address>", "(and AAAA for IPv6)"}},
		{`publish s._domainkey.example. IN TXT "v=DKIM1; p=` + key + `"`,
			[]string{"publish", `R:s._domainkey.example. IN TXT "v=DKIM1; p=` + key + `"`}},
		{`new selector: s._domainkey.x. IN TXT "v=DKIM1; k=rsa; p=<openssl rsa -pubout | base64 -w0>", switch the signer`,
			[]string{"new selector:", `R:s._domainkey.x. IN TXT "v=DKIM1; k=rsa; p=<openssl rsa -pubout | base64 -w0>"`, "switch the signer"}},
		{"e.g. with your MX host m.x: _submissions._tcp.x. IN SRV 0 1 465 m.x. and _submission._tcp.x. IN SRV 0 1 587 m.x.",
			[]string{"e.g. with your MX host m.x:", "R:_submissions._tcp.x. IN SRV 0 1 465 m.x.", "and", "R:_submission._tcp.x. IN SRV 0 1 587 m.x."}},
		{"retry later or with a longer --timeout", []string{"retry later or with a longer --timeout"}},
		{"set the PTR (ask IN the panel)", []string{"set the PTR (ask IN the panel)"}},
	}
	for _, tc := range tests {
		var got []string
		for _, p := range fixParts(tc.fix) {
			if p.record {
				got = append(got, "R:"+p.text)
			} else {
				got = append(got, p.text)
			}
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("fixParts(%q)\n = %q\nwant %q", tc.fix, got, tc.want)
		}
	}
}

// TestRecordsWhole: a record to publish is on a line of its own, whole,
// from the first column, however narrow the report.
func TestRecordsWhole(t *testing.T) {
	for _, name := range []string{"good", "bad"} {
		r := loadReport(t, name)
		for _, width := range []int{40, 80} {
			var b strings.Builder
			if err := WriteText(&b, r, TextOptions{Width: width}); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(b.String(), "\n")
			for _, c := range r.Checks {
				for _, f := range c.Findings {
					for _, p := range fixParts(f.Fix) {
						if p.record && !contains(lines, p.text) {
							t.Errorf("%s at %d: record %q is not on a line of its own", name, width, p.text)
						}
					}
				}
			}
			for _, l := range lines {
				if width == 80 && utf8.RuneCountInString(l) > width && !longUnit(l, width) {
					t.Errorf("%s at %d: line over the width: %q", name, width, l)
				}
			}
		}
	}
}

// longUnit reports whether the line holds a unit (a name, a quoted
// string) too long to share a line: the only reason to pass the width.
func longUnit(l string, width int) bool {
	for _, u := range units(l) {
		if utf8.RuneCountInString(u) > width/2 {
			return true
		}
	}
	return false
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}
