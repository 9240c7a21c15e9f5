package tlsrpt

import (
	"strings"
	"testing"
)

// kinds renders a record's problems as their kinds, space-separated.
func kinds(r *Record) string {
	var out []string
	for _, p := range r.Problems {
		out = append(out, string(p.Kind))
	}
	return strings.Join(out, " ")
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, txt string
		problems  string // kinds, in order
		uris      int    // usable URIs
		repaired  string // the first problem's repaired URI
		msg       string // substring of the first problem's message
	}{
		{"mailto", "v=TLSRPTv1; rua=mailto:tlsrpt@example.org", "", 1, "", ""},
		{"https", "v=TLSRPTv1;rua=https://reports.example.org/v1/tlsrpt", "", 1, "", ""},
		{"two URIs with white space", "v=TLSRPTv1 ;\trua=mailto:a@example.org , https://r.example.net:8443/x?y=1", "", 2, "", ""},
		{"trailing delimiter", "v=TLSRPTv1; rua=mailto:a@example.org; ", "", 1, "", ""},
		{"extension tolerated", "v=TLSRPTv1; rua=mailto:a@example.org; x-note=hello.world_1", "", 1, "", ""},
		{"mailto with header field", "v=TLSRPTv1; rua=mailto:a@example.org?subject=TLS%20report", "", 1, "", ""},
		{"encoded comma: two addresses", "v=TLSRPTv1; rua=mailto:a@example.org%2Cb@example.net", "", 1, "", ""},
		{"upper-case scheme", "v=TLSRPTv1; rua=MAILTO:a@example.org", "", 1, "", ""},
		{"IDN domain encoded", "v=TLSRPTv1; rua=mailto:a@b%C3%BCcher.example", "", 1, "", ""},
		{"https IP literal", "v=TLSRPTv1; rua=https://[2001:db8::1]/r", "", 1, "", ""},

		{"no rua", "v=TLSRPTv1", "no-rua", 0, "", "the required rua tag is missing"},
		{"no rua, extension", "v=TLSRPTv1; foo=bar", "no-rua", 0, "", "missing"},
		{"RUA in upper case", "v=TLSRPTv1; RUA=mailto:a@example.org", "no-rua", 0, "", "RUA= is an unknown tag"},
		{"lower-case version", "v=tlsrptv1; rua=mailto:a@example.org", "version", 1, "", "must start with v=TLSRPTv1"},
		{"version not first", "rua=mailto:a@example.org; v=TLSRPTv1", "version malformed-field", 1, "", `starts with "rua=mailto:a@example.org"`},
		{"leading space", " v=TLSRPTv1; rua=mailto:a@example.org", "version", 1, "", "nothing before it"},
		{"other version", "v=TLSRPTv10; rua=mailto:a@example.org", "version", 1, "", "must start"},
		{"empty record", "", "version no-rua", 0, "", "must start"},
		{"bare address", "v=TLSRPTv1; rua=tlsrpt@example.org", "bare-address", 0, "mailto:tlsrpt@example.org", "not a URI: senders need mailto:"},
		{"bare after comma", "v=TLSRPTv1; rua=mailto:a@example.org,b@example.org", "bare-address", 1, "mailto:b@example.org", `"b@example.org"`},
		{"bare invalid", "v=TLSRPTv1; rua=a@", "bare-address", 0, "", "e-mail address"},
		{"raw bang size limit", "v=TLSRPTv1; rua=mailto:a@example.org!10m", "unencoded-character", 0, "mailto:a@example.org", "%21"},
		{"raw bang in local part", "v=TLSRPTv1; rua=mailto:a!b@example.org", "unencoded-character", 0, "mailto:a%21b@example.org", "must be percent-encoded"},
		{"raw semicolon splits the URI", "v=TLSRPTv1; rua=mailto:a@example.org;b", "malformed-field", 1, "", `"b" is not a tag=value field`},
		{"scheme", "v=TLSRPTv1; rua=http://r.example.org/x", "unsupported-scheme", 0, "", "not http:"},
		{"no scheme", "v=TLSRPTv1; rua=reports.example.org", "invalid-uri", 0, "", "no scheme"},
		{"https no host", "v=TLSRPTv1; rua=https:/reports", "invalid-https", 0, "", "no host"},
		{"https bad host", "v=TLSRPTv1; rua=https://exa$mple.org/", "invalid-https", 0, "", "not a valid host name"},
		{"https bad port", "v=TLSRPTv1; rua=https://example.org:port/", "invalid-https", 0, "", "not a valid https URL"},
		{"mailto slashes", "v=TLSRPTv1; rua=mailto://a@example.org", "invalid-mailto", 0, "", "without \"//\""},
		{"mailto empty", "v=TLSRPTv1; rua=mailto:", "invalid-mailto", 0, "", "no address"},
		{"mailto no domain", "v=TLSRPTv1; rua=mailto:postmaster", "invalid-mailto", 0, "", "not an e-mail address"},
		{"bad percent", "v=TLSRPTv1; rua=mailto:a%2@example.org", "invalid-uri", 0, "", "two hex digits"},
		{"non-ASCII", "v=TLSRPTv1; rua=mailto:a@bücher.example", "invalid-uri", 0, "", "non-ASCII"},
		{"bad URI character", "v=TLSRPTv1; rua=mailto:<a@example.org>", "invalid-uri", 0, "", `"<"`},
		{"space instead of comma", "v=TLSRPTv1; rua=mailto:a@example.org mailto:b@example.org", "whitespace", 0, "", "separate URIs with commas"},
		{"space after =", "v=TLSRPTv1; rua= mailto:a@example.org", "whitespace no-rua", 0, "", "white space around \"=\""},
		{"space before =", "v=TLSRPTv1; rua =mailto:a@example.org", "whitespace no-rua", 0, "", "write rua=mailto:a@example.org"},
		{"trailing space", "v=TLSRPTv1; rua=mailto:a@example.org ", "whitespace", 1, "", "white space after the last field"},
		{"trailing space after version", "v=TLSRPTv1 ", "whitespace no-rua", 0, "", "after v=TLSRPTv1"},
		{"empty field", "v=TLSRPTv1;; rua=mailto:a@example.org", "malformed-field", 1, "", "empty field"},
		{"empty rua", "v=TLSRPTv1; rua=", "empty-uri", 0, "", "rua is empty"},
		{"stray comma", "v=TLSRPTv1; rua=mailto:a@example.org,", "empty-uri", 1, "", "stray comma"},
		{"two rua tags", "v=TLSRPTv1; rua=mailto:a@example.org; rua=mailto:b@example.org", "duplicate-tag", 1, "", "more than once"},
		{"v twice", "v=TLSRPTv1; v=TLSRPTv1; rua=mailto:a@example.org", "malformed-field", 1, "", "only once"},
		{"bad extension name", "v=TLSRPTv1; rua=mailto:a@example.org; _x=1", "malformed-field", 1, "", "not a valid tag name"},
		{"bad extension value", "v=TLSRPTv1; rua=mailto:a@example.org; x=a=b", "malformed-field", 1, "", "visible characters"},
		{"no equals", "v=TLSRPTv1; rua=mailto:a@example.org; junk", "malformed-field", 1, "", "not a tag=value field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Parse(tt.txt)
			if got := kinds(r); got != tt.problems {
				t.Fatalf("problems = %q, want %q (%+v)", got, tt.problems, r.Problems)
			}
			ok := 0
			for _, u := range r.RUA {
				if u.OK {
					ok++
				}
			}
			if ok != tt.uris {
				t.Errorf("%d usable URIs, want %d: %+v", ok, tt.uris, r.RUA)
			}
			if r.Valid() != (tt.problems == "") {
				t.Errorf("Valid() = %v", r.Valid())
			}
			if len(r.Problems) == 0 {
				return
			}
			p := r.Problems[0]
			if p.Repaired != tt.repaired {
				t.Errorf("repaired = %q, want %q", p.Repaired, tt.repaired)
			}
			if !strings.Contains(p.Message, tt.msg) {
				t.Errorf("message %q lacks %q", p.Message, tt.msg)
			}
			for _, p := range r.Problems {
				if p.Kind != KindVersion && p.Kind != KindField && p.Kind != KindWhitespace && p.Tag == "" {
					t.Errorf("problem %+v names no tag", p)
				}
			}
		})
	}
}

func TestURIFields(t *testing.T) {
	r := Parse("v=TLSRPTv1; rua=mailto:a@Example.ORG%2Cb@example.org,https://R.example.net/x")
	if len(r.RUA) != 2 {
		t.Fatalf("RUA = %+v", r.RUA)
	}
	m, h := r.RUA[0], r.RUA[1]
	if m.Scheme != "mailto" || strings.Join(m.Addresses, " ") != "a@Example.ORG b@example.org" || strings.Join(m.Domains, " ") != "example.org" {
		t.Errorf("mailto = %+v", m)
	}
	if h.Scheme != "https" || h.Host != "r.example.net" {
		t.Errorf("https = %+v", h)
	}
}

func TestSelected(t *testing.T) {
	for txt, want := range map[string]bool{
		"v=TLSRPTv1; rua=mailto:a@example.org":  true,
		"v=TLSRPTv1 ;rua=mailto:a@example.org":  true,
		"v=TLSRPTv1":                            true,
		"v=TLSRPTv10; rua=mailto:a@example.org": false,
		"v=tlsrptv1; rua=mailto:a@example.org":  false,
		" v=TLSRPTv1; rua=mailto:a@example.org": false,
		"v=spf1 -all":                           false,
	} {
		if got := Selected(txt); got != want {
			t.Errorf("Selected(%q) = %v", txt, got)
		}
	}
	res := &Result{Texts: []string{"v=tlsrptv1; rua=mailto:a@example.org", "v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@example.org", " v=TLSRPTv1;"}}
	if got := strings.Join(res.NearMisses(), "|"); got != "v=tlsrptv1; rua=mailto:a@example.org| v=TLSRPTv1;" {
		t.Errorf("NearMisses = %q", got)
	}
}

func TestRecommend(t *testing.T) {
	tests := []struct {
		txt  string // "" for no record
		drop []string
		want string
	}{
		{"", nil, "v=TLSRPTv1; rua=mailto:tlsrpt@example.org"},
		{"v=TLSRPTv1; rua=mailto:a@example.org", nil, "v=TLSRPTv1; rua=mailto:a@example.org"},
		{"v=TLSRPTv1; rua=a@example.org, https://r.example.org/x; x=1", nil, "v=TLSRPTv1; rua=mailto:a@example.org,https://r.example.org/x; x=1"},
		{"v=TLSRPTv1; rua=mailto:a@example.org!10m,ftp://x", nil, "v=TLSRPTv1; rua=mailto:a@example.org"},
		{"v=TLSRPTv1; RUA=mailto:a@example.org", nil, "v=TLSRPTv1; rua=mailto:a@example.org"},
		{"v=TLSRPTv1; rua=mailto:a@dead.example,b@example.org", []string{"mailto:a@dead.example"}, "v=TLSRPTv1; rua=mailto:b@example.org"},
		{"v=TLSRPTv1; rua=mailto:a@dead.example", []string{"mailto:a@dead.example"}, "v=TLSRPTv1; rua=mailto:tlsrpt@example.org"},
	}
	for _, tt := range tests {
		var rec *Record
		if tt.txt != "" {
			rec = Parse(tt.txt)
		}
		got := Recommend("example.org", rec, tt.drop)
		if got != tt.want {
			t.Errorf("Recommend(%q) = %q, want %q", tt.txt, got, tt.want)
		}
		if r := Parse(got); !r.Valid() {
			t.Errorf("recommendation %q is not valid: %+v", got, r.Problems)
		}
	}
	if got := TXTRecord("example.org", Recommend("example.org", nil, nil)); got != `_smtp._tls.example.org. IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example.org"` {
		t.Errorf("TXTRecord = %s", got)
	}
}

func BenchmarkParse(b *testing.B) {
	txt := "v=TLSRPTv1; rua=mailto:tlsrpt@example.org,https://reports.example.net/v1/tlsrpt?org=example; x-ext=1"
	b.ReportAllocs()
	for b.Loop() {
		if r := Parse(txt); !r.Valid() {
			b.Fatal(r.Problems)
		}
	}
}
