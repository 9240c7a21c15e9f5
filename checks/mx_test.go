package checks_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/sharedtest"
)

// startMXServer serves the MX/PTR case zones with the failures the cases
// need.
func startMXServer(t *testing.T) *dnstest.Server {
	t.Helper()
	srv := dnstest.Start(t,
		"../testdata/zones/mx/mx.test.zone",
		"../testdata/zones/mx/2.0.192.in-addr.arpa.zone",
		"../testdata/zones/mx/8.b.d.0.1.0.0.2.ip6.arpa.zone")
	srv.Set("broken.mx.test", dnstest.ServFail)
	srv.Set("mail.hostfail.mx.test", dnstest.ServFail)
	srv.Set("5.2.0.192.in-addr.arpa", dnstest.ServFail)
	srv.Set("broken-fwd.mx.test", dnstest.ServFail)
	return srv
}

// runCheck audits domain with the given checks through a fresh cache in
// front of srv, as the CLI does, and returns the results.
func runCheck(t *testing.T, srv *dnstest.Server, domain string, opts checks.Options, list ...checks.Check) []checks.CheckResult {
	t.Helper()
	n, err := resolve.ParseName(domain)
	if err != nil {
		t.Fatal(err)
	}
	env := checks.NewEnv(n, resolve.NewCache(srv.Resolver(500*time.Millisecond)))
	env.Options = opts
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := checks.Run(ctx, env, list)
	sharedtest.Dump(t, res)
	for _, r := range res {
		assertCatalogued(t, r, list)
	}
	return res
}

// assertCatalogued fails when a finding's ID is not in the catalogue of
// the check that emitted it, or its fields are malformed.
func assertCatalogued(t *testing.T, r checks.CheckResult, list []checks.Check) {
	t.Helper()
	known := map[string]bool{}
	for _, s := range checks.RunnerSpecs {
		known[s.ID] = true
	}
	for _, c := range list {
		if c.Meta().Name == r.Name {
			for _, s := range c.Meta().Findings {
				known[s.ID] = true
			}
		}
	}
	for _, f := range r.Findings {
		if !known[f.ID] {
			t.Errorf("check %s emitted %q, which is not in its catalogue", r.Name, f.ID)
		}
		if !f.Severity.Valid() || f.Message == "" {
			t.Errorf("finding %s: severity %q, message %q", f.ID, f.Severity, f.Message)
		}
	}
}

// ids renders findings as sorted "id:severity" strings.
func ids(fs []checks.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID+":"+string(f.Severity))
	}
	sort.Strings(out)
	return out
}

func TestMX(t *testing.T) {
	srv := startMXServer(t)
	tests := []struct {
		domain       string
		allowPrivate bool
		want         []string
		message      string // a substring of some finding's message
		fix          string // a substring of some finding's fix
	}{
		{"ok.mx.test", false, []string{"mx.ok:pass"}, "1 MX host(s): 10 mail.ok.mx.test (192.0.2.1, 2001:db8::1)", ""},
		{"missing.mx.test", false, []string{"domain.nxdomain:fail"}, "missing.mx.test does not exist (NXDOMAIN", ""},
		{"implicit.mx.test", false, []string{"mx.implicit:info", "mx.missing:warn", "mx.no-ipv6:info"}, "mail for implicit.mx.test goes to 192.0.2.2 (implicit MX)", "IN MX 10 mail.implicit.mx.test."},
		{"nomail.mx.test", false, []string{"mx.missing:fail"}, "no MX record and no A/AAAA record", ""},
		{"null.mx.test", false, []string{"mx.null:info"}, "accepts no mail", `"v=spf1 -all"`},
		{"nullok.mx.test", false, []string{"mx.null:info"}, "with SPF -all and DMARC p=reject it also says it sends none", ""},
		{"nullspf.mx.test", false, []string{"mx.null:info"}, "accepts no mail", `if the domain also sends no mail, publish _dmarc.nullspf.mx.test. IN TXT "v=DMARC1; p=reject"`},
		{"nullmixed.mx.test", false, []string{"mx.null-mixed:fail"}, "beside 1 other MX record", ""},
		{"cname.mx.test", false, []string{"mx.cname:warn", "mx.ok:pass"}, "alias.cname.mx.test is an alias for mail.ok.mx.test", "point the MX directly at mail.ok.mx.test"},
		{"iplit.mx.test", false, []string{"mx.ip-literal:fail", "mx.unreachable-all:fail"}, `MX target "192.0.2.3" is an IP address`, ""},
		{"noaddr.mx.test", false, []string{"mx.no-address:fail", "mx.unreachable-all:fail"}, "ghost.noaddr.mx.test cannot receive mail: the name does not exist (NXDOMAIN)", ""},
		{"noaddr2.mx.test", false, []string{"mx.no-address:fail", "mx.unreachable-all:fail"}, "it has no A or AAAA record", ""},
		{"private.mx.test", false, []string{"mx.ok:pass", "mx.private-address:fail", "mx.unreachable-all:fail"}, "10.0.0.5, a private address", ""},
		{"private.mx.test", true, []string{"mx.no-ipv6:info", "mx.ok:pass"}, "", ""},
		{"loopback.mx.test", false, []string{"mx.ok:pass", "mx.private-address:fail", "mx.unreachable-all:fail"}, "127.0.0.1, a loopback address", ""},
		{"nov6.mx.test", false, []string{"mx.no-ipv6:info", "mx.ok:pass"}, "no MX host of nov6.mx.test has an IPv6 address", ""},
		{"dup.mx.test", false, []string{"mx.duplicate:info", "mx.ok:pass"}, "mail.ok.mx.test is listed more than once", ""},
		{"hostfail.mx.test", false, []string{"mx.temperror:error"}, "SERVFAIL from " + srv.Addr + " for A mail.hostfail.mx.test", ""},
		{"broken.mx.test", false, []string{"mx.temperror:error"}, "SERVFAIL from " + srv.Addr + " for MX broken.mx.test", ""},
		{"loopmx.mx.test", false, []string{"mx.temperror:error"}, "CNAME loop from " + srv.Addr + " for A l1.loopmx.mx.test: chain l1.loopmx.mx.test. -> l2.loopmx.mx.test. -> l1.loopmx.mx.test.", ""},
	}
	for _, tc := range tests {
		t.Run(tc.domain, func(t *testing.T) {
			res := runCheck(t, srv, tc.domain, checks.Options{AllowPrivate: tc.allowPrivate}, checks.MX{})
			got := ids(res[0].Findings)
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("findings = %v, want %v\n%+v", got, tc.want, res[0].Findings)
			}
			if tc.message != "" && !someField(res[0].Findings, func(f checks.Finding) string { return f.Message }, tc.message) {
				t.Errorf("no message contains %q: %+v", tc.message, res[0].Findings)
			}
			if tc.fix != "" && !someField(res[0].Findings, func(f checks.Finding) string { return f.Fix }, tc.fix) {
				t.Errorf("no fix contains %q: %+v", tc.fix, res[0].Findings)
			}
			// Never told to publish what it already has.
			if strings.HasPrefix(tc.domain, "null") && someField(res[0].Findings, func(f checks.Finding) string { return f.Fix }, "spf1") && tc.domain != "null.mx.test" {
				t.Errorf("fix repeats a published record: %+v", res[0].Findings)
			}
		})
	}
}

// TestMXNullNeverResolvesRoot: a null MX must not make mailcheck look up
// addresses for ".".
func TestMXNullNeverResolvesRoot(t *testing.T) {
	srv := startMXServer(t)
	runCheck(t, srv, "null.mx.test", checks.Options{}, checks.MX{}, checks.PTR{})
	for _, q := range []uint16{1, 28} {
		if n := srv.Count(".", q); n != 0 {
			t.Errorf("the root was queried %d times for type %d", n, q)
		}
	}
}

func TestPTR(t *testing.T) {
	srv := startMXServer(t)
	tests := []struct {
		domain       string
		allowPrivate bool
		want         []string
		message      string
		fix          string
	}{
		{"ok.mx.test", false, []string{"ptr.ok:pass", "ptr.ok:pass"}, "192.0.2.1 has PTR mail.ok.mx.test, which resolves back to it", ""},
		// An MX alias: the fixes name the canonical host, never the alias.
		{"cnameptr.mx.test", false, []string{"ptr.missing:fail"}, "192.0.2.9 (MX host alias.cnameptr.mx.test) has no PTR record",
			"set 9.2.0.192.in-addr.arpa. PTR real.cnameptr.mx.test. (the MX name alias.cnameptr.mx.test is an alias for real.cnameptr.mx.test)"},
		{"cnamemis.mx.test", false, []string{"ptr.mismatch:warn"}, "192.0.2.10 has PTR other.mx.test",
			"or set the PTR to real.cnamemis.mx.test. (the MX name"},
		{"implicit.mx.test", false, []string{"ptr.missing:fail"}, "192.0.2.2 (MX host implicit.mx.test) has no PTR record (NXDOMAIN for PTR 2.2.0.192.in-addr.arpa)", ""},
		{"nov6.mx.test", false, []string{"ptr.mismatch:warn"}, "192.0.2.4 has PTR other.mx.test, but no such name resolves back to 192.0.2.4", ""},
		{"ptrfail.mx.test", false, []string{"ptr.temperror:error"}, "SERVFAIL from " + srv.Addr + " for PTR 5.2.0.192.in-addr.arpa", ""},
		{"fwdfail.mx.test", false, []string{"ptr.temperror:error"}, "its forward lookup failed: SERVFAIL", ""},
		{"private.mx.test", false, []string{"ptr.skipped:info"}, "10.0.0.5 (mail.private.mx.test) is a private address", ""},
		{"private.mx.test", true, []string{"ptr.temperror:error"}, "REFUSED from " + srv.Addr + " for PTR 5.0.0.10.in-addr.arpa", ""},
		{"null.mx.test", false, []string{"ptr.skipped:info"}, "has no MX host address to check", ""},
		{"broken.mx.test", false, []string{"ptr.temperror:error"}, "the MX lookup failed", ""},
		{"missing.mx.test", false, []string{"ptr.nxdomain:error"}, "missing.mx.test does not exist (NXDOMAIN for MX missing.mx.test from ", ""},
	}
	for _, tc := range tests {
		t.Run(tc.domain, func(t *testing.T) {
			res := runCheck(t, srv, tc.domain, checks.Options{AllowPrivate: tc.allowPrivate}, checks.PTR{})
			got := ids(res[0].Findings)
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("findings = %v, want %v\n%+v", got, tc.want, res[0].Findings)
			}
			if !someField(res[0].Findings, func(f checks.Finding) string { return f.Message }, tc.message) {
				t.Errorf("no message contains %q: %+v", tc.message, res[0].Findings)
			}
			if tc.fix != "" && !someField(res[0].Findings, func(f checks.Finding) string { return f.Fix }, tc.fix) {
				t.Errorf("no fix contains %q: %+v", tc.fix, res[0].Findings)
			}
			if someField(res[0].Findings, func(f checks.Finding) string { return f.Fix }, "PTR alias.") {
				t.Errorf("a fix names the alias: %+v", res[0].Findings)
			}
		})
	}
}

func someField(fs []checks.Finding, field func(checks.Finding) string, want string) bool {
	for _, f := range fs {
		if strings.Contains(field(f), want) {
			return true
		}
	}
	return false
}

// TestAuditSendsNoQuestionTwice runs every registered check on one domain
// and counts what reached the server.
func TestAuditSendsNoQuestionTwice(t *testing.T) {
	srv := dnstest.Start(t, "../testdata/zones/example.org.zone", "../testdata/zones/2.0.192.in-addr.arpa.zone",
		"../testdata/zones/100.51.198.in-addr.arpa.zone", "../testdata/zones/5.2.0.0.8.b.d.0.1.0.0.2.ip6.arpa.zone")
	n, _ := resolve.ParseName("example.org")
	env := checks.NewEnv(n, resolve.NewCache(srv.Resolver(time.Second)))
	env.Options.Offline = true // no SMTP connections from this test
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res := checks.Run(ctx, env, checks.Registry())
	sharedtest.Dump(t, res)
	if len(res) != len(checks.Registry()) {
		t.Fatalf("%d results for %d checks", len(res), len(checks.Registry()))
	}
	if d := srv.Duplicates(); len(d) > 0 {
		t.Errorf("questions sent more than once in one audit: %v", d)
	}
	if srv.Total() == 0 {
		t.Error("no query reached the server")
	}
}

// A domain that does not exist gets one finding per check, saying so,
// and nothing that passes (no record of its parent is inherited).
func TestNXDomainAcrossChecks(t *testing.T) {
	srv := startMXServer(t)
	list := []checks.Check{checks.MX{}, checks.PTR{}, checks.SPF{}, checks.DMARC{}, checks.DKIM{}, checks.DNSBL{}}
	res := runCheck(t, srv, "missing.mx.test", checks.Options{}, list...)
	want := map[string]string{"mx": "domain.nxdomain:fail", "ptr": "ptr.nxdomain:error", "spf": "spf.nxdomain:error",
		"dmarc": "dmarc.nxdomain:error", "dkim": "dkim.nxdomain:error", "dnsbl": "dnsbl.nxdomain:error"}
	for _, r := range res {
		if got := strings.Join(ids(r.Findings), " "); got != want[r.Name] {
			t.Errorf("%s: findings %s, want %s", r.Name, got, want[r.Name])
		}
		for _, f := range r.Findings {
			if !strings.Contains(f.Message, "NXDOMAIN") {
				t.Errorf("%s: %s does not name the NXDOMAIN answer: %s", r.Name, f.ID, f.Message)
			}
		}
	}
	if d := srv.Duplicates(); len(d) > 0 {
		t.Errorf("questions asked twice: %v", d)
	}
}

// The null-MX fix does not claim a companion is missing when its lookup
// failed: it says the lookup failed.
func TestMXNullCompanionLookupFails(t *testing.T) {
	srv := startMXServer(t)
	srv.Set("_dmarc.nullspf.mx.test", dnstest.ServFail)
	res := runCheck(t, srv, "nullspf.mx.test", checks.Options{}, checks.MX{})
	f := res[0].Findings[0]
	if f.ID != "mx.null" || !strings.Contains(f.Fix, `publish _dmarc.nullspf.mx.test. IN TXT "v=DMARC1; p=reject" (unless already published: the DMARC lookup (SERVFAIL`) || strings.Contains(f.Fix, "spf1") {
		t.Errorf("%s fix %q", f.ID, f.Fix)
	}
}
