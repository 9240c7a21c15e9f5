package checks

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/sharedtest"
)

func dmarcEnv(t *testing.T, domain string, srv *dnstest.Server) *Env {
	t.Helper()
	n, err := resolve.ParseName(domain)
	if err != nil {
		t.Fatal(err)
	}
	return NewEnv(n, resolve.NewCache(srv.Resolver(300*time.Millisecond)))
}

func startDMARCZones(t *testing.T) *dnstest.Server {
	t.Helper()
	files, err := filepath.Glob("../testdata/zones/dmarc/*.zone")
	if err != nil || len(files) == 0 {
		t.Fatalf("no DMARC fixtures: %v", err)
	}
	return dnstest.Start(t, append(files, "../testdata/zones/example.org.zone")...)
}

// findingKeys renders findings as "id:severity".
func findingKeys(fs []Finding) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID+":"+string(f.Severity))
	}
	return strings.Join(out, " ")
}

func TestDMARC(t *testing.T) {
	srv := startDMARCZones(t)
	srv.Set("_dmarc.servfail.policy.example", dnstest.ServFail)
	srv.Set("_dmarc.slow.policy.example", dnstest.Drop)
	srv.Set("_dmarc.policy.example", dnstest.Normal)
	tests := []struct {
		domain string
		want   string // findings "id:severity" in order
		msg    string // substring of one finding's message
		fix    string // substring of the first finding with a fix
	}{
		{"example.org", "dmarc.ok:pass",
			"DMARC policy for example.org: quarantine (found at _dmarc.example.org; subdomains: reject)", ""},
		{"good.policy.example", "dmarc.ok:pass", "reject (found at _dmarc.good.policy.example)", ""},
		{"inherit.policy.example", "dmarc.ok:pass dmarc.inherited:info dmarc.subdomain-weaker:warn",
			"quarantine (inherited from _dmarc.policy.example through sp=quarantine)", ""},
		{"none.policy.example", "dmarc.policy-none:warn", "p=none",
			`_dmarc.none.policy.example. IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@policy.example"`},
		{"pct.policy.example", "dmarc.ok:pass dmarc.pct-partial:warn", "quarantine on 25% of failing mail",
			`"v=DMARC1; p=quarantine; rua=mailto:dmarc@policy.example"`},
		{"spweak.policy.example", "dmarc.ok:pass dmarc.subdomain-weaker:warn", "reject",
			`"v=DMARC1; p=reject; rua=mailto:dmarc@policy.example"`},
		{"norua.policy.example", "dmarc.ok:pass dmarc.no-rua:info", "reject",
			`"v=DMARC1; p=reject; rua=mailto:dmarc-reports@norua.policy.example"`},
		{"multiple.policy.example", "dmarc.multiple:fail", "has 2 DMARC records",
			`publish only _dmarc.multiple.policy.example. IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@policy.example"`},
		{"syntax.policy.example", "dmarc.syntax:fail dmarc.syntax:warn dmarc.unknown-tag:warn",
			`tag p at _dmarc.syntax.policy.example: p="rejct": "rejct" is not a policy: it must be none, quarantine or reject (did you mean "reject"?); receivers cannot use the policy (§6.6.3); as the record has a valid rua, receivers act as if p=none`,
			`"v=DMARC1; p=reject; rua=mailto:dmarc@policy.example"`},
		{"nopolicy.policy.example", "dmarc.syntax:fail dmarc.syntax:fail", `p="rejct"`, `"v=DMARC1; p=reject; rua=mailto:dmarc-reports@nopolicy.policy.example"`},
		{"nov.policy.example", "dmarc.ok:pass dmarc.syntax:fail dmarc.inherited:info dmarc.subdomain-weaker:warn", "the TXT record at _dmarc.nov.policy.example is not a DMARC record",
			`replace it with _dmarc.nov.policy.example. IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@policy.example"`},
		{"badrua.policy.example", "dmarc.ok:pass dmarc.rua-invalid:warn dmarc.rua-invalid:warn dmarc.no-rua:info", "reject",
			`"v=DMARC1; p=reject; rua=mailto:dmarc@policy.example"`},
		{"external.policy.example", "dmarc.ok:pass dmarc.rua-unauthorized:warn dmarc.ruf-unauthorized:warn", "aggregate reports to 1 address(es) (1 more not authorized)",
			`publish external.policy.example._report._dmarc.noauth.example. IN TXT "v=DMARC1"`},
		{"cname.policy.example", "dmarc.ok:pass", "found at _dmarc.cname.policy.example", ""},
		{"upper.policy.example", "dmarc.ok:pass dmarc.syntax:info dmarc.syntax:info", "reject", `"v=DMARC1; p=reject; rua=mailto:dmarc@policy.example"`},
		{"nodmarc.example", "dmarc.missing:fail", "no DMARC record at _dmarc.nodmarc.example:",
			`_dmarc.nodmarc.example. IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@nodmarc.example" — start with p=none`},
		{"sub.nodmarc.example", "dmarc.missing:fail", "no DMARC record at _dmarc.sub.nodmarc.example nor at _dmarc.nodmarc.example (its organizational domain)", ""},
		{"nullmx.example", "dmarc.missing:fail", "no DMARC record", `_dmarc.nullmx.example. IN TXT "v=DMARC1; p=reject; sp=reject; adkim=s; aspf=s"`},
		{"order.policy.example", "dmarc.ok:pass dmarc.p-not-second:warn", "p is not the tag right after v=DMARC1",
			`_dmarc.order.policy.example. IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@policy.example; adkim=s"`},
		{"testing.policy.example", "dmarc.ok:pass dmarc.testing:warn", "receivers implementing DMARCbis (RFC 9989) apply p=reject as quarantine",
			`_dmarc.testing.policy.example. IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@policy.example"`},
		{"manyrua.policy.example", "dmarc.ok:pass dmarc.too-many-uris:warn", "lists 3 rua destinations: receivers need only support 2",
			`"v=DMARC1; p=reject; rua=mailto:a@policy.example,mailto:b@policy.example"`},
		{"deadrua.policy.example", "dmarc.ok:pass dmarc.report-undeliverable:warn dmarc.report-undeliverable:warn", "nomail.policy.example publishes a null MX",
			`"v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@deadrua.policy.example; ruf=mailto:f@policy.example"`},
		{"junkauth.policy.example", "dmarc.ok:pass dmarc.rua-unauthorized:warn", "is not a list of tag=value pairs",
			`_dmarc.junkauth.policy.example. IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc-reports@junkauth.policy.example"`},
		{"gone.policy.example", "dmarc.nxdomain:error", "gone.policy.example does not exist (NXDOMAIN for MX gone.policy.example from ", ""},
		{"nullmxok.example", "dmarc.ok:pass", "reject", ""},
		{"servfail.policy.example", "dmarc.temperror:error", "SERVFAIL", ""},
		{"slow.policy.example", "dmarc.temperror:error", "timeout", ""},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			res := DMARC{}.Run(context.Background(), dmarcEnv(t, tt.domain, srv))
			sharedtest.Dump(t, res)
			if got := findingKeys(res.Findings); got != tt.want {
				for _, f := range res.Findings {
					t.Logf("%s %s: %s [fix: %s]", f.ID, f.Severity, f.Message, f.Fix)
				}
				t.Fatalf("findings = %s\nwant %s", got, tt.want)
			}
			found := false
			for _, f := range res.Findings {
				found = found || strings.Contains(f.Message, tt.msg)
			}
			if !found {
				t.Errorf("no message contains %q", tt.msg)
			}
			if tt.fix != "" {
				found := false
				for _, f := range res.Findings {
					found = found || strings.Contains(f.Fix, tt.fix)
				}
				if !found {
					for _, f := range res.Findings {
						t.Logf("%s fix: %s", f.ID, f.Fix)
					}
					t.Errorf("no fix contains %q", tt.fix)
				}
			}
			ids := map[string]bool{}
			for _, s := range (DMARC{}).Meta().Findings {
				ids[s.ID] = true
			}
			for _, f := range res.Findings {
				if !ids[f.ID] {
					t.Errorf("finding %s is not listed in Meta", f.ID)
				}
				if f.Severity != Error && f.Severity != Pass && f.Severity != Info && f.Fix == "" {
					t.Errorf("%s (%s) has no fix", f.ID, f.Severity)
				}
			}
			if _, err := json.Marshal(res.Data); err != nil {
				t.Errorf("data does not marshal: %v", err)
			}
		})
	}
}

// A fix never proposes a destination that another finding calls
// unauthorized or unable to receive mail.
func TestDMARCFixKeepsNoRefusedDestination(t *testing.T) {
	srv := startDMARCZones(t)
	for domain, bad := range map[string]string{"external.policy.example": "agg@noauth.example", "deadrua.policy.example": "gone.policy.example"} {
		res := DMARC{}.Run(context.Background(), dmarcEnv(t, domain, srv))
		sharedtest.Dump(t, res)
		for _, f := range res.Findings {
			if strings.Contains(f.Fix, "rua=") && strings.Contains(f.Fix, bad) {
				t.Errorf("%s: %s fix reuses %s: %s", domain, f.ID, bad, f.Fix)
			}
		}
	}
}

func TestDMARCAuthorizationTemperror(t *testing.T) {
	srv := startDMARCZones(t)
	srv.Set("external.policy.example._report._dmarc.reports.example", dnstest.ServFail)
	res := DMARC{}.Run(context.Background(), dmarcEnv(t, "external.policy.example", srv))
	sharedtest.Dump(t, res)
	got := findingKeys(res.Findings)
	want := "dmarc.ok:pass dmarc.temperror:error dmarc.rua-unauthorized:warn dmarc.ruf-unauthorized:warn"
	if got != want {
		t.Fatalf("findings = %s, want %s", got, want)
	}
	if !strings.Contains(res.Findings[1].Message, "reports.example") || !strings.Contains(res.Findings[1].Message, "SERVFAIL") {
		t.Errorf("temperror message %q", res.Findings[1].Message)
	}
}

func TestDMARCData(t *testing.T) {
	srv := startDMARCZones(t)
	res := DMARC{}.Run(context.Background(), dmarcEnv(t, "inherit.policy.example", srv))
	sharedtest.Dump(t, res)
	b, err := json.Marshal(res.Data)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Lookup struct {
			Status       string `json:"status"`
			OrgDomain    string `json:"org_domain"`
			PolicyDomain string `json:"policy_domain"`
			Inherited    bool   `json:"inherited"`
		} `json:"lookup"`
		Effective   string `json:"effective_policy"`
		Pct         int    `json:"pct"`
		Recommended string `json:"recommended"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Lookup.Status != "found" || got.Lookup.OrgDomain != "policy.example" || got.Lookup.PolicyDomain != "policy.example" ||
		!got.Lookup.Inherited || got.Effective != "quarantine" || got.Pct != 100 ||
		got.Recommended != "v=DMARC1; p=reject; rua=mailto:dmarc@policy.example" {
		t.Errorf("data = %s", b)
	}
}

// TestDMARCIDN audits an IDN given in Unicode: discovery uses A-labels.
func TestDMARCIDN(t *testing.T) {
	srv := dnstest.StartZones(t, dnstest.Zone(t, "xn--bcher-kva.example.", `$ORIGIN xn--bcher-kva.example.
@ 3600 IN SOA ns1 hostmaster 1 7200 3600 1209600 300
_dmarc 3600 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@xn--bcher-kva.example"
@ 3600 IN MX 10 mail
www 3600 IN A 192.0.2.1
`))
	res := DMARC{}.Run(context.Background(), dmarcEnv(t, "www.bücher.example", srv))
	sharedtest.Dump(t, res)
	if got := findingKeys(res.Findings); got != "dmarc.ok:pass dmarc.inherited:info" {
		t.Fatalf("findings = %s", got)
	}
	if !strings.Contains(res.Findings[0].Message, "_dmarc.xn--bcher-kva.example") {
		t.Errorf("message %q", res.Findings[0].Message)
	}
}

// A report destination whose MX lookup fails is an error, not
// undeliverable, and the fix keeps it (nothing was observed against it).
func TestDMARCDestinationTemperror(t *testing.T) {
	srv := startDMARCZones(t)
	srv.Set("nomail.policy.example", dnstest.ServFail)
	res := DMARC{}.Run(context.Background(), dmarcEnv(t, "deadrua.policy.example", srv))
	sharedtest.Dump(t, res)
	if got := findingKeys(res.Findings); got != "dmarc.ok:pass dmarc.temperror:error dmarc.report-undeliverable:warn" {
		t.Fatalf("findings = %s", got)
	}
	if f := res.Findings[1]; !strings.Contains(f.Message, "nomail.policy.example") || !strings.Contains(f.Message, "SERVFAIL") {
		t.Errorf("temperror %q", f.Message)
	}
	if fix := res.Findings[2].Fix; !strings.Contains(fix, "rua=mailto:d@nomail.policy.example;") || strings.Contains(fix, "gone.policy.example") {
		t.Errorf("fix %q", fix)
	}
}
