package checks_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/smtptest"
)

// daneWorld is a signed DNS world whose MX hosts map through the test
// dialer to in-process SMTP servers with test certificates.
type daneWorld struct {
	dns    *dnstest.World
	dialer *smtptest.Dialer
	leaf   string // the 3 1 1 record of the key of the servers at 192.0.2.101
	ca     *smtptest.CA
}

// spki311 is the DANE-EE SPKI SHA2-256 record data of cert.
func spki311(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

// mailZone is the zone text of a domain whose MX host mx has addr and the
// TLSA records tlsa ("3 1 1 …", none when empty).
func mailZone(addr string, tlsa ...string) string {
	s := fmt.Sprintf("@ 3600 IN MX 10 mx\nmx 3600 IN A %s\n", addr)
	for _, r := range tlsa {
		s += "_25._tcp.mx 3600 IN TLSA " + r + "\n"
	}
	return s
}

func startDANEWorld(t *testing.T) *daneWorld {
	t.Helper()
	ca := smtptest.NewCA(t, "dane test CA")
	inter := ca.Intermediate(t, "dane test intermediate", time.Now().AddDate(-1, 0, 0), time.Now().AddDate(1, 0, 0))
	issue := func(ca *smtptest.CA, name string) tls.Certificate {
		return ca.Issue(t, smtptest.CertOptions{Names: []string{name}})
	}
	ee, ta, other, next := issue(ca, "mx.ee.test"), issue(inter, "mx.ta.test"), issue(ca, "other.test"), issue(ca, "next.test")
	w := &daneWorld{dialer: smtptest.NewDialer(), leaf: "3 1 1 " + spki311(ee.Leaf), ca: ca}
	both := ca.Issue(t, smtptest.CertOptions{Names: []string{"mx.both.test", "mx.bothok.test"}})
	eeNext := "3 1 1 " + spki311(next.Leaf)
	w.dns = dnstest.NewWorld(t, time.Now(),
		dnstest.SignedSpec{Origin: "test."},
		dnstest.SignedSpec{Origin: "ee.test.", Records: mailZone("192.0.2.101", w.leaf, eeNext)},
		dnstest.SignedSpec{Origin: "ta.test.", Records: mailZone("192.0.2.102", "2 1 1 "+spki311(inter.Cert))},
		dnstest.SignedSpec{Origin: "mismatch.test.", Records: mailZone("192.0.2.101", "3 1 1 "+spki311(other.Leaf), eeNext)},
		dnstest.SignedSpec{Origin: "pkix.test.", Records: mailZone("192.0.2.101", "1 1 1 "+spki311(ee.Leaf), w.leaf, eeNext)},
		dnstest.SignedSpec{Origin: "pkixonly.test.", Records: mailZone("192.0.2.101", "0 1 1 "+spki311(ca.Cert))},
		dnstest.SignedSpec{Origin: "plain.test.", Records: mailZone("192.0.2.101", w.leaf), Unsigned: true},
		dnstest.SignedSpec{Origin: "bogus.test.", Records: mailZone("192.0.2.101", w.leaf, eeNext), BadSigTypes: []uint16{dns.TypeTLSA}},
		dnstest.SignedSpec{Origin: "sfail.test.", Records: mailZone("192.0.2.101")},
		dnstest.SignedSpec{Origin: "nostarttls.test.", Records: mailZone("192.0.2.106", w.leaf, eeNext)},
		dnstest.SignedSpec{Origin: "rollover.test.", Records: mailZone("192.0.2.101", w.leaf)},
		dnstest.SignedSpec{Origin: "none.test.", Records: mailZone("192.0.2.101")},
		dnstest.SignedSpec{Origin: "unreach.test.", Records: mailZone("192.0.2.107", w.leaf, eeNext)},
		dnstest.SignedSpec{Origin: "alias.test.", Records: "@ 3600 IN MX 10 mx\nmx 3600 IN CNAME mx.ee.test.\n"},
		// DANE and MTA-STS together (the delivery check): a DANE mismatch
		// under a sound enforce policy, both sound, a DANE match under a
		// policy whose MX certificate is for another name.
		dnstest.SignedSpec{Origin: "both.test.", Records: mailZone("192.0.2.108", "3 1 1 "+spki311(other.Leaf)) + stsZone},
		dnstest.SignedSpec{Origin: "bothok.test.", Records: mailZone("192.0.2.108", "3 1 1 "+spki311(both.Leaf)) + stsZone},
		dnstest.SignedSpec{Origin: "stsbad.test.", Records: mailZone("192.0.2.101", w.leaf, eeNext) + stsZone})
	serve := func(addr string, o smtptest.Options) { w.dialer.Map(addr, smtptest.Start(t, o).Addr) }
	serve("192.0.2.101:25", smtptest.Options{Hostname: "mx.ee.test", TLS: &tls.Config{Certificates: []tls.Certificate{ee}}})
	serve("192.0.2.102:25", smtptest.Options{Hostname: "mx.ta.test", TLS: &tls.Config{Certificates: []tls.Certificate{ta}}})
	serve("192.0.2.106:25", smtptest.Options{Hostname: "mx.nostarttls.test"})
	serve("192.0.2.108:25", smtptest.Options{Hostname: "mx.both.test", TLS: &tls.Config{Certificates: []tls.Certificate{both}}})
	w.dialer.Map("192.0.2.80:443", startSTSServer(t, ca, "both.test", "bothok.test", "stsbad.test"))
	return w
}

// stsZone publishes an MTA-STS record and policy host (192.0.2.80,
// startSTSServer) in a zone of the DANE world.
const stsZone = "_mta-sts 3600 IN TXT \"v=STSv1; id=1\"\nmta-sts 3600 IN A 192.0.2.80\n"

// startSTSServer serves, for each domain, an enforce policy naming
// mx.<domain> at https://mta-sts.<domain>/.well-known/mta-sts.txt, with a
// certificate from ca; it returns the listener's address.
func startSTSServer(t *testing.T, ca *smtptest.CA, domains ...string) string {
	t.Helper()
	var names []string
	for _, d := range domains {
		names = append(names, "mta-sts."+d)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		d := strings.TrimPrefix(r.Host, "mta-sts.")
		stsServe("text/plain", "version: STSv1\nmode: enforce\nmx: mx."+d+"\nmax_age: 86400\n")(rw, r)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, smtptest.CertOptions{Names: names})}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "https://")
}

// run runs check for domain against a fresh server of the world.
func (w *daneWorld) run(t *testing.T, c checks.Check, domain string, setup func(*dnstest.Server)) []checks.Finding {
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
	env.Dialer = w.dialer
	env.Options.DNSSEC.Anchors = w.dns.Anchors
	env.Options.ProbeTimeout = 5 * time.Second
	return c.Run(context.Background(), env).Findings
}

func TestDANECheck(t *testing.T) {
	w := startDANEWorld(t)
	servfail := func(s *dnstest.Server) { s.SetType("_25._tcp.mx.sfail.test.", dns.TypeTLSA, dnstest.ServFail) }
	cases := []struct {
		domain string
		setup  func(*dnstest.Server)
		want   []string // exact "severity id" list, sorted
		text   []string // substrings some message or fix contains
	}{
		{"ee.test", nil, []string{"pass dane.match"},
			[]string{"mx.ee.test[192.0.2.101]:25: TLSA " + w.leaf + " at _25._tcp.mx.ee.test. (DANE-EE(3) SPKI(1) SHA2-256(1)) matches the server certificate"}},
		{"ta.test", nil, []string{"pass dane.match"}, []string{"(DANE-TA(2) SPKI(1) SHA2-256(1)) matches the certificate at depth 1"}},
		{"alias.test", nil, []string{"pass dane.match"}, []string{"mx.alias.test[192.0.2.101]:25: TLSA " + w.leaf + " at _25._tcp.mx.ee.test."}},
		{"mismatch.test", nil, []string{"fail dane.mismatch"},
			[]string{"no TLSA record matches the presented chain at _25._tcp.mx.mismatch.test.; DANE senders do not deliver", "publish _25._tcp.mx.mismatch.test. IN TLSA " + w.leaf}},
		{"pkix.test", nil, []string{"pass dane.match", "warn dane.pkix-usage"}, []string{"PKIX-EE(1) SPKI(1) SHA2-256(1)", "RFC 7672 §3.1.3"}},
		{"pkixonly.test", nil, []string{"warn dane.no-usable-record", "warn dane.pkix-usage"}, []string{"no usable TLSA record", "IN TLSA " + w.leaf}},
		{"plain.test", nil, []string{"info dane.insecure"}, []string{"_25._tcp.mx.plain.test. publishes 1 TLSA record(s)", "unusable and harmless"}},
		{"bogus.test", nil, []string{"fail dane.lookup-failed"}, []string{"are bogus", "a DANE sender defers mail"}},
		{"sfail.test", servfail, []string{"fail dane.lookup-failed"}, []string{"the TLSA lookup of _25._tcp.mx.sfail.test. failed: SERVFAIL", "a DANE sender defers mail"}},
		{"nostarttls.test", nil, []string{"fail dane.no-tls"}, []string{"mx.nostarttls.test[192.0.2.106]:25 offers no STARTTLS"}},
		{"rollover.test", nil, []string{"pass dane.match", "warn dane.rollover"}, []string{"publish the next key's record first"}},
		{"none.test", nil, []string{"info dane.none"}, []string{"no TLSA records at _25._tcp.mx.none.test."}},
		{"unreach.test", nil, []string{"error dane.not-evaluated"}, []string{"mx.unreach.test[192.0.2.107]:25: stopped at connect"}},
	}
	for _, tc := range cases {
		t.Run(tc.domain, func(t *testing.T) {
			fs := w.run(t, checks.DANE{}, tc.domain, tc.setup)
			compareFindings(t, fs, tc.want, tc.text)
		})
	}
}

// TestDANETLSPolicy: the tls check judges a port-25 session to a host
// with a usable TLSA set under DANE: a certificate no WebPKI root
// vouches for stays a warning, since DANE senders rely on the TLSA
// records.
func TestDANETLSPolicy(t *testing.T) {
	w := startDANEWorld(t)
	for domain, want := range map[string]string{
		"ee.test":    "senders that enforce DANE rely on the TLSA records",
		"plain.test": "opportunistic TLS still encrypts",
	} {
		var got []string
		for _, f := range w.run(t, checks.TLS{}, domain, nil) {
			if f.ID == "tls.cert-untrusted" {
				got = append(got, string(f.Severity)+": "+f.Message)
			}
		}
		if len(got) != 1 || !strings.HasPrefix(got[0], "warn: ") || !strings.Contains(got[0], want) {
			t.Errorf("%s: tls.cert-untrusted %q, want a warn containing %q", domain, got, want)
		}
	}
}

// TestDANEOffline: offline, the check is not evaluated (one error
// finding), never a pass.
func TestDANEOffline(t *testing.T) {
	z := dnstest.Zone(t, "example.org.", "@ 300 IN SOA ns hm 1 2 3 4 5\n@ 300 IN MX 10 mx\nmx 300 IN A 192.0.2.1\n")
	n, _ := resolve.ParseDomain("example.org")
	env := checks.NewEnv(n, resolve.NewCache(&resolve.Zones{List: []*resolve.Zone{z}}))
	env.Options.Offline = true
	fs := checks.DANE{}.Run(context.Background(), env).Findings
	if len(fs) != 1 || fs[0].ID != "dane.not-evaluated" || fs[0].Severity != checks.Error {
		t.Errorf("offline: %+v", fs)
	}
}
