package dmarc

import (
	"fmt"
	"strings"
	"testing"
)

// problemKeys renders problems as "tag:effect" for comparison.
func problemKeys(ps []Problem) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%s:%s", p.Tag, p.Effect))
	}
	return out
}

func TestParse(t *testing.T) {
	tests := []struct {
		txt       string
		problems  []string // "tag:effect"
		canonical string   // "" when receivers apply nothing
		policy    string   // go-msgauth's Policy
		unknown   string   // "name>suggestion" of the first unknown tag
		msg       string   // substring of the first problem's message
	}{
		{txt: "v=DMARC1; p=reject", problems: []string{}, canonical: "v=DMARC1; p=reject", policy: "reject"},
		{txt: "v=DMARC1;p=quarantine;sp=reject;pct=100;rua=mailto:a@example.org;", problems: []string{},
			canonical: "v=DMARC1; p=quarantine; sp=reject; pct=100; rua=mailto:a@example.org", policy: "quarantine"},
		{txt: "v = DMARC1 ; p = none", problems: []string{}, canonical: "v=DMARC1; p=none", policy: "none"},
		// Case: allowed by the grammar, flagged as cosmetic.
		{txt: "V=DMARC1; P=Reject", problems: []string{"V:cosmetic", "P:cosmetic", "P:cosmetic"}, canonical: "v=DMARC1; p=reject", policy: "reject", msg: "lower case"},
		// Not DMARC records at all.
		{txt: "v=dmarc1; p=reject", problems: []string{"v:record-ignored"}, msg: "exactly \"DMARC1\""},
		{txt: "v=DMARC1 p=reject", problems: []string{"v:record-ignored"}, msg: "\";\" is missing after v=DMARC1"},
		{txt: "v=DMARC2; p=reject", problems: []string{"v:record-ignored"}, msg: "unsupported version"},
		{txt: "p=reject; v=DMARC1", problems: []string{":record-ignored"}, msg: "does not start with v=DMARC1"},
		{txt: " v=DMARC1; p=reject", problems: []string{":record-ignored"}, msg: "white space"},
		// p problems.
		{txt: "v=DMARC1; p=rejct; rua=mailto:a@example.org", problems: []string{"p:policy-ignored"},
			canonical: "v=DMARC1; p=none; rua=mailto:a@example.org", policy: "none", msg: `did you mean "reject"`},
		{txt: "v=DMARC1; p=rejct", problems: []string{"p:policy-ignored", ":policy-ignored"}, msg: "not a policy"},
		{txt: "v=DMARC1; rua=mailto:a@example.org", problems: []string{"p:policy-ignored"},
			canonical: "v=DMARC1; p=none; rua=mailto:a@example.org", policy: "none", msg: "act as if p=none"},
		{txt: "v=DMARC1", problems: []string{"p:policy-ignored"}, msg: "no DMARC policy at all"},
		{txt: "v=DMARC1; p=reject rua=mailto:a@example.org", problems: []string{"p:policy-ignored", ":policy-ignored"}, msg: "\";\" seems to be missing"},
		{txt: "v=DMARC1; p=", problems: []string{"p:policy-ignored", ":policy-ignored"}, msg: "empty"},
		// An invalid sp spoils the policy too (§6.6.3).
		{txt: "v=DMARC1; p=reject; sp=rejected; rua=mailto:a@example.org", problems: []string{"sp:policy-ignored"},
			canonical: "v=DMARC1; p=none; rua=mailto:a@example.org", policy: "none"},
		// Other tags: ignored, default applies.
		{txt: "v=DMARC1; p=reject; pct=150", problems: []string{"pct:tag-ignored"}, canonical: "v=DMARC1; p=reject", policy: "reject", msg: "over 100"},
		{txt: "v=DMARC1; p=reject; pct=50%", problems: []string{"pct:tag-ignored"}, canonical: "v=DMARC1; p=reject", policy: "reject", msg: "% sign"},
		{txt: "v=DMARC1; p=reject; adkim=strict", problems: []string{"adkim:tag-ignored"}, canonical: "v=DMARC1; p=reject", policy: "reject", msg: "adkim=s"},
		{txt: "v=DMARC1; p=reject; fo=0,1", problems: []string{"fo:tag-ignored"}, canonical: "v=DMARC1; p=reject", policy: "reject", msg: "separated by \":\""},
		{txt: "v=DMARC1; p=reject; fo=1:d", problems: []string{}, canonical: "v=DMARC1; p=reject; fo=1:d", policy: "reject"},
		{txt: "v=DMARC1; p=reject; rf=iodef", problems: []string{"rf:tag-ignored"}, canonical: "v=DMARC1; p=reject", policy: "reject", msg: "afrf"},
		{txt: "v=DMARC1; p=reject; ri=0", problems: []string{"ri:tag-ignored"}, canonical: "v=DMARC1; p=reject", policy: "reject"},
		{txt: "v=DMARC1; p=reject; ri=99999999999999999999", problems: []string{"ri:tag-ignored"}, canonical: "v=DMARC1; p=reject", policy: "reject", msg: "too large"},
		{txt: "v=DMARC1; p=reject; p=none", problems: []string{"p:tag-ignored"}, canonical: "v=DMARC1; p=reject", policy: "reject", msg: "more than once"},
		{txt: "v=DMARC1; p=reject; v=DMARC1", problems: []string{"v:tag-ignored"}, canonical: "v=DMARC1; p=reject", policy: "reject"},
		{txt: "v=DMARC1; p=reject; pct 50", problems: []string{"pct 50:tag-ignored"}, canonical: "v=DMARC1; p=reject", policy: "reject", msg: `missing "=" after "pct"`},
		{txt: "v=DMARC1; p=reject; 9x=1", problems: []string{"9x:tag-ignored"}, canonical: "v=DMARC1; p=reject", policy: "reject"},
		// Unknown tags are not syntax problems: receivers ignore them.
		{txt: "v=DMARC1; p=reject; rau=mailto:a@example.org", problems: []string{}, canonical: "v=DMARC1; p=reject", policy: "reject", unknown: "rau>rua"},
		{txt: "v=DMARC1; p=reject; policy=reject", problems: []string{}, canonical: "v=DMARC1; p=reject", policy: "reject", unknown: "policy>p"},
		{txt: "v=DMARC1; p=reject; zzzzz=1", problems: []string{}, canonical: "v=DMARC1; p=reject", policy: "reject", unknown: "zzzzz>"},
		// DMARCbis tags are known, validated and left to receivers.
		{txt: "v=DMARC1; p=reject; np=reject; psd=n; t=n", problems: []string{}, canonical: "v=DMARC1; p=reject", policy: "reject"},
		{txt: "v=DMARC1; p=reject; t=maybe", problems: []string{"t:tag-ignored"}, canonical: "v=DMARC1; p=reject", policy: "reject"},
		// Report URIs: invalid ones are dropped from the canonical record.
		{txt: "v=DMARC1; p=none; rua=dmarc@example.org", problems: []string{}, canonical: "v=DMARC1; p=none", policy: "none"},
		{txt: "v=DMARC1; p=none; rua=mailto:a@example.org, mailto:b@example.net!10m", problems: []string{},
			canonical: "v=DMARC1; p=none; rua=mailto:a@example.org,mailto:b@example.net!10m", policy: "none"},
		{txt: "v=DMARC1; p=none\r\n; rua=mailto:a@example.org", problems: []string{":cosmetic"}, canonical: "v=DMARC1; p=none; rua=mailto:a@example.org", policy: "none"},
	}
	for _, tt := range tests {
		t.Run(tt.txt, func(t *testing.T) {
			r := Parse(tt.txt)
			if got := strings.Join(problemKeys(r.Problems), ","); got != strings.Join(tt.problems, ",") {
				t.Errorf("problems = %s, want %s\n%v", got, strings.Join(tt.problems, ","), r.Problems)
			}
			if r.Canonical != tt.canonical {
				t.Errorf("canonical = %q, want %q", r.Canonical, tt.canonical)
			}
			if (r.Policy == nil) != (tt.canonical == "") {
				t.Fatalf("policy = %v, canonical %q", r.Policy, r.Canonical)
			}
			if r.Policy != nil && string(r.Policy.Policy) != tt.policy {
				t.Errorf("policy p = %q, want %q", r.Policy.Policy, tt.policy)
			}
			if tt.unknown != "" {
				name, sug, _ := strings.Cut(tt.unknown, ">")
				if len(r.Unknown) == 0 || r.Unknown[0].Name != name || r.Suggest[0] != sug {
					t.Errorf("unknown = %v suggest %v, want %s -> %q", r.Unknown, r.Suggest, name, sug)
				}
			} else if len(r.Unknown) > 0 {
				t.Errorf("unexpected unknown tags %v", r.Unknown)
			}
			if tt.msg != "" && (len(r.Problems) == 0 || !strings.Contains(r.Problems[0].Message, tt.msg)) {
				t.Errorf("first problem %v does not mention %q", r.Problems, tt.msg)
			}
		})
	}
}

func TestParseRepaired(t *testing.T) {
	for txt, want := range map[string]string{
		"p=reject; v=DMARC1; rua=mailto:a@example.org": "v=DMARC1; p=reject; rua=mailto:a@example.org",
		"v=dmarc1; p=quarantine":                       "v=DMARC1; p=quarantine",
		"v=DMARC1 p=reject":                            "v=DMARC1; p=reject",
	} {
		r := Parse(txt)
		if r.Policy != nil || r.Repaired == nil || r.Repaired.Canonical != want {
			t.Errorf("Parse(%q): policy %v, repaired %+v; want repaired canonical %q", txt, r.Policy, r.Repaired, want)
		}
	}
}

func TestIsDMARC(t *testing.T) {
	for txt, want := range map[string]bool{
		"v=DMARC1; p=reject": true, "v=DMARC1": true, "v = DMARC1;p=none": true, "V=DMARC1; p=none": true,
		"v=dmarc1; p=none": false, "v=DMARC10; p=none": false, "v=spf1 -all": false, "p=reject; v=DMARC1": false, "": false,
	} {
		if got := IsDMARC(txt); got != want {
			t.Errorf("IsDMARC(%q) = %v, want %v", txt, got, want)
		}
	}
	for txt, want := range map[string]bool{
		"v=dmarc1; p=none": true, "p=reject; v=DMARC1": true, "v=DMARC1; p=none": false, "v=spf1 -all": false, "google-site-verification=x": false,
	} {
		if got := LooksLikeDMARC(txt); got != want {
			t.Errorf("LooksLikeDMARC(%q) = %v, want %v", txt, got, want)
		}
	}
}

func TestParseReportURI(t *testing.T) {
	tests := []struct {
		raw, host, limit, err, repaired string
	}{
		{raw: "mailto:dmarc@example.org", host: "example.org"},
		{raw: "MAILTO:Dmarc@Example.ORG", host: "example.org"},
		{raw: "mailto:dmarc@example.org!10m", host: "example.org", limit: "10m"},
		{raw: "mailto:dmarc@example.org!50", host: "example.org", limit: "50"},
		{raw: "mailto:dmarc@example.org?subject=dmarc", host: "example.org"},
		{raw: "mailto:d%6Darc@example.org", host: "example.org"},
		{raw: "mailto:a!b@example.org", host: "example.org"},
		{raw: "mailto:dmarc@example.org!10x", err: "size limit"},
		{raw: "dmarc@example.org", err: "mailto: scheme is missing", repaired: "mailto:dmarc@example.org"},
		{raw: "dmarc@example.org!5m", err: "mailto: scheme is missing", repaired: "mailto:dmarc@example.org!5m"},
		{raw: "mailto://dmarc@example.org", err: "without \"//\"", repaired: "mailto:dmarc@example.org"},
		{raw: "https://reports.example/dmarc", err: "https: URIs are not supported"},
		{raw: "mailto:dmarc", err: "no \"@\""},
		{raw: "mailto:@example.org", err: "empty local part"},
		{raw: "mailto:dmarc@", err: "no domain"},
		{raw: "mailto:dmarc@localhost", err: "not a fully qualified domain"},
		{raw: "mailto:dmarc@exa mple.org", err: "white space"},
		{raw: "mailto:dmarc@bücher.example", err: "xn--bcher-kva.example", repaired: "mailto:dmarc@xn--bcher-kva.example"},
		{raw: "mailto:a@example.org%2Cb@example.org", err: "one address per URI"},
		{raw: "mailto:dm..arc@example.org", err: "local part"},
		{raw: "mailto:%zz@example.org", err: "percent-encoding"},
		{raw: "mailto:dmarc@-bad-.example", err: "domain of the address is invalid"},
		{raw: "1http://x", err: "not a valid URI scheme"},
		{raw: "", err: "empty entry"},
	}
	for _, tt := range tests {
		u := ParseReportURI(tt.raw)
		if tt.err == "" {
			if u.Err != "" || u.Host != tt.host || u.Limit != tt.limit || u.Scheme != "mailto" {
				t.Errorf("ParseReportURI(%q) = %+v; want host %q limit %q", tt.raw, u, tt.host, tt.limit)
			}
			continue
		}
		if !strings.Contains(u.Err, tt.err) || u.Repaired != tt.repaired || u.Valid() {
			t.Errorf("ParseReportURI(%q) = err %q repaired %q; want err containing %q, repaired %q", tt.raw, u.Err, u.Repaired, tt.err, tt.repaired)
		}
	}
}
