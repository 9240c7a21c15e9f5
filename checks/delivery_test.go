package checks_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// runDelivery runs the delivery check (with the checks whose facts it
// shares: the dane, smtp and mtasts checks run first in the same audit)
// against a fresh server of the DANE world, trusting the world's CA as
// the WebPKI (MTA-STS needs it).
func (w *daneWorld) runDelivery(t *testing.T, domain string, setup func(*dnstest.Server)) []checks.Finding {
	t.Helper()
	srv := dnstest.StartWorld(t, w.dns)
	if setup != nil {
		setup(srv)
	}
	n, err := resolve.ParseDomain(domain)
	if err != nil {
		t.Fatal(err)
	}
	env := checks.NewEnv(n, resolve.NewCache(srv.Resolver(time.Second)))
	env.Dialer, env.RootCAs = w.dialer, w.ca.Pool
	env.Options.DNSSEC.Anchors = w.dns.Anchors
	env.Options.ProbeTimeout = 5 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []checks.Finding
	for _, r := range checks.Run(ctx, env, []checks.Check{checks.DANE{}, checks.SMTP{}, checks.MTASTS{}, checks.Delivery{}}) {
		if r.Name == "delivery" {
			out = r.Findings
			if _, err := json.Marshal(r.Data); err != nil {
				t.Errorf("data does not marshal: %v", err)
			}
		}
	}
	return out
}

// deliveryCase is one domain's expected delivery findings.
type deliveryCase struct {
	domain string
	want   []string // exact "severity id" list, sorted
	text   []string // substrings some message contains
}

// checkDelivery compares the findings with the case.
func checkDelivery(t *testing.T, tc deliveryCase, fs []checks.Finding) {
	t.Helper()
	for _, f := range fs {
		if f.Severity == checks.Fail && (f.Fix == "" || f.RFC == "") {
			t.Errorf("%s lacks a fix or an RFC", f.ID)
		}
	}
	compareFindings(t, fs, tc.want, tc.text)
}

// compareFindings fails t unless fs are exactly want ("severity id",
// sorted) and every string of text stands in a message or a fix.
func compareFindings(t *testing.T, fs []checks.Finding, want, text []string) {
	t.Helper()
	var got []string
	all := ""
	for _, f := range fs {
		got = append(got, string(f.Severity)+" "+f.ID)
		all += f.Message + "\nfix: " + f.Fix + "\n"
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("findings %q, want %q:\n%s", got, want, all)
	}
	for _, s := range text {
		if !strings.Contains(all, s) {
			t.Errorf("no message or fix contains %q:\n%s", s, all)
		}
	}
}

// TestDeliveryDANE: the DANE verdict per MX host through the real wire
// path of the dane check's world (signed zones, test DNS server,
// validator, in-process SMTP servers), with MTA-STS on three domains.
func TestDeliveryDANE(t *testing.T) {
	w := startDANEWorld(t)
	servfail := func(s *dnstest.Server) { s.SetType("_25._tcp.mx.sfail.test.", dns.TypeTLSA, dnstest.ServFail) }
	cases := []struct {
		deliveryCase
		setup func(*dnstest.Server)
	}{
		{deliveryCase{"ee.test", []string{"pass delivery.ok"}, []string{
			"mx.ee.test: a sender enforcing DANE will deliver here, because a TLSA record at _25._tcp.mx.ee.test. matches the certificate 192.0.2.101 presents; a sender enforcing MTA-STS will deliver here as to any server, without MTA-STS's protection, because ee.test publishes no MTA-STS policy"}}, nil},
		{deliveryCase{"alias.test", []string{"pass delivery.ok"}, []string{"mx.alias.test: a sender enforcing DANE will deliver here, because a TLSA record at _25._tcp.mx.ee.test. matches"}}, nil},
		{deliveryCase{"mismatch.test", []string{"fail delivery.blocked"}, []string{"a sender enforcing DANE will not deliver here, because no TLSA record at _25._tcp.mx.mismatch.test. matches the certificate 192.0.2.101 presents"}}, nil},
		{deliveryCase{"pkixonly.test", []string{"pass delivery.ok"}, []string{"it encrypts but authenticates nothing"}}, nil},
		{deliveryCase{"plain.test", []string{"info delivery.unprotected"}, []string{"the TLSA records at _25._tcp.mx.plain.test. are not DNSSEC-secure"}}, nil},
		{deliveryCase{"none.test", []string{"info delivery.unprotected"}, []string{"because there are no TLSA records at _25._tcp.mx.none.test."}}, nil},
		{deliveryCase{"bogus.test", []string{"fail delivery.blocked"}, []string{"the TLSA lookup of _25._tcp.mx.bogus.test. fails or is bogus"}}, nil},
		{deliveryCase{"sfail.test", []string{"fail delivery.blocked"}, []string{"such a sender defers the mail"}}, servfail},
		{deliveryCase{"nostarttls.test", []string{"fail delivery.blocked"}, []string{"192.0.2.106 offers no working STARTTLS"}}, nil},
		{deliveryCase{"unreach.test", []string{"error delivery.not-evaluated"}, []string{"whether a sender enforcing DANE will deliver here was not evaluated, because the session with 192.0.2.107 could not be inspected"}}, nil},
		// MTA-STS never overrides a failing DANE (RFC 8461 §2).
		{deliveryCase{"both.test", []string{"fail delivery.blocked"}, []string{
			"a sender enforcing MTA-STS will not deliver here, because DANE takes precedence over MTA-STS (RFC 8461 §2) and fails here; the MTA-STS policy alone would let it deliver (the policy is enforced, mx.both.test matches mx.both.test and 192.0.2.108 offers valid TLS)"}}, nil},
		{deliveryCase{"bothok.test", []string{"pass delivery.ok"}, []string{
			"a sender enforcing DANE will deliver here, because a TLSA record at _25._tcp.mx.bothok.test. matches the certificate 192.0.2.108 presents; a sender enforcing MTA-STS will deliver here, because the policy is enforced"}}, nil},
		{deliveryCase{"stsbad.test", []string{"fail delivery.blocked"}, []string{
			"a sender enforcing MTA-STS will not deliver here, because the policy is enforced and mx.stsbad.test[192.0.2.101]:25: the certificate is for mx.ee.test", "(a sender that also implements DANE uses DANE here, RFC 8461 §2, and delivers)"}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.domain, func(t *testing.T) {
			checkDelivery(t, tc.deliveryCase, w.runDelivery(t, tc.domain, tc.setup))
		})
	}
}

// TestDeliveryMTASTS: the MTA-STS verdict per MX host through the real
// wire path of the mtasts check's world.
func TestDeliveryMTASTS(t *testing.T) {
	w := startMTASTSWorld(t)
	cases := []struct {
		deliveryCase
		opts checks.Options
	}{
		{deliveryCase{"ok.mtasts.test", []string{"pass delivery.ok"}, []string{
			"mx.mtasts.test: a sender enforcing DANE will deliver here as to any server, without DANE's protection, because there are no TLSA records at _25._tcp.mx.mtasts.test.; a sender enforcing MTA-STS will deliver here, because the policy is enforced, mx.mtasts.test matches mx.mtasts.test and 192.0.2.1 offers valid TLS"}}, checks.Options{}},
		{deliveryCase{"none.mtasts.test", []string{"info delivery.unprotected"}, []string{"because none.mtasts.test publishes no MTA-STS policy"}}, checks.Options{}},
		{deliveryCase{"testing.mtasts.test", []string{"info delivery.unprotected"}, []string{"the MTA-STS policy is in mode testing, which senders do not enforce"}}, checks.Options{}},
		{deliveryCase{"withdrawn.mtasts.test", []string{"info delivery.unprotected"}, []string{"mode none"}}, checks.Options{}},
		{deliveryCase{"unmatched.mtasts.test", []string{"fail delivery.blocked"}, []string{"a sender enforcing MTA-STS will not deliver here, because mx.mtasts.test matches no mx pattern of the enforced policy (mail.elsewhere.test)"}}, checks.Options{}},
		{deliveryCase{"names.mtasts.test", []string{"fail delivery.blocked"}, []string{"wrong.mtasts.test[192.0.2.2]:25: the certificate is for mail.elsewhere.test, not wrong.mtasts.test"}}, checks.Options{}},
		{deliveryCase{"plainmx.mtasts.test", []string{"error delivery.not-evaluated", "fail delivery.blocked"}, []string{"plain.mtasts.test[192.0.2.3]:25: it offers no STARTTLS", "down.mtasts.test: a sender enforcing DANE will deliver here as to any server"}}, checks.Options{}},
		{deliveryCase{"ipmx.mtasts.test", []string{"info delivery.unprotected"}, []string{"the MTA-STS policy has syntax errors"}}, checks.Options{}},
		{deliveryCase{"notfound.mtasts.test", []string{"info delivery.unprotected"}, []string{"senders cannot fetch the MTA-STS policy (status)"}}, checks.Options{}},
		{deliveryCase{"badid.mtasts.test", []string{"info delivery.unprotected"}, []string{"the MTA-STS record of badid.mtasts.test is invalid"}}, checks.Options{}},
		{deliveryCase{"slow.mtasts.test", []string{"error delivery.not-evaluated"}, []string{"was not evaluated, because the MTA-STS policy could not be fetched"}}, checks.Options{ProbeTimeout: 300 * time.Millisecond}},
		{deliveryCase{"servfail.mtasts.test", []string{"error delivery.not-evaluated"}, []string{"the MTA-STS record lookup failed: SERVFAIL"}}, checks.Options{}},
		{deliveryCase{"ok.mtasts.test", []string{"error delivery.not-evaluated"}, []string{"--offline"}}, checks.Options{Offline: true}},
	}
	for _, tc := range cases {
		t.Run(tc.domain, func(t *testing.T) {
			res := w.run(t, tc.domain, tc.opts, checks.SMTP{}, checks.MTASTS{}, checks.DANE{}, checks.Delivery{})
			checkDelivery(t, tc.deliveryCase, res["delivery"].Findings)
		})
	}
}

// TestDeliveryAlone: run without the checks whose facts it shares, the
// delivery check establishes them itself (once) and says the same.
func TestDeliveryAlone(t *testing.T) {
	w := startDANEWorld(t)
	checkDelivery(t, deliveryCase{"mismatch.test", []string{"fail delivery.blocked"}, []string{"no TLSA record at _25._tcp.mx.mismatch.test. matches"}},
		w.run(t, checks.Delivery{}, "mismatch.test", nil))
	checkDelivery(t, deliveryCase{"ee.test", []string{"pass delivery.ok"}, nil}, w.run(t, checks.Delivery{}, "ee.test", nil))
}

// TestDeliveryNoHost: a null MX has no delivery to judge.
func TestDeliveryNoHost(t *testing.T) {
	z := dnstest.Zone(t, "example.org.", "@ 300 IN SOA ns hm 1 2 3 4 5\n@ 300 IN MX 0 .\n")
	n, _ := resolve.ParseDomain("example.org")
	env := checks.NewEnv(n, resolve.NewCache(&resolve.Zones{List: []*resolve.Zone{z}}))
	fs := checks.Delivery{}.Run(context.Background(), env).Findings
	if len(fs) != 1 || fs[0].ID != "delivery.no-host" || !strings.Contains(fs[0].Message, "null MX") {
		t.Errorf("null MX: %+v", fs)
	}
}
