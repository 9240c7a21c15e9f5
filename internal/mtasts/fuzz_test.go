package mtasts

import (
	"strings"
	"testing"
)

// FuzzParseRecord checks the record parser on arbitrary text: no panic,
// every problem has a kind and a message, a valid record has an id of 1
// to 32 alphanumerics, and a valid record re-rendered parses the same.
func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{"v=STSv1; id=20261205T000000", "v=STSv1;id=a;ext=1;", "v=STSv1; id=a; id=b", "v=stsv1", ";;=;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, txt string) {
		r := ParseRecord(txt)
		for _, p := range r.Problems {
			if p.Kind == "" || p.Message == "" {
				t.Fatalf("empty problem %+v for %q", p, txt)
			}
		}
		if !r.Valid() {
			return
		}
		if !validID(r.ID) || !Selected(txt) {
			t.Fatalf("valid record %q has id %q", txt, r.ID)
		}
		if rr := ParseRecord(Version + "; id=" + r.ID); !rr.Valid() || rr.ID != r.ID {
			t.Fatalf("re-rendered %q: %+v", txt, rr)
		}
	})
}

// FuzzParsePolicy checks the policy parser on arbitrary text: no panic,
// every problem has a kind and a message, a valid policy has its three
// fields in range and (unless mode none) an mx pattern, and a valid
// policy rendered again (Render) parses to the same policy, with LF or
// CRLF lines alike.
func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{
		"version: STSv1\nmode: enforce\nmx: mail.example.org\nmax_age: 604800\n",
		"version: STSv1\r\nmode: testing\r\nmx: *.example.net\r\nmax_age: 86400\r\n",
		"version: STSv1\nmode: none\nmax_age: 1\nfoo: bar\n",
		"mx: 192.0.2.1\nmax_age: 99999999999\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p := ParsePolicy(text)
		for _, pr := range p.Problems {
			if pr.Kind == "" || pr.Message == "" {
				t.Fatalf("empty problem %+v for %q", pr, text)
			}
		}
		if !p.Valid() {
			return
		}
		if p.Version != PolicyVersion || p.MaxAge < 0 || p.MaxAge > MaxAgeLimit || len(p.MX) == 0 && p.Mode != ModeNone {
			t.Fatalf("valid policy %q: %+v", text, p)
		}
		for _, nl := range []string{"\r\n", "\n"} {
			again := ParsePolicy(strings.ReplaceAll(Render(p.Mode, p.MaxAge, p.MX), "\r\n", nl))
			if !again.Valid() || again.Mode != p.Mode || again.MaxAge != p.MaxAge || strings.Join(again.MX, " ") != strings.Join(p.MX, " ") {
				t.Fatalf("policy %q rendered again parses to %+v", text, again)
			}
		}
	})
}
