package checks_test

import (
	"context"
	"crypto/tls"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/smtptest"
)

// startMailboxDANEWorld is a signed DNS world whose SRV targets map
// through the test dialer to fake IMAP (993) and POP3 (995) servers at
// 192.0.2.201 presenting the key of w.leaf.
func startMailboxDANEWorld(t *testing.T) *daneWorld {
	t.Helper()
	ca := smtptest.NewCA(t, "mailbox dane test CA")
	cert := ca.Issue(t, smtptest.CertOptions{Names: []string{"imap.mbx.test", "imap.mbxpkix.test"}})
	other := ca.Issue(t, smtptest.CertOptions{Names: []string{"other.test"}})
	w := &daneWorld{dialer: smtptest.NewDialer(), leaf: "3 1 1 " + spki311(cert.Leaf), ca: ca}
	srv := func(target string) string {
		return "_imaps._tcp 3600 IN SRV 0 1 993 " + target + "\n_pop3s._tcp 3600 IN SRV 0 1 995 " + target + "\n"
	}
	w.dns = dnstest.NewWorld(t, time.Now(),
		dnstest.SignedSpec{Origin: "test."},
		// IMAP matches, POP3 does not.
		dnstest.SignedSpec{Origin: "mbx.test.", Records: srv("imap.mbx.test.") + "imap 3600 IN A 192.0.2.201\n" +
			"_993._tcp.imap 3600 IN TLSA " + w.leaf + "\n_995._tcp.imap 3600 IN TLSA 3 1 1 " + spki311(other.Leaf) + "\n"},
		// The SRV records are not signed: no DANE, though the target's
		// TLSA records are secure and would match.
		dnstest.SignedSpec{Origin: "mbxplain.test.", Records: srv("imap.mbx.test."), Unsigned: true},
		dnstest.SignedSpec{Origin: "mbxpkix.test.", Records: srv("imap.mbxpkix.test.") + "imap 3600 IN A 192.0.2.201\n" +
			"_993._tcp.imap 3600 IN TLSA 1 1 1 " + spki311(cert.Leaf) + "\n_995._tcp.imap 3600 IN TLSA 1 1 1 " + spki311(cert.Leaf) + "\n"},
		dnstest.SignedSpec{Origin: "mbxflag.test.", Records: "@ 3600 IN TXT \"no SRV here\"\n"})
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	w.dialer.Map("192.0.2.201:993", smtptest.StartFake(t, smtptest.Mailbox{IMAP: true, Implicit: true, Greeting: "* OK ready", TLS: cfg,
		Replies: map[string]string{"CAPABILITY": "* CAPABILITY IMAP4rev1\nTAG OK CAPABILITY completed"}}.Handler()))
	w.dialer.Map("192.0.2.201:995", smtptest.StartFake(t, smtptest.Mailbox{Implicit: true, Greeting: "+OK ready", TLS: cfg,
		Replies: map[string]string{"CAPA": "+OK\nSASL PLAIN\n."}}.Handler()))
	return w
}

// TestMailboxDANE: DANE for IMAP and POP3 (RFC 7673) through the real
// wire path: only a host from a DNSSEC-secure SRV RRset is matched, in
// the session the check already made.
func TestMailboxDANE(t *testing.T) {
	w := startMailboxDANEWorld(t)
	cases := []struct {
		domain     string
		hosts      [2]string // --imap-host and --pop3-host, when given
		imap, pop3 []string  // the exact "severity id" DANE findings
		text       []string
	}{
		{domain: "mbx.test", imap: []string{"pass imap.dane-match"}, pop3: []string{"fail pop3.dane-mismatch"},
			text: []string{"imap.mbx.test[192.0.2.201]:993 (SRV _imaps._tcp, DNSSEC-secure): TLSA " + w.leaf + " at _993._tcp.imap.mbx.test. (DANE-EE(3) SPKI(1) SHA2-256(1)) matches the server certificate",
				"publish _995._tcp.imap.mbx.test. IN TLSA " + w.leaf}},
		{domain: "mbxpkix.test", imap: []string{"warn imap.dane-unusable"}, pop3: []string{"warn pop3.dane-unusable"},
			text: []string{"DANE authenticates nothing", "publish _993._tcp.imap.mbxpkix.test. IN TLSA " + w.leaf}},
		{domain: "mbxplain.test"},
		{domain: "mbxflag.test", hosts: [2]string{"imap.mbx.test:993", "imap.mbx.test:995"}},
	}
	for _, tc := range cases {
		t.Run(tc.domain, func(t *testing.T) {
			srv := dnstest.StartWorld(t, w.dns)
			n, _ := resolve.ParseDomain(tc.domain)
			env := checks.NewEnv(n, resolve.NewCache(srv.Resolver(time.Second)))
			env.Dialer, env.RootCAs = w.dialer, w.ca.Pool
			env.Options.DNSSEC.Anchors = w.dns.Anchors
			env.Options.ProbeTimeout = 5 * time.Second
			if tc.hosts[0] != "" {
				env.Options.IMAP.Hosts, env.Options.POP3.Hosts = tc.hosts[:1], tc.hosts[1:]
			}
			res := checks.Run(context.Background(), env, []checks.Check{checks.IMAP{}, checks.POP3{}})
			if !slices.Contains(sevIDs(res[0].Findings), "pass imap.implicit-tls") {
				t.Fatalf("no IMAP session was made:\n%s", messages(res[0].Findings))
			}
			var all []checks.Finding
			for i, want := range [][]string{tc.imap, tc.pop3} {
				fs := res[i].Findings
				all = append(all, fs...)
				var got []string
				for _, id := range sevIDs(fs) {
					if strings.Contains(id, ".dane-") {
						got = append(got, id)
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s: DANE findings %q, want %q\n%s", res[i].Name, got, want, messages(fs))
				}
			}
			text := messages(all)
			for _, f := range all {
				text += f.Fix + "\n"
			}
			for _, s := range tc.text {
				if !strings.Contains(text, s) {
					t.Errorf("no message or fix contains %q:\n%s", s, text)
				}
			}
		})
	}
}
