package dmarc

import (
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	"v=DMARC1; p=reject",
	"v=DMARC1; p=quarantine; sp=reject; rua=mailto:dmarc-reports@example.org; ruf=mailto:dmarc-forensic@example.org; adkim=r; aspf=r; pct=100",
	"v=DMARC1; p=none; rua=mailto:a@example.org!10m, mailto:b@example.net; fo=1:d; rf=afrf; ri=3600",
	"v=DMARC1; p=rejct; pct=150; foo=bar",
	"p=reject; v=DMARC1",
	"v=dmarc1; p=reject",
	"v=DMARC1 p=reject",
	"V=DMARC1; P=Reject; RUA=dmarc@example.org",
	"v=DMARC1; rua=mailto:x@example.org",
	"v=DMARC1; p=reject; sp=none; np=quarantine; psd=y; t=y",
	"v=DMARC1;;;p=none;;",
	"v=DMARC1; p=reject; rua=mailto:d@bücher.example,https://x.example/r,mailto://y@example.org",
	"v=DMARC1; p=reject; ri=99999999999999999999999999999999",
	"v=DMARC1; p=reject\r\n; rua=mailto:a@example.org",
}

// FuzzParse checks the record diagnostics on arbitrary input: no panic;
// whatever our validation accepts, go-msgauth's Parse accepts too; the
// canonical record is a fixed point; and the recommended record is always
// clean and enforcing.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, txt string) {
		r := Parse(txt)
		for _, p := range r.Problems {
			if strings.Contains(p.Message, "could not be parsed") {
				t.Fatalf("validation accepted what go-msgauth rejects: %q -> %q: %s", txt, r.Canonical, p.Message)
			}
		}
		if (r.Canonical == "") != (r.Policy == nil) {
			t.Fatalf("canonical %q but policy %v", r.Canonical, r.Policy)
		}
		if r.Canonical != "" {
			again := Parse(r.Canonical)
			if len(again.Problems) != 0 || again.Canonical != r.Canonical {
				t.Fatalf("canonical form %q is not clean: %v -> %q", r.Canonical, again.Problems, again.Canonical)
			}
		}
		rec := Recommend("example.org", r, RecommendOptions{})
		rr := Parse(rec)
		if len(rr.Problems) != 0 || len(rr.Unknown) != 0 || rr.Policy == nil {
			t.Fatalf("recommendation %q for %q is not clean: %v %v", rec, txt, rr.Problems, rr.Unknown)
		}
		if Strength(string(rr.Policy.Policy)) < 1 {
			t.Fatalf("recommendation %q for %q does not enforce", rec, txt)
		}
		for _, u := range rr.RUA {
			if !u.Valid() {
				t.Fatalf("recommendation %q has an invalid rua %q", rec, u.Raw)
			}
		}
		if len(rr.RUA) == 0 {
			t.Fatalf("recommendation %q has no rua", rec)
		}
	})
}

// FuzzReportURI checks report URI validation: no panic, a valid mailto
// URI always has a host, and a repair is always valid.
func FuzzReportURI(f *testing.F) {
	for _, s := range []string{"mailto:a@example.org", "mailto:a@example.org!10m", "a@example.org", "mailto://a@example.org",
		"mailto:a@bücher.example", "https://x", "mailto:%zz@x.y", "mailto:a!b@example.org!1k", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u := ParseReportURI(raw)
		if u.Valid() && (u.Host == "" || u.Scheme != "mailto" || !strings.Contains(u.Address, "@")) {
			t.Fatalf("valid URI %q without host/address: %+v", raw, u)
		}
		if u.Repaired != "" {
			if u.Valid() {
				t.Fatalf("valid URI %q has a repair %q", raw, u.Repaired)
			}
			if v := ParseReportURI(u.Repaired); !v.Valid() {
				t.Fatalf("repair %q of %q is invalid: %s", u.Repaired, raw, v.Err)
			}
		}
	})
}

// BenchmarkParse measures diagnosing a typical record (tags, URIs and the
// go-msgauth parse of the canonical form).
func BenchmarkParse(b *testing.B) {
	txt := "v=DMARC1; p=quarantine; sp=reject; rua=mailto:dmarc-reports@example.org,mailto:agg@reports.example!10m; ruf=mailto:f@example.org; fo=1:d; adkim=r; aspf=s; pct=100"
	b.ReportAllocs()
	for b.Loop() {
		if Parse(txt).Policy == nil {
			b.Fatal("no policy")
		}
	}
}
