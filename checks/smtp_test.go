package checks_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/sharedtest"
	"github.com/mailcheck/mailcheck/internal/smtptest"
)

const smtpZone = `$ORIGIN test.
$TTL 300
@ IN SOA ns.test. hostmaster.test. 1 7200 3600 1209600 300
@ IN NS ns.test.
ns IN A 192.0.2.53

good IN MX 10 mx1.good.test.
mx1.good IN A 192.0.2.1
sub.good IN A 192.0.2.2
_submission._tcp.good IN SRV 0 1 587 sub.good.test.
_submissions._tcp.good IN SRV 0 1 465 sub.good.test.

bad IN MX 10 mx.bad.test.
bad IN MX 20 mx2.bad.test.
mx.bad IN A 192.0.2.10
mx2.bad IN A 192.0.2.11
sub.bad IN A 192.0.2.12

names IN MX 10 wrong.names.test.
names IN MX 20 untrusted.names.test.
names IN MX 30 old.names.test.
wrong.names IN A 192.0.2.20
untrusted.names IN A 192.0.2.21
old.names IN A 192.0.2.22
_submissions._tcp.names IN SRV 0 1 465 untrusted.names.test.

blocked IN MX 10 a.blocked.test.
blocked IN MX 20 b.blocked.test.
a.blocked IN A 192.0.2.30
b.blocked IN A 192.0.2.31

hostile IN MX 10 silent.hostile.test.
hostile IN MX 20 busy.hostile.test.
hostile IN MX 30 flood.hostile.test.
silent.hostile IN A 192.0.2.40
busy.hostile IN A 192.0.2.41
flood.hostile IN A 192.0.2.42

hostile2 IN MX 10 trickle.hostile2.test.
hostile2 IN MX 20 garbage.hostile2.test.
hostile2 IN MX 30 longline.hostile2.test.
trickle.hostile2 IN A 192.0.2.43
garbage.hostile2 IN A 192.0.2.44
longline.hostile2 IN A 192.0.2.45

tlsbreak IN MX 10 stall.tlsbreak.test.
tlsbreak IN MX 20 mute.tlsbreak.test.
stall.tlsbreak IN A 192.0.2.46
mute.tlsbreak IN A 192.0.2.47

bigmail IN MX 10 aspmx.l.bigmail.test.
aspmx.l.bigmail IN A 192.0.2.60

self IN MX 10 mx.self.test.
mx.self IN A 127.0.0.1

private IN MX 10 lan.private.test.
lan.private IN A 10.1.2.3
_submission._tcp.private IN SRV 0 0 0 .

nullmx IN MX 0 .

unclear IN MX 10 mx.unclear.test.
mx.unclear IN A 192.0.2.50

refused IN MX 10 a.refused.test.
refused IN MX 20 b.refused.test.
a.refused IN A 192.0.2.32
b.refused IN A 192.0.2.33

partial IN MX 10 mx1.good.test.
partial IN MX 20 b.refused.test.

srvfail IN MX 10 mx1.good.test.

srvport IN MX 10 mx1.good.test.
_submission._tcp.srvport IN SRV 0 1 2525 sub.good.test.
_submissions._tcp.srvport IN SRV 0 1 465 sub.good.test.

syntax IN MX 10 mx.syntax.test.
mx.syntax IN A 192.0.2.51
`

const smtpPTRZone = `$ORIGIN 2.0.192.in-addr.arpa.
$TTL 300
@ IN SOA ns.test. hostmaster.test. 1 7200 3600 1209600 300
@ IN NS ns.test.
1 IN PTR mx1.good.test.
10 IN PTR mx.bad.test.
`

// smtpWorld is the DNS server and the fake internet of the smtp tests.
type smtpWorld struct {
	dns    *dnstest.Server
	dialer *smtptest.Dialer
	ca     *smtptest.CA
}

func startSMTPWorld(t testing.TB) *smtpWorld {
	t.Helper()
	w := &smtpWorld{
		dns:    dnstest.StartZones(t, dnstest.Zone(t, "test.", smtpZone), dnstest.Zone(t, "2.0.192.in-addr.arpa.", smtpPTRZone)),
		dialer: smtptest.NewDialer(),
		ca:     smtptest.NewCA(t, "mailcheck test CA"),
	}
	now := time.Now()
	cert := func(o smtptest.CertOptions) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{w.ca.Issue(t, o)}, MinVersion: tls.VersionTLS10}
	}
	untrustedCA := smtptest.NewCA(t, "someone else's CA")
	serve := func(addr string, o smtptest.Options) {
		w.dialer.Map(addr, smtptest.Start(t, o).Addr)
	}
	// good.test
	serve("192.0.2.1:25", smtptest.Options{Hostname: "mx1.good.test", Local: "good.test", TLS: cert(smtptest.CertOptions{Names: []string{"mx1.good.test"}})})
	subCert := cert(smtptest.CertOptions{Names: []string{"sub.good.test"}})
	serve("192.0.2.2:587", smtptest.Options{Hostname: "sub.good.test", TLS: subCert, Auth: true, RequireTLS: true})
	serve("192.0.2.2:465", smtptest.Options{Hostname: "sub.good.test", TLS: subCert, Auth: true, Implicit: true})
	// bad.test
	serve("192.0.2.10:25", smtptest.Options{Hostname: "localhost", OpenRelay: true})
	serve("192.0.2.11:25", smtptest.Options{Hostname: "mx2.bad.test", Local: "bad.test", Auth: true, AuthBeforeTLS: true,
		TLS: cert(smtptest.CertOptions{Names: []string{"mx2.bad.test"}, NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(0, 0, -2)})})
	serve("192.0.2.12:587", smtptest.Options{Hostname: "sub.bad.test", Auth: true, AuthBeforeTLS: true,
		TLS: cert(smtptest.CertOptions{Names: []string{"sub.bad.test"}, NotAfter: now.AddDate(0, 0, 5)})})
	// names.test
	serve("192.0.2.20:25", smtptest.Options{Hostname: "wrong.names.test", TLS: cert(smtptest.CertOptions{Names: []string{"mail.elsewhere.test"}})})
	untrusted := &tls.Config{Certificates: []tls.Certificate{untrustedCA.Issue(t, smtptest.CertOptions{Names: []string{"untrusted.names.test"}})}}
	serve("192.0.2.21:25", smtptest.Options{Hostname: "untrusted.names.test", TLS: untrusted})
	serve("192.0.2.21:465", smtptest.Options{Hostname: "untrusted.names.test", TLS: untrusted, Implicit: true})
	old := cert(smtptest.CertOptions{Names: []string{"old.names.test"}, RSABits: 1024})
	old.MaxVersion = tls.VersionTLS11
	serve("192.0.2.22:25", smtptest.Options{Hostname: "old.names.test", TLS: old})
	// hostile.test
	w.dialer.Map("192.0.2.40:25", smtptest.StartFake(t, smtptest.Silent))
	w.dialer.Map("192.0.2.41:25", smtptest.StartFake(t, smtptest.Greeting("421 4.7.0 busy.hostile.test try again later")))
	w.dialer.Map("192.0.2.42:25", smtptest.StartFake(t, smtptest.Endless))
	w.dialer.Map("192.0.2.43:25", smtptest.StartFake(t, smtptest.Trickle(time.Second)))
	w.dialer.Map("192.0.2.44:25", smtptest.StartFake(t, smtptest.Garbage))
	w.dialer.Map("192.0.2.45:25", smtptest.StartFake(t, smtptest.LongLine))
	// tlsbreak.test: servers that fail once STARTTLS is under way.
	plain := map[string]string{"EHLO": "250-mx.tlsbreak.test\n250 STARTTLS", "MAIL": "250 2.1.0 Ok", "RSET": "250 2.0.0 Ok",
		"RCPT": "554 5.7.1 <relay-test@mailcheck.invalid>: Relay access denied"}
	w.dialer.Map("192.0.2.46:25", smtptest.StartFake(t, smtptest.StartTLSThen("220 stall.tlsbreak.test ESMTP", plain,
		cert(smtptest.CertOptions{Names: []string{"stall.tlsbreak.test"}}), map[string]string{"EHLO": smtptest.Hang})))
	mute := map[string]string{"STARTTLS": smtptest.Hang}
	for k, v := range plain {
		mute[k] = v
	}
	w.dialer.Map("192.0.2.47:25", smtptest.StartFake(t, smtptest.Script("220 mute.tlsbreak.test ESMTP", mute)))
	// A large provider: the greeting names another host of the MX's
	// organization, and the address has no PTR in the provider's domain.
	serve("192.0.2.60:25", smtptest.Options{Hostname: "mx.bigmail.test", Local: "bigmail.test", TLS: cert(smtptest.CertOptions{Names: []string{"aspmx.l.bigmail.test"}})})
	// mailcheck run on the mail server: the probe comes from the MX's own
	// address, which the server trusts.
	serve("127.0.0.1:25", smtptest.Options{Hostname: "mx.self.test", Local: "self.test", OpenRelay: true, TLS: cert(smtptest.CertOptions{Names: []string{"mx.self.test"}})})
	// Connections that time out (a firewall that drops packets); 192.0.2.32
	// is not mapped: refused.
	for _, a := range []string{"192.0.2.30:25", "192.0.2.31:25", "192.0.2.33:25"} {
		w.dialer.Map(a, smtptest.Blackhole)
	}
	w.dialer.Map("192.0.2.2:2525", w.dialer.Target("192.0.2.2:587"))
	w.dialer.Map("192.0.2.51:25", smtptest.StartFake(t, smtptest.Script("220 mx.syntax.test ESMTP", map[string]string{
		"EHLO": "250-mx.syntax.test\n250 8BITMIME", "MAIL": "250 2.1.0 Ok", "RSET": "250 2.0.0 Ok",
		"RCPT": "501 5.1.3 Bad recipient address syntax"})))
	w.dns.Set("_submission._tcp.srvfail.test", dnstest.ServFail)
	w.dialer.Map("192.0.2.50:25", smtptest.StartFake(t, smtptest.Script("220 mx.unclear.test ESMTP", map[string]string{
		"EHLO": "250-mx.unclear.test\n250 8BITMIME", "MAIL": "250 2.1.0 Ok", "RSET": "250 2.0.0 Ok",
		"RCPT": "550 5.1.1 <relay-test@mailcheck.invalid>: Recipient address rejected: Domain not found"})))
	return w
}

func (w *smtpWorld) run(t *testing.T, domain string, opts checks.Options, list ...checks.Check) (map[string][]checks.Finding, *checks.Env) {
	t.Helper()
	n, err := resolve.ParseName(domain)
	if err != nil {
		t.Fatal(err)
	}
	env := checks.NewEnv(n, resolve.NewCache(w.dns.Resolver(5*time.Second)))
	env.Options = opts
	if env.Options.ProbeTimeout == 0 {
		env.Options.ProbeTimeout = 5 * time.Second
	}
	env.Dialer = w.dialer
	env.RootCAs = w.ca.Pool
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out := map[string][]checks.Finding{}
	res := checks.Run(ctx, env, list)
	sharedtest.Dump(t, res)
	for _, r := range res {
		assertCatalogued(t, r, list)
		out[r.Name] = r.Findings
	}
	return out, env
}

// sevIDs renders findings as sorted "severity id" lines, one per
// distinct pair, with a count when repeated.
func sevIDs(fs []checks.Finding) []string {
	n := map[string]int{}
	for _, f := range fs {
		n[string(f.Severity)+" "+f.ID]++
	}
	var out []string
	for k, c := range n {
		if c > 1 {
			k = fmt.Sprintf("%s x%d", k, c)
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// hostileTimeout is the probe timeout of the cases with servers that
// stall: a bound that only a hang reaches, so that the healthy parts of
// their sessions (a TLS handshake under -race on a loaded machine) never
// run into it. Which stage times out does not depend on the machine.
const hostileTimeout = 4 * time.Second

func TestSMTPAndTLSChecks(t *testing.T) {
	w := startSMTPWorld(t)
	tests := []struct {
		domain string
		opts   checks.Options
		smtp   []string // exact "severity id [xN]" set
		tls    []string
		text   []string // substrings some finding message must contain
		fix    []string // substrings some finding fix must contain
		not    []string // substrings no finding message may contain
	}{
		{domain: "good.test",
			smtp: []string{"pass smtp.ok", "pass smtp.relay-closed", "pass smtp.starttls", "pass smtp.submission-ok x2"},
			tls:  []string{"pass tls.ok x3"},
			text: []string{"sub.good.test[192.0.2.2]:587 requires STARTTLS (MAIL before TLS: 530", "AUTH PLAIN after TLS", "refused to relay to <relay-test@mailcheck.invalid>: 554"}},
		{domain: "bad.test", opts: checks.Options{SMTP: checks.SMTPOptions{SubmissionHosts: []string{"sub.bad.test"}}},
			smtp: []string{"fail smtp.auth-before-tls x2", "fail smtp.no-starttls", "fail smtp.open-relay", "fail smtp.submission-no-tls-required",
				"error smtp.unreachable", "pass smtp.ok x2", "pass smtp.relay-closed", "pass smtp.starttls", "warn smtp.banner-mismatch"},
			tls:  []string{"error tls.not-evaluated", "fail tls.cert-expired", "info tls.skipped", "warn tls.cert-expiring"},
			text: []string{"accepted RCPT TO:<relay-test@mailcheck.invalid>", `names "localhost"`, "offers AUTH PLAIN before STARTTLS", "accepted MAIL FROM before STARTTLS (250"}},
		{domain: "bad.test", opts: checks.Options{SMTP: checks.SMTPOptions{RelayTestRcpt: "someone@example.net"}},
			smtp: []string{"fail smtp.auth-before-tls", "fail smtp.no-starttls", "fail smtp.open-relay", "info smtp.submission-none",
				"pass smtp.ok x2", "pass smtp.relay-closed", "pass smtp.starttls", "warn smtp.banner-mismatch"},
			tls:  []string{"fail tls.cert-expired", "info tls.skipped"},
			text: []string{"accepted RCPT TO:<someone@example.net>"}},
		{domain: "names.test",
			smtp: []string{"pass smtp.ok x3", "pass smtp.relay-closed x3", "pass smtp.starttls x3", "pass smtp.submission-ok"},
			tls:  []string{"fail tls.cert-untrusted", "fail tls.version-old", "warn tls.cert-name-mismatch", "warn tls.cert-untrusted", "warn tls.key-weak"},
			text: []string{"negotiated TLS 1.1", "the certificate is for mail.elsewhere.test, not wrong.names.test", "RSA 1024"}},
		{domain: "blocked.test", opts: checks.Options{ProbeTimeout: hostileTimeout}, // every connection times out
			smtp: []string{"error smtp.port25-blocked", "info smtp.submission-none"},
			tls:  []string{"error tls.not-evaluated"},
			text: []string{"outbound port 25 is probably blocked"},
			fix:  []string{"with your MX host a.blocked.test: _submissions._tcp.blocked.test. IN SRV 0 1 465 a.blocked.test."}},
		{domain: "refused.test", opts: checks.Options{ProbeTimeout: hostileTimeout}, // a refusal is an answer
			smtp: []string{"error smtp.unreachable x2", "info smtp.submission-none"},
			tls:  []string{"error tls.not-evaluated"},
			text: []string{"a.refused.test[192.0.2.32]:25 (MX): no connection: dial tcp: connection refused", "b.refused.test[192.0.2.33]:25 (MX): no connection: smtpprobe: timeout"},
			not:  []string{"blocked"}},
		{domain: "partial.test", opts: checks.Options{ProbeTimeout: hostileTimeout}, // another port-25 connection succeeded
			smtp: []string{"error smtp.unreachable", "info smtp.submission-none", "pass smtp.ok", "pass smtp.relay-closed", "pass smtp.starttls"},
			tls:  []string{"error tls.not-evaluated", "pass tls.ok"},
			not:  []string{"blocked"}},
		{domain: "srvfail.test", // a failed SRV lookup is no "publishes no SRV record"
			smtp: []string{"error smtp.temperror", "pass smtp.ok", "pass smtp.relay-closed", "pass smtp.starttls"},
			tls:  []string{"pass tls.ok"},
			text: []string{"the SRV lookup of _submission._tcp.srvfail.test failed, so whether srvfail.test publishes mail submission settings is unknown: SERVFAIL from 127.0.0.1:"},
			not:  []string{"publishes no"}},
		{domain: "srvport.test", // an SRV record does not choose the port mailcheck speaks SMTP to
			smtp: []string{"info smtp.srv-port-unusual", "pass smtp.ok", "pass smtp.relay-closed", "pass smtp.starttls", "pass smtp.submission-ok"},
			tls:  []string{"pass tls.ok x2"},
			text: []string{"_submission._tcp.srvport.test names port 2525 of sub.good.test for mail submission", "sub.good.test[192.0.2.2]:465 speaks implicit TLS"},
			not:  []string{":2525 requires"}},
		{domain: "srvport.test", opts: checks.Options{SMTP: checks.SMTPOptions{AllowSRVPorts: true}},
			smtp: []string{"pass smtp.ok", "pass smtp.relay-closed", "pass smtp.starttls", "pass smtp.submission-ok x2"},
			tls:  []string{"pass tls.ok x3"},
			text: []string{"sub.good.test[192.0.2.2]:2525 requires STARTTLS"}},
		{domain: "syntax.test", // a syntax error to RCPT says nothing about relaying
			smtp: []string{"fail smtp.no-starttls", "info smtp.relay-inconclusive", "info smtp.submission-none", "pass smtp.ok"},
			tls:  []string{"error tls.not-evaluated"},
			text: []string{"answered RCPT TO:<relay-test@mailcheck.invalid> with 501 5.1.3 Bad recipient address syntax, a syntax or command error"}},
		{domain: "good.test", opts: checks.Options{SMTP: checks.SMTPOptions{RelayTestRcpt: "junk"}}, // never a pass for "relay closed"
			smtp: []string{"info smtp.relay-inconclusive", "pass smtp.ok", "pass smtp.starttls", "pass smtp.submission-ok x2"},
			tls:  []string{"pass tls.ok x3"},
			text: []string{`the open-relay test was not run: the relay test recipient "junk" is not an address`}},
		{domain: "hostile.test", opts: checks.Options{ProbeTimeout: hostileTimeout},
			smtp: []string{"error smtp.greeting-refused", "error smtp.session-error x2", "info smtp.submission-none"},
			tls:  []string{"error tls.not-evaluated"},
			text: []string{`greeted with "421 4.7.0 busy.hostile.test try again later"`, "too many reply lines", "timeout"}},
		{domain: "hostile2.test", opts: checks.Options{ProbeTimeout: hostileTimeout},
			smtp: []string{"error smtp.session-error x3", "info smtp.submission-none"},
			tls:  []string{"error tls.not-evaluated"},
			text: []string{"trickle.hostile2.test[192.0.2.43]:25: the session broke off at the banner: smtpprobe: timeout",
				"garbage.hostile2.test[192.0.2.44]:25: the session broke off at the banner: smtpprobe: malformed reply",
				"longline.hostile2.test[192.0.2.45]:25: the session broke off at the banner: smtpprobe: reply line too long",
				"3 of 3 server(s) could not be inspected"}},
		{domain: "tlsbreak.test", opts: checks.Options{ProbeTimeout: hostileTimeout},
			smtp: []string{"error smtp.session-error x2", "info smtp.submission-none", "pass smtp.ok x2", "pass smtp.relay-closed x2", "pass smtp.starttls x2"},
			tls:  []string{"error tls.not-evaluated", "pass tls.ok"},
			text: []string{"stall.tlsbreak.test[192.0.2.46]:25: the session broke off at EHLO after STARTTLS: smtpprobe: timeout",
				"mute.tlsbreak.test[192.0.2.47]:25: the session broke off at the STARTTLS command: smtpprobe: timeout"}},
		{domain: "bigmail.test", // a greeting in the MX's own organization is no mismatch
			smtp: []string{"info smtp.submission-none", "pass smtp.ok", "pass smtp.relay-closed", "pass smtp.starttls"},
			tls:  []string{"pass tls.ok"},
			text: []string{`"220 mx.bigmail.test ESMTP Service Ready"`}},
		{domain: "self.test", opts: checks.Options{AllowPrivate: true}, // the relay test from the server's own address is no verdict
			smtp: []string{"info smtp.relay-inconclusive", "info smtp.submission-none", "pass smtp.ok", "pass smtp.starttls"},
			tls:  []string{"pass tls.ok"},
			text: []string{"mailcheck connected from the server's own address (127.0.0.1:"}},
		{domain: "private.test",
			smtp: []string{"info smtp.skipped", "info smtp.submission-none"},
			tls:  []string{"error tls.not-evaluated"},
			text: []string{"[10.1.2.3]:25 is a private address: not probed", "declares that it offers no mail submission"}},
		{domain: "unclear.test", // the relay word in the address is not the reason
			smtp: []string{"fail smtp.no-starttls", "info smtp.relay-inconclusive", "info smtp.submission-none", "pass smtp.ok"},
			tls:  []string{"error tls.not-evaluated"}, // nothing inspected: not evaluated, not a pass
			text: []string{"which does not say whether it would relay", "mx.unclear.test[192.0.2.50]:25 offers no STARTTLS: no certificate to inspect"}},
		{domain: "nullmx.test",
			smtp: []string{"info smtp.skipped", "info smtp.submission-none"},
			tls:  []string{"info tls.none"},
			text: []string{"nullmx.test names no server to connect to, so there is no TLS to inspect: nullmx.test publishes a null MX"}},
		{domain: "good.test", opts: checks.Options{Offline: true},
			smtp: []string{"error smtp.unreachable"},
			tls:  []string{"error tls.not-evaluated"}},
	}
	for _, tc := range tests {
		t.Run(tc.domain, func(t *testing.T) {
			t.Parallel() // the hostile cases each wait out hostileTimeout
			got, _ := w.run(t, tc.domain, tc.opts, checks.SMTP{}, checks.TLS{})
			sort.Strings(tc.smtp)
			sort.Strings(tc.tls)
			if s := strings.Join(sevIDs(got["smtp"]), "; "); s != strings.Join(tc.smtp, "; ") {
				t.Errorf("smtp findings:\n got %s\nwant %s", s, strings.Join(tc.smtp, "; "))
			}
			if s := strings.Join(sevIDs(got["tls"]), "; "); s != strings.Join(tc.tls, "; ") {
				t.Errorf("tls findings:\n got %s\nwant %s", s, strings.Join(tc.tls, "; "))
			}
			all := append(got["smtp"], got["tls"]...)
			for _, want := range tc.text {
				if !someField(all, func(f checks.Finding) string { return f.Message }, want) {
					t.Errorf("no finding says %q", want)
				}
			}
			for _, want := range tc.fix {
				if !someField(all, func(f checks.Finding) string { return f.Fix }, want) {
					t.Errorf("no fix says %q", want)
				}
			}
			for _, bad := range tc.not {
				if someField(all, func(f checks.Finding) string { return f.Message }, bad) {
					t.Errorf("a finding says %q", bad)
				}
			}
			if t.Failed() {
				for _, f := range all {
					t.Logf("%s %s: %s", f.Severity, f.ID, f.Message)
				}
			}
		})
	}
}

// TestSMTPProbesShared: the smtp and tls checks share one session per
// address and port, and the offline mode dials nothing.
func TestSMTPProbesShared(t *testing.T) {
	w := startSMTPWorld(t)
	w.run(t, "good.test", checks.Options{}, checks.SMTP{}, checks.TLS{})
	dials := w.dialer.Dials()
	sort.Strings(dials)
	if got := strings.Join(dials, " "); got != "192.0.2.1:25 192.0.2.2:465 192.0.2.2:587" {
		t.Errorf("dials = %s, want each target once", got)
	}
	w2 := startSMTPWorld(t)
	w2.run(t, "good.test", checks.Options{Offline: true}, checks.SMTP{}, checks.TLS{})
	if d := w2.dialer.Dials(); len(d) != 0 {
		t.Errorf("offline dialled %v", d)
	}
}

func TestSMTPTraceAndFixes(t *testing.T) {
	w := startSMTPWorld(t)
	n, _ := resolve.ParseName("bad.test")
	env := checks.NewEnv(n, resolve.NewCache(w.dns.Resolver(5*time.Second)))
	env.Dialer, env.RootCAs = w.dialer, w.ca.Pool
	var trace lockedBuf
	env.Trace = &trace
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := checks.Run(ctx, env, []checks.Check{checks.SMTP{}})
	sharedtest.Dump(t, res)
	for _, want := range []string{"smtp mx.bad.test[192.0.2.10:25] > RCPT TO:<relay-test@mailcheck.invalid>", "smtp mx.bad.test[192.0.2.10:25] < 250 ", "> QUIT"} {
		if !strings.Contains(trace.String(), want) {
			t.Errorf("trace lacks %q:\n%s", want, trace.String())
		}
	}
	if strings.Contains(trace.String(), "DATA") || strings.Contains(trace.String(), "AUTH PLAIN ") && strings.Contains(trace.String(), "> AUTH") {
		t.Errorf("the probe sent DATA or AUTH:\n%s", trace.String())
	}
	for _, f := range res[0].Findings {
		if (f.Severity == checks.Fail || f.Severity == checks.Warn) && f.Fix == "" {
			t.Errorf("%s has no fix", f.ID)
		}
		if f.ID == "smtp.open-relay" && (len(f.Records) < 2 || !strings.HasPrefix(f.Records[0], "> MAIL FROM:<>")) {
			t.Errorf("open-relay evidence = %q", f.Records)
		}
	}
}

type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// BenchmarkSMTPAndTLSChecks measures the smtp and tls checks of good.test
// with a cold cache: three sessions (port 25 with the relay test and
// STARTTLS, 587 with MAIL before STARTTLS, 465 implicit TLS), each a TCP
// connection to a go-smtp server on loopback, a TLS 1.3 handshake and the
// certificate verification, shared between the two checks.
func BenchmarkSMTPAndTLSChecks(b *testing.B) {
	w := startSMTPWorld(b)
	n, _ := resolve.ParseName("good.test")
	list := []checks.Check{checks.SMTP{}, checks.TLS{}}
	b.ReportAllocs()
	for b.Loop() {
		env := checks.NewEnv(n, resolve.NewCache(w.dns.Resolver(5*time.Second)))
		env.Dialer, env.RootCAs = w.dialer, w.ca.Pool
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res := checks.Run(ctx, env, list)
		cancel()
		if res[0].Status != checks.Pass || res[1].Status != checks.Pass {
			b.Fatalf("status smtp %s tls %s", res[0].Status, res[1].Status)
		}
	}
	b.ReportMetric(float64(len(w.dialer.Dials()))/float64(b.N), "sessions/op")
}

// BenchmarkSMTPHostile measures the checks against the hostile fakes of
// hostile2.test (a tarpit, garbage, an endless line) under a 200ms probe
// timeout: the audit costs the timeout, not the peer's whim.
func BenchmarkSMTPHostile(b *testing.B) {
	w := startSMTPWorld(b)
	n, _ := resolve.ParseName("hostile2.test")
	list := []checks.Check{checks.SMTP{}, checks.TLS{}}
	for b.Loop() {
		env := checks.NewEnv(n, resolve.NewCache(w.dns.Resolver(5*time.Second)))
		env.Dialer, env.RootCAs = w.dialer, w.ca.Pool
		env.Options.ProbeTimeout = 200 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res := checks.Run(ctx, env, list)
		cancel()
		if res[0].Status != checks.Error {
			b.Fatalf("status smtp %s", res[0].Status)
		}
	}
}

// --submission-host takes a name, an address, NAME:PORT and [IPv6]:PORT.
func TestSMTPSubmissionHostForms(t *testing.T) {
	w := startSMTPWorld(t)
	subCert := &tls.Config{Certificates: []tls.Certificate{w.ca.Issue(t, smtptest.CertOptions{Names: []string{"sub.good.test"}})}}
	w.dialer.Map("[2001:db8::587]:587", smtptest.Start(t, smtptest.Options{Hostname: "sub.good.test", TLS: subCert, Auth: true, RequireTLS: true}).Addr)
	tests := []struct {
		host string
		want string // the submission-ok finding's target
	}{
		{"[2001:db8::587]:587", "[2001:db8::587]:587 requires STARTTLS"},
		{"sub.good.test:587", "sub.good.test[192.0.2.2]:587 requires STARTTLS"},
		{"[192.0.2.2]:465", "192.0.2.2:465 speaks implicit TLS"},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			got, _ := w.run(t, "nullmx.test", checks.Options{SMTP: checks.SMTPOptions{SubmissionHosts: []string{tc.host}}}, checks.SMTP{})
			f := dnsblFindings(got["smtp"], "smtp.submission-ok")
			if len(f) != 1 || !strings.Contains(f[0].Message, tc.want) {
				for _, f := range got["smtp"] {
					t.Logf("%s %s: %s", f.Severity, f.ID, f.Message)
				}
				t.Fatalf("want one smtp.submission-ok saying %q", tc.want)
			}
		})
	}
}

// The sessions of an audit are bounded together: the smtp and tls checks
// share one bound, not one each. No timing is measured: each session holds
// its slot until a second one is open (or every session has started), so
// that sessions overlap whatever the machine's load, and the peak shows
// the bound.
func TestSMTPSessionsBounded(t *testing.T) {
	for _, tc := range []struct {
		name   string
		audits int
		bound  checks.SessionBound // nil: each audit's own bound of 8
		max    int
	}{
		{"one audit", 1, nil, checks.DefaultSessions},
		{"three audits share a run-wide bound", 3, checks.NewSessionBound(3), 3},
	} {
		t.Run(tc.name, func(t *testing.T) { testSessionsBounded(t, tc.audits, tc.bound, tc.max) })
	}
}

func testSessionsBounded(t *testing.T, audits int, bound checks.SessionBound, most int) {
	var zone strings.Builder
	zone.WriteString("$ORIGIN many.test.\n$TTL 300\n@ IN SOA ns h 1 2 3 4 5\n")
	dialer := smtptest.NewDialer()
	const sessions = 20
	var mu sync.Mutex
	open, peak, arrived := 0, 0, 0
	slow := func(c net.Conn, done <-chan struct{}) {
		mu.Lock()
		open++
		arrived++
		peak = max(peak, open)
		mu.Unlock()
		// Hold the session until the bound is reached (or every session
		// has arrived), then a little longer: a missing bound lets more
		// sessions open meanwhile, a working one does not.
		for {
			mu.Lock()
			goOn := open >= most || arrived == sessions*audits
			mu.Unlock()
			if goOn {
				break
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
		time.Sleep(10 * time.Millisecond)
		// Stop counting before the reply: the prober may start its next
		// session as soon as it reads it.
		mu.Lock()
		open--
		mu.Unlock()
		c.Write([]byte("421 4.3.2 busy\r\n"))
	}
	addr := smtptest.StartFake(t, slow)
	for i := 1; i <= sessions; i++ {
		fmt.Fprintf(&zone, "@ IN MX %d mx%d\nmx%d IN A 192.0.2.%d\n", i, i, i, 100+i)
		dialer.Map(fmt.Sprintf("192.0.2.%d:25", 100+i), addr)
	}
	srv := dnstest.StartZones(t, dnstest.Zone(t, "many.test.", zone.String()))
	n, _ := resolve.ParseName("many.test")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	results := make([][]checks.CheckResult, audits)
	var wg sync.WaitGroup
	for a := range audits {
		env := checks.NewEnv(n, resolve.NewCache(srv.Resolver(5*time.Second)))
		env.Dialer, env.Sessions = dialer, bound
		wg.Go(func() { results[a] = checks.Run(ctx, env, []checks.Check{checks.SMTP{}, checks.TLS{}}) })
	}
	wg.Wait()
	for _, res := range results {
		if got := sevIDs(res[0].Findings); strings.Join(got, "; ") != "error smtp.greeting-refused x20; info smtp.submission-none" {
			t.Errorf("smtp findings %v", got)
		}
	}
	if len(dialer.Dials()) != sessions*audits {
		t.Errorf("%d sessions, want one per address and audit", len(dialer.Dials()))
	}
	if peak != most {
		t.Errorf("%d sessions at once, want the bound, %d", peak, most)
	}
}

// The audit deadline (--deadline) ends every session at once, whatever
// the probe timeout, and the findings say that the deadline ended the
// probe: no "timeout" is blamed on the server. An interruption (SIGINT
// cancels the audit's context) says so the same way. The interruption
// comes when the silent server holds a connection, so nothing depends on
// how fast the machine is; the deadline is generous for the DNS lookups
// and the connection before it.
func TestSMTPAuditDeadline(t *testing.T) {
	tests := []struct {
		name string
		ctx  func(held <-chan struct{}) (context.Context, context.CancelFunc)
		want string
	}{
		{"deadline", func(<-chan struct{}) (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 2*time.Second)
		}, "silent.test[192.0.2.40]:25 (MX): the audit deadline ended the probe of 192.0.2.40:25 at the "},
		{"interrupted", func(held <-chan struct{}) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				<-held
				cancel()
			}()
			return ctx, cancel
		}, "silent.test[192.0.2.40]:25 (MX): interrupted: the run was stopped during the probe of 192.0.2.40:25 at the "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			held := make(chan struct{}, 1)
			srv := dnstest.StartZones(t, dnstest.Zone(t, "silent.test.", "$ORIGIN silent.test.\n@ IN SOA ns h 1 2 3 4 5\n@ IN MX 10 @\n@ IN A 192.0.2.40\n"))
			dialer := smtptest.NewDialer().Map("192.0.2.40:25", smtptest.StartFake(t, func(c net.Conn, done <-chan struct{}) {
				held <- struct{}{}
				<-done
			}))
			n, _ := resolve.ParseName("silent.test")
			env := checks.NewEnv(n, resolve.NewCache(srv.Resolver(5*time.Second)))
			env.Dialer = dialer
			env.Options.ProbeTimeout = time.Hour
			ctx, cancel := tc.ctx(held)
			defer cancel()
			done := make(chan []checks.CheckResult)
			go func() { done <- checks.Run(ctx, env, []checks.Check{checks.SMTP{}, checks.TLS{}}) }()
			var res []checks.CheckResult
			select {
			case res = <-done:
			case <-time.After(time.Minute): // only a hang gets here
				t.Fatal("the audit did not end with its context")
			}
			all := append(res[0].Findings, res[1].Findings...)
			if !someField(dnsblFindings(res[0].Findings, "smtp.cut-short"), func(f checks.Finding) string { return f.Message }, tc.want) {
				t.Errorf("no smtp.cut-short says %q:\n%s", tc.want, dnsblDump(res[0].Findings))
			}
			if someField(all, func(f checks.Finding) string { return f.Message }, "timeout") {
				t.Errorf("a finding blames a timeout on the server:\n%s%s", dnsblDump(res[0].Findings), dnsblDump(res[1].Findings))
			}
			for _, r := range res {
				if r.Evaluated {
					t.Errorf("%s counts as evaluated", r.Name)
				}
			}
		})
	}
}
