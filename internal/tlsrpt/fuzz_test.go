package tlsrpt

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks the parser on arbitrary text: no panic; every problem
// has a kind and a message; a record is valid exactly when it has no
// problem and then has a usable URI; a repaired URI parses clean; and the
// recommended record is always valid and keeps a valid record's URIs.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"v=TLSRPTv1; rua=mailto:tlsrpt@example.org",
		"v=TLSRPTv1;rua=mailto:a@example.org,https://r.example.net/x; ext=1;",
		"v=TLSRPTv1; rua=a@example.org!10m",
		"v=tlsrptv1; RUA=mailto:a@example.org",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, txt string) {
		r := Parse(txt)
		for _, p := range r.Problems {
			if p.Kind == "" || p.Message == "" {
				t.Fatalf("empty problem %+v for %q", p, txt)
			}
			if p.Repaired != "" {
				if _, q := parseURI(p.Repaired); q != nil {
					t.Fatalf("repair %q of %q is not usable: %s", p.Repaired, txt, q.Message)
				}
			}
		}
		if r.Valid() && !anyOK(r) {
			t.Fatalf("valid record %q has no usable URI", txt)
		}
		rec := Recommend("example.org", r, nil)
		rr := Parse(rec)
		if !rr.Valid() {
			t.Fatalf("recommendation %q for %q is not valid: %+v", rec, txt, rr.Problems)
		}
		if r.Valid() && utf8.ValidString(txt) {
			for _, u := range r.RUA {
				if !strings.Contains(rec, u.Raw) {
					t.Fatalf("recommendation %q for valid %q drops %q", rec, txt, u.Raw)
				}
			}
		}
	})
}

func anyOK(r *Record) bool {
	for _, u := range r.RUA {
		if u.OK {
			return true
		}
	}
	return false
}
