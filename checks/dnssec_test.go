package checks_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

const dnssecMail = "@ 3600 IN MX 10 mx\nmx 3600 IN A 192.0.2.1\n_dmarc 3600 IN TXT \"v=DMARC1; p=none\"\n"

// runDNSSEC runs the dnssec check for domain against a signed world.
func runDNSSEC(t *testing.T, domain string, setup func(*dnstest.Server)) []checks.Finding {
	t.Helper()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	w := dnstest.NewWorld(t, now,
		dnstest.SignedSpec{Origin: "test."},
		dnstest.SignedSpec{Origin: "example.test.", Records: dnssecMail},
		dnstest.SignedSpec{Origin: "plain.test.", Records: dnssecMail, Unsigned: true},
		dnstest.SignedSpec{Origin: "broken.test.", Records: dnssecMail, DS: dnstest.DSWrongKey},
		dnstest.SignedSpec{Origin: "old.test.", Records: dnssecMail, Algorithm: dns.RSASHA1, DS: dnstest.DSSHA1, Expires: 48 * time.Hour},
		dnstest.SignedSpec{Origin: "capped.test.", Records: dnssecMail, NSEC3: true, Iterations: 151})
	srv := dnstest.StartWorld(t, w)
	if setup != nil {
		setup(srv)
	}
	n, err := resolve.ParseDomain(domain)
	if err != nil {
		t.Fatal(err)
	}
	env := checks.NewEnv(n, resolve.NewCache(srv.Resolver(time.Second)))
	env.Now = func() time.Time { return now }
	env.Options.DNSSEC.Anchors = w.Anchors
	return checks.DNSSEC{}.Run(context.Background(), env).Findings
}

func TestDNSSECCheck(t *testing.T) {
	validating := func(s *dnstest.Server) { s.SetAD(true) }
	cases := []struct {
		name, domain string
		setup        func(*dnstest.Server)
		want         []string // "severity id: text" substrings, one per finding, in order
	}{
		{"secure", "example.test", nil, []string{
			"info dnssec.resolver-not-validating: the resolver does not show that it validates DNSSEC (DNSKEY . came back from",
			"pass dnssec.secure: MX example.test is secure", "pass dnssec.secure: TXT _dmarc.example.test",
			"pass dnssec.secure: TXT _mta-sts.example.test", "pass dnssec.secure: A mx.example.test"}},
		{"insecure", "plain.test", validating, []string{
			"info dnssec.insecure: MX plain.test is insecure", "info dnssec.insecure", "info dnssec.insecure", "info dnssec.insecure"}},
		{"bogus", "broken.test", validating, []string{
			"fail dnssec.bogus: MX broken.test is bogus: DNSKEY broken.test.: no key matches the DS", "fail dnssec.bogus", "fail dnssec.bogus", "fail dnssec.bogus"}},
		{"weak and expiring", "old.test", validating, []string{
			"pass dnssec.secure", "pass dnssec.secure", "pass dnssec.secure", "pass dnssec.secure",
			"warn dnssec.weak-digest: DS old.test. (key tag", "warn dnssec.weak-algorithm: DNSKEY old.test.", "warn dnssec.expiring: RRSIG"}},
		{"NSEC3 iterations over the cap", "capped.test", validating, []string{
			"pass dnssec.secure: MX capped.test is secure",
			"warn dnssec.insecure: TXT _mta-sts.capped.test is insecure although capped.test is signed: the proof for TXT _mta-sts.capped.test.: the NSEC3 records of capped.test. use 151 iterations",
			"| fix: re-sign capped.test with NSEC3 iterations 0 and an empty salt (RFC 9276 §3.1), or use NSEC",
			"warn dnssec.nsec3-iterations"}},
		{"resolver bogus", "example.test", func(s *dnstest.Server) {
			s.SetAD(true)
			s.SetType("_dmarc.example.test.", dns.TypeTXT, dnstest.BogusServFail)
		}, []string{
			"fail dnssec.resolver-bogus: the validating resolver answers SERVFAIL from 127.0.0.1", "TXT _dmarc.example.test bogus (Extended DNS Error 6 (DNSSEC Bogus)",
			"pass dnssec.secure", "pass dnssec.secure", "pass dnssec.secure", "pass dnssec.secure"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := runDNSSEC(t, tc.domain, tc.setup)
			var got []string
			for _, f := range fs {
				got = append(got, string(f.Severity)+" "+f.ID+": "+f.Message+" | fix: "+f.Fix)
			}
			all := strings.Join(got, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("no finding containing %q in\n%s", w, all)
				}
			}
			if tc.name == "secure" && len(fs) != len(tc.want) {
				t.Errorf("%d findings, want %d:\n%s", len(fs), len(tc.want), all)
			}
		})
	}
}

// TestDNSSECOffline: zone files are unsigned; offline, the check says it
// did not evaluate (an error finding: the check is not evaluated), and
// never fails.
func TestDNSSECOffline(t *testing.T) {
	z := dnstest.Zone(t, "example.org.", "@ 300 IN SOA ns hm 1 2 3 4 5\n@ 300 IN MX 10 mx\n")
	n, _ := resolve.ParseDomain("example.org")
	for _, offline := range []bool{true, false} {
		env := checks.NewEnv(n, resolve.NewCache(&resolve.Zones{List: []*resolve.Zone{z}}))
		env.Options.Offline = offline
		fs := checks.DNSSEC{}.Run(context.Background(), env).Findings
		if len(fs) != 1 || fs[0].ID != "dnssec.not-evaluated" || fs[0].Severity != checks.Error {
			t.Errorf("offline=%v: %+v", offline, fs)
		}
	}
}

// TestDNSSECCheckTLSA: the dnssec check states the TLSA name of each MX
// host that has TLSA records, from the fact the dane check shares: run
// after the dane check, with no cache in front of the server, it sends
// no TLSA question of its own. (Server.Duplicates does not apply: the
// plain, DO=1 and CD=1 forms of a question count as one.)
func TestDNSSECCheckTLSA(t *testing.T) {
	w := startDANEWorld(t)
	cases := []struct {
		domain string
		want   string // the TLSA statement; "" for none
	}{
		{"ee.test", "pass dnssec.secure: TLSA _25._tcp.mx.ee.test is secure: signed and validated from the trust anchor through . → test. → ee.test."},
		{"alias.test", "pass dnssec.secure: TLSA _25._tcp.mx.ee.test is secure"},
		{"plain.test", "info dnssec.insecure: TLSA _25._tcp.mx.plain.test is insecure (no DNSSEC): the delegation to plain.test. has no DS record in test."},
		{"bogus.test", "fail dnssec.bogus: TLSA _25._tcp.mx.bogus.test is bogus: TLSA _25._tcp.mx.bogus.test.: RRSIG key tag"},
		{"none.test", ""},
	}
	for _, tc := range cases {
		t.Run(tc.domain, func(t *testing.T) {
			srv := dnstest.StartWorld(t, w.dns)
			n, _ := resolve.ParseDomain(tc.domain)
			env := checks.NewEnv(n, srv.Resolver(time.Second))
			env.Dialer = w.dialer
			env.Options.DNSSEC.Anchors = w.dns.Anchors
			checks.DANE{}.Run(context.Background(), env)
			name := "_25._tcp.mx." + tc.domain
			if tc.domain == "alias.test" {
				name = "_25._tcp.mx.ee.test"
			}
			before := srv.Count(name, dns.TypeTLSA)
			fs := checks.DNSSEC{}.Run(context.Background(), env).Findings
			var tlsa []string
			for _, f := range fs {
				if s := string(f.Severity) + " " + f.ID + ": " + f.Message; strings.Contains(s, ": TLSA ") {
					tlsa = append(tlsa, s)
				}
			}
			switch {
			case tc.want == "" && len(tlsa) > 0:
				t.Errorf("unexpected TLSA statements %q", tlsa)
			case tc.want != "" && (len(tlsa) != 1 || !strings.HasPrefix(tlsa[0], tc.want)):
				t.Errorf("TLSA statements %q, want one starting %q", tlsa, tc.want)
			}
			if after := srv.Count(name, dns.TypeTLSA); before == 0 || after != before {
				t.Errorf("TLSA %s: %d questions after the dane check, %d after the dnssec check", name, before, after)
			}
		})
	}
}
