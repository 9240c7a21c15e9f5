package checks_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/smtptest"
)

const mailboxZone = `$ORIGIN test.
$TTL 300
@ IN SOA ns.test. hostmaster.test. 1 7200 3600 1209600 300
@ IN NS ns.test.
ns IN A 192.0.2.53

_imap._tcp.good IN SRV 0 1 143 imap.good.test.
_imaps._tcp.good IN SRV 0 1 993 imap.good.test.
_pop3._tcp.good IN SRV 0 0 0 .
_pop3s._tcp.good IN SRV 0 1 995 pop.good.test.
imap.good IN A 192.0.2.101
pop.good IN A 192.0.2.102

_imap._tcp.bad IN SRV 0 1 143 imap.bad.test.
_pop3._tcp.bad IN SRV 0 1 110 pop.bad.test.
imap.bad IN A 192.0.2.111
pop.bad IN A 192.0.2.112

_imaps._tcp.names IN SRV 0 1 993 imap.names.test.
_imaps._tcp.names IN SRV 0 1 1993 imap.names.test.
_pop3s._tcp.names IN SRV 0 1 995 lan.names.test.
imap.names IN A 192.0.2.121
lan.names IN A 10.0.0.1

autoconfig.auto IN A 192.0.2.131
imap.auto IN A 192.0.2.132

hostile IN A 192.0.2.140
bye.hostile IN A 192.0.2.141
silent.hostile IN A 192.0.2.142
flood.hostile IN A 192.0.2.143
trickle.hostile IN A 192.0.2.144
garbage.hostile IN A 192.0.2.145
err.hostile IN A 192.0.2.146

_imap._tcp.declined IN SRV 0 0 0 .
_imaps._tcp.declined IN SRV 0 0 0 .

nothing IN TXT "nothing here"

autoconfig.untrusted IN A 192.0.2.151
autoconfig.big IN A 192.0.2.152
autoconfig.moved IN A 192.0.2.153
autoconfig.lan IN A 10.0.0.2
autoconfig.junk IN A 192.0.2.154
autoconfig.slow IN A 192.0.2.155
imap.bound IN A 192.0.2.160
_imaps._tcp.bound IN SRV 0 1 993 imap.bound.test.
`

const autoconfigXML = `<?xml version="1.0"?>
<clientConfig version="1.1">
 <emailProvider id="auto.test">
  <incomingServer type="imap"><hostname>imap.%EMAILDOMAIN%</hostname><port>993</port><socketType>SSL</socketType></incomingServer>
  <incomingServer type="imap"><hostname>imap.%EMAILDOMAIN%</hostname><port>143</port><socketType>STARTTLS</socketType></incomingServer>
  <incomingServer type="pop3"><hostname>imap.auto.test</hostname><port>1110</port><socketType>plain</socketType></incomingServer>
 </emailProvider>
</clientConfig>`

// mailboxWorld is the DNS, the fake IMAP and POP3 servers and the
// autoconfig web server of the imap and pop3 tests.
type mailboxWorld struct{ *smtpWorld }

func startMailboxWorld(t *testing.T) *mailboxWorld {
	t.Helper()
	w := &mailboxWorld{&smtpWorld{
		dns:    dnstest.StartZones(t, dnstest.Zone(t, "test.", mailboxZone)),
		dialer: smtptest.NewDialer(),
		ca:     smtptest.NewCA(t, "mailcheck test CA"),
	}}
	cert := func(names ...string) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{w.ca.Issue(t, smtptest.CertOptions{Names: names})}}
	}
	other := smtptest.NewCA(t, "someone else's CA")
	serve := func(addr string, m smtptest.Mailbox) { w.dialer.Map(addr, smtptest.StartFake(t, m.Handler())) }
	imapCaps := func(caps string) map[string]string {
		return map[string]string{"CAPABILITY": "* CAPABILITY " + caps + "\nTAG OK CAPABILITY completed"}
	}
	// good.test: STARTTLS with LOGINDISABLED on 143, 993, POP3 on 995 only.
	serve("192.0.2.101:143", smtptest.Mailbox{IMAP: true, Greeting: "* OK [CAPABILITY IMAP4rev1] Dovecot ready.", TLS: cert("imap.good.test"),
		Replies: imapCaps("IMAP4rev1 SASL-IR STARTTLS LOGINDISABLED"), AfterTLS: imapCaps("IMAP4rev1 AUTH=PLAIN")})
	serve("192.0.2.101:993", smtptest.Mailbox{IMAP: true, Implicit: true, Greeting: "* OK ready", TLS: cert("imap.good.test"), Replies: imapCaps("IMAP4rev2 AUTH=PLAIN")})
	serve("192.0.2.102:995", smtptest.Mailbox{Implicit: true, Greeting: "+OK ready", TLS: cert("pop.good.test"), Replies: map[string]string{"CAPA": "+OK\nUSER\nSASL PLAIN\n."}})
	// bad.test: IMAP in clear text only; POP3 with USER before STLS and
	// an untrusted certificate.
	serve("192.0.2.111:143", smtptest.Mailbox{IMAP: true, Greeting: "* OK ready", Replies: imapCaps("IMAP4rev1 AUTH=PLAIN")})
	untrusted := &tls.Config{Certificates: []tls.Certificate{other.Issue(t, smtptest.CertOptions{Names: []string{"pop.bad.test"}})}}
	serve("192.0.2.112:110", smtptest.Mailbox{Greeting: "+OK ready", TLS: untrusted, Replies: map[string]string{"CAPA": "+OK\nSTLS\nUSER\n."}})
	// names.test: a certificate for another name; an SRV port not probed.
	serve("192.0.2.121:993", smtptest.Mailbox{IMAP: true, Implicit: true, Greeting: "* OK ready", TLS: cert("mail.elsewhere.test"), Replies: imapCaps("IMAP4rev1")})
	// auto.test: the servers come from the autoconfig document.
	serve("192.0.2.132:993", smtptest.Mailbox{IMAP: true, Implicit: true, Greeting: "* OK ready", TLS: cert("imap.auto.test"), Replies: imapCaps("IMAP4rev1")})
	serve("192.0.2.132:143", smtptest.Mailbox{IMAP: true, Greeting: "* OK ready", TLS: cert("imap.auto.test"), Replies: imapCaps("IMAP4rev1 STARTTLS LOGINDISABLED")})
	web := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/mail/config-v1.1.xml" {
			http.NotFound(rw, r)
			return
		}
		rw.Write([]byte(autoconfigXML))
	}))
	web.TLS = cert("autoconfig.auto.test")
	web.StartTLS()
	t.Cleanup(web.Close)
	w.dialer.Map("192.0.2.131:443", web.Listener.Addr().String())
	// Autoconfig documents that cannot be used.
	serveWeb := func(addr string, cfg *tls.Config, h http.HandlerFunc) {
		srv := httptest.NewUnstartedServer(h)
		srv.TLS = cfg
		srv.StartTLS()
		t.Cleanup(srv.Close)
		w.dialer.Map(addr, srv.Listener.Addr().String())
	}
	doc := func(rw http.ResponseWriter, r *http.Request) { rw.Write([]byte(autoconfigXML)) }
	serveWeb("192.0.2.151:443", &tls.Config{Certificates: []tls.Certificate{other.Issue(t, smtptest.CertOptions{Names: []string{"autoconfig.untrusted.test"}})}}, doc)
	serveWeb("192.0.2.152:443", cert("autoconfig.big.test"), func(rw http.ResponseWriter, r *http.Request) {
		rw.Write([]byte(autoconfigXML + strings.Repeat("<!-- padding -->", 5000)))
	})
	serveWeb("192.0.2.153:443", cert("autoconfig.moved.test"), func(rw http.ResponseWriter, r *http.Request) {
		http.Redirect(rw, r, "https://elsewhere.test/config.xml", http.StatusFound)
	})
	serveWeb("192.0.2.154:443", cert("autoconfig.junk.test"), func(rw http.ResponseWriter, r *http.Request) { rw.Write([]byte("<html><body>hello")) })
	w.dialer.Map("192.0.2.155:443", smtptest.Blackhole)
	// hostile.test, named with --imap-host and --pop3-host.
	serve("192.0.2.141:143", smtptest.Mailbox{IMAP: true, Greeting: "* BYE too many connections from your address"})
	w.dialer.Map("192.0.2.142:993", smtptest.StartFake(t, smtptest.Silent))
	w.dialer.Map("192.0.2.143:143", smtptest.StartFake(t, smtptest.Mailbox{IMAP: true, Greeting: "* OK ready",
		Replies: map[string]string{"CAPABILITY": strings.Repeat("* CAPABILITY IMAP4rev1 STARTTLS\n", 500) + "TAG OK done"}}.Handler()))
	w.dialer.Map("192.0.2.144:110", smtptest.StartFake(t, smtptest.Trickle(time.Second)))
	serve("192.0.2.145:143", smtptest.Mailbox{IMAP: true, Greeting: "* OK ready", Replies: imapCaps("IMAP4rev1 STARTTLS LOGINDISABLED")})
	serve("192.0.2.146:110", smtptest.Mailbox{Greeting: "-ERR maintenance"})
	return w
}

func TestIMAPAndPOP3Checks(t *testing.T) {
	w := startMailboxWorld(t)
	hostile := checks.Options{ProbeTimeout: hostileTimeout,
		IMAP: checks.IMAPOptions{Hosts: []string{"bye.hostile.test:143", "silent.hostile.test:993", "flood.hostile.test:143", "garbage.hostile.test:143", "192.0.2.147"}},
		POP3: checks.POP3Options{Hosts: []string{"trickle.hostile.test:110", "err.hostile.test:110"}}}
	tests := []struct {
		domain     string
		opts       checks.Options
		imap, pop3 []string // exact "severity id [xN]" sets
		text       []string // substrings some finding message must contain
	}{
		{domain: "good.test",
			imap: []string{"pass imap.implicit-tls", "pass imap.ok x2", "pass imap.starttls", "pass imap.tls-ok x2"},
			pop3: []string{"info pop3.not-offered", "pass pop3.implicit-tls", "pass pop3.ok", "pass pop3.tls-ok"},
			text: []string{"imap.good.test[192.0.2.101]:143 (SRV _imap._tcp) greeted", "offers STARTTLS and no password login before it"}},
		{domain: "bad.test",
			imap: []string{"fail imap.cleartext-auth", "fail imap.no-starttls", "pass imap.ok"},
			pop3: []string{"fail pop3.cleartext-auth", "fail pop3.tls-cert-untrusted", "info pop3.stls-only", "pass pop3.ok"},
			text: []string{"offers LOGIN, AUTH=PLAIN before TLS", "offers USER before TLS", "mail clients will refuse it"}},
		{domain: "names.test",
			imap: []string{"fail imap.tls-cert-name-mismatch", "info imap.port-unusual", "pass imap.implicit-tls", "pass imap.ok"},
			pop3: []string{"info pop3.skipped"},
			text: []string{"names port 1993 of imap.names.test", "lan.names.test[10.0.0.1]:995 (SRV _pop3s._tcp) is a private address"}},
		{domain: "auto.test",
			imap: []string{"pass imap.implicit-tls", "pass imap.ok x2", "pass imap.starttls", "pass imap.tls-ok x2"},
			pop3: []string{"fail pop3.autoconfig-plaintext", "info pop3.port-unusual"},
			text: []string{"imap.auto.test[192.0.2.132]:993 (autoconfig)", "the autoconfig document names port 1110 of imap.auto.test", "connect to imap.auto.test:1110 without TLS"}},
		{domain: "declined.test",
			imap: []string{"info imap.not-offered"},
			pop3: []string{"info pop3.none"}},
		{domain: "nothing.test",
			imap: []string{"info imap.none"}, pop3: []string{"info pop3.none"},
			text: []string{"no _imap._tcp or _imaps._tcp SRV record, no autoconfig document (autoconfig.nothing.test has no address)"}},
		{domain: "hostile.test", opts: hostile,
			imap: []string{"error imap.session-error x2", "error imap.tls-not-evaluated", "error imap.unreachable x2", "fail imap.tls-handshake-failed", "pass imap.ok", "pass imap.starttls"},
			pop3: []string{"error pop3.session-error x2"},
			text: []string{"the session broke off at the greeting", "* BYE too many connections", "too many response lines", "-ERR maintenance"}},
		{domain: "good.test", opts: checks.Options{Offline: true},
			imap: []string{"error imap.unreachable"}, pop3: []string{"error pop3.unreachable"}},
	}
	for _, tc := range tests {
		t.Run(tc.domain, func(t *testing.T) {
			res, _ := w.run(t, tc.domain, tc.opts, checks.IMAP{}, checks.POP3{})
			if got := sevIDs(res["imap"]); !slices.Equal(got, tc.imap) {
				t.Errorf("imap: got %q, want %q\n%s", got, tc.imap, messages(res["imap"]))
			}
			if got := sevIDs(res["pop3"]); !slices.Equal(got, tc.pop3) {
				t.Errorf("pop3: got %q, want %q\n%s", got, tc.pop3, messages(res["pop3"]))
			}
			all := messages(append(res["imap"], res["pop3"]...))
			for _, s := range tc.text {
				if !strings.Contains(all, s) {
					t.Errorf("no message contains %q:\n%s", s, all)
				}
			}
		})
	}
}

// messages renders the findings' messages and evidence, for failures.
func messages(fs []checks.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.ID + ": " + f.Message + "\n")
		for _, r := range f.Records {
			b.WriteString("    " + r + "\n")
		}
	}
	return b.String()
}

// TestMailboxAutoconfigUnusable: a document that cannot be used is
// said once per check and nothing from it is probed; a fetch that timed
// out is an error.
func TestMailboxAutoconfigUnusable(t *testing.T) {
	w := startMailboxWorld(t)
	for domain, want := range map[string]string{
		"untrusted.test": "certificate signed by unknown authority",
		"big.test":       "the document is over 65536 bytes",
		"moved.test":     "it redirects (HTTP 302 to https://elsewhere.test/config.xml), which mailcheck does not follow",
		"lan.test":       "autoconfig.lan.test has only private or special-purpose addresses",
		"junk.test":      "is not a client configuration document",
		"slow.test":      "could not be fetched",
	} {
		t.Run(domain, func(t *testing.T) {
			// 1 s is the point of slow.test (its server never
			// answers); the others get 10 s, a bound that only catches
			// a hang (a TLS fetch under -race on a loaded machine has
			// taken over 1 s).
			timeout := 10 * time.Second
			if domain == "slow.test" {
				timeout = time.Second
			}
			res, _ := w.run(t, domain, checks.Options{ProbeTimeout: timeout}, checks.IMAP{}, checks.POP3{})
			wantIDs := []string{"info imap.autoconfig-unusable"}
			if domain == "slow.test" {
				wantIDs = []string{"error imap.temperror"}
			}
			if got := sevIDs(res["imap"]); !slices.Equal(got, wantIDs) {
				t.Errorf("imap: got %q, want %q\n%s", got, wantIDs, messages(res["imap"]))
			}
			if all := messages(res["pop3"]); !strings.Contains(all, want) {
				t.Errorf("pop3: no message contains %q:\n%s", want, all)
			}
		})
	}
}

// TestMailboxSessionBound: IMAP sessions take a slot of the run's
// session bound; with none free until the deadline, the probe is cut
// short before it dials, and the transcript goes to --trace otherwise.
func TestMailboxSessionBound(t *testing.T) {
	w := startMailboxWorld(t)
	w.dialer.Map("192.0.2.160:993", w.dialer.Target("192.0.2.101:993"))
	n, _ := resolve.ParseName("bound.test")
	env := checks.NewEnv(n, resolve.NewCache(w.dns.Resolver(5*time.Second)))
	env.Dialer, env.RootCAs = w.dialer, w.ca.Pool
	env.Sessions = checks.NewSessionBound(1)
	env.Sessions <- struct{}{} // the only slot is taken
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	res := checks.Run(ctx, env, []checks.Check{checks.IMAP{}})
	if got := messages(res[0].Findings); !strings.Contains(got, "imap.cut-short: imap.bound.test[192.0.2.160]:993 (SRV _imaps._tcp)") {
		t.Errorf("no cut-short finding:\n%s", got)
	}
	if slices.Contains(w.dialer.Dials(), "192.0.2.160:993") {
		t.Errorf("dialled without a slot: %v", w.dialer.Dials())
	}

	<-env.Sessions
	var trace strings.Builder
	env = checks.NewEnv(n, resolve.NewCache(w.dns.Resolver(5*time.Second)))
	env.Dialer, env.RootCAs, env.Trace = w.dialer, w.ca.Pool, &syncWriter{w: &trace}
	res = checks.Run(context.Background(), env, []checks.Check{checks.IMAP{}})
	if got := sevIDs(res[0].Findings); !slices.Contains(got, "pass imap.implicit-tls") {
		t.Errorf("got %q\n%s", got, messages(res[0].Findings))
	}
	if !strings.Contains(trace.String(), "imap imap.bound.test[192.0.2.160:993] > a1 CAPABILITY") {
		t.Errorf("trace lacks the transcript:\n%s", trace.String())
	}
}

// syncWriter serializes writes, as the CLI's --trace writer does.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
