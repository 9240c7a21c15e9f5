package checks_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
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

const stsPolicy = "version: STSv1\nmode: enforce\nmx: mx.mtasts.test\nmax_age: 604800\n"

// mtastsPolicies is what the HTTPS server answers per case (the label
// before .mtasts.test of the policy host).
var mtastsPolicies = map[string]http.HandlerFunc{
	"ok":        stsServe("text/plain", stsPolicy),
	"crlf":      stsServe("text/plain; charset=utf-8", "version: STSv1\r\nmode: enforce\r\nx-note: kept out\r\nmx: *.mtasts.test\r\nmax_age: 86400\r\n"),
	"testing":   stsServe("text/plain", "version: STSv1\nmode: testing\nmx: *.mtasts.test\nmax_age: 86400\n"),
	"unmatched": stsServe("text/plain", "version: STSv1\nmode: enforce\nmx: mail.elsewhere.test\nmax_age: 86400\n"),
	"names":     stsServe("text/plain", "version: STSv1\nmode: enforce\nmx: wrong.mtasts.test\nmax_age: 86400\n"),
	"plainmx":   stsServe("text/plain", "version: STSv1\nmode: enforce\nmx: *.mtasts.test\nmax_age: 86400\n"),
	"withdrawn": stsServe("text/plain", "version: STSv1\nmode: none\nmax_age: 86400\n"),
	"multiple":  stsServe("text/plain", stsPolicy),
	"badid":     stsServe("text/plain", stsPolicy),
	"ipmx":      stsServe("text/plain", "version: STSv1\nmode: enforce\nmx: 192.0.2.1\nmax_age: 86400\n"),
	"redirect": func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://www.mtasts.test/mta-sts.txt", http.StatusFound)
	},
	"notfound":      http.NotFound,
	"big":           stsServe("text/plain", stsPolicy+strings.Repeat("#", 65537)),
	"ctype":         stsServe("text/html", stsPolicy),
	"certname":      stsServe("text/plain", stsPolicy),
	"expired":       stsServe("text/plain", stsPolicy),
	"sharedsession": stsServe("text/plain", stsPolicy),
}

func stsServe(ctype, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", ctype)
		_, _ = w.Write([]byte(body))
	}
}

// mtastsWorld is the DNS server, the MX servers and the policy server of
// the mtasts tests.
type mtastsWorld struct {
	dns    *dnstest.Server
	dialer *smtptest.Dialer
	ca     *smtptest.CA
}

// mtastsTestNow is the audit clock of the MTA-STS tests: fixed for the
// run, so that the policy id a fix proposes is known, but taken from
// the real clock, because the test certificates are issued relative to
// it (a fixed date made the tests fail an hour after it was written).
var (
	mtastsTestNow = time.Now().UTC().Truncate(time.Second)
	mtastsTestID  = mtastsTestNow.Format("20060102150405")
)

func startMTASTSWorld(t *testing.T) *mtastsWorld {
	t.Helper()
	w := &mtastsWorld{dns: dnstest.Start(t, "../testdata/zones/mtasts/mtasts.test.zone"), dialer: smtptest.NewDialer(), ca: smtptest.NewCA(t, "mtasts test CA")}
	w.dns.Set("_mta-sts.servfail.mtasts.test", dnstest.ServFail)
	cert := func(names ...string) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{w.ca.Issue(t, smtptest.CertOptions{Names: names})}}
	}
	w.dialer.Map("192.0.2.1:25", smtptest.Start(t, smtptest.Options{Hostname: "mx.mtasts.test", TLS: cert("mx.mtasts.test", "deep.mx.mtasts.test")}).Addr)
	w.dialer.Map("192.0.2.2:25", smtptest.Start(t, smtptest.Options{Hostname: "wrong.mtasts.test", TLS: cert("mail.elsewhere.test")}).Addr)
	w.dialer.Map("192.0.2.3:25", smtptest.Start(t, smtptest.Options{Hostname: "plain.mtasts.test"}).Addr)
	w.dialer.Map("192.0.2.81:443", smtptest.Blackhole)
	w.dialer.Map("192.0.2.80:443", strings.TrimPrefix(w.startPolicyServer(t).URL, "https://"))
	return w
}

// startPolicyServer serves every case's policy host, with a certificate
// for the name the client asks for (SNI), except the certname and
// expired cases.
func (w *mtastsWorld) startPolicyServer(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	certs := map[string]*tls.Certificate{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		label := strings.TrimSuffix(strings.TrimPrefix(r.Host, "mta-sts."), ".mtasts.test")
		if h := mtastsPolicies[label]; h != nil {
			h(rw, r)
			return
		}
		http.NotFound(rw, r)
	}))
	srv.TLS = &tls.Config{GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		mu.Lock()
		defer mu.Unlock()
		if c := certs[hello.ServerName]; c != nil {
			return c, nil
		}
		o := smtptest.CertOptions{Names: []string{hello.ServerName}}
		switch hello.ServerName {
		case "mta-sts.certname.mtasts.test":
			o.Names = []string{"www.certname.mtasts.test"}
		case "mta-sts.expired.mtasts.test":
			o.NotBefore, o.NotAfter = time.Now().AddDate(-1, 0, 0), time.Now().AddDate(0, 0, -3)
		}
		c := w.ca.Issue(t, o)
		certs[hello.ServerName] = &c
		return &c, nil
	}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failing handshakes are the cases
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func (w *mtastsWorld) run(t *testing.T, domain string, opts checks.Options, list ...checks.Check) map[string]checks.CheckResult {
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
	env.Dialer, env.RootCAs = w.dialer, w.ca.Pool
	env.Now = func() time.Time { return mtastsTestNow }
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res := checks.Run(ctx, env, list)
	sharedtest.Dump(t, res)
	out := map[string]checks.CheckResult{}
	for _, r := range res {
		assertCatalogued(t, r, list)
		out[r.Name] = r
	}
	return out
}

// TestMTASTS runs the mtasts check through the real wire path (zone
// file, test DNS server, resolver, cache, runner; the policy over HTTPS
// through the test dialer; the MX sessions of the smtp check), one case
// per finding.
func TestMTASTS(t *testing.T) {
	w := startMTASTSWorld(t)
	tests := []struct {
		domain string
		opts   checks.Options
		want   []string // exact "severity id [xN]" set
		text   string   // substring some finding message must contain
		fix    string   // substring some finding fix must contain
	}{
		{domain: "none.mtasts.test", want: []string{"info mtasts.missing"}, text: "no MTA-STS record at _mta-sts.none.mtasts.test"},
		{domain: "ok.mtasts.test", want: []string{"pass mtasts.ok"}, text: "MTA-STS policy (id 20261205T000000) in mode enforce, max_age 604800, mx mx.mtasts.test"},
		{domain: "crlf.mtasts.test", want: []string{"pass mtasts.ok"}, text: "(id abc123) in mode enforce, max_age 86400, mx *.mtasts.test"},
		{domain: "testing.mtasts.test", want: []string{"warn mtasts.mx-unmatched"}, text: "MX host deep.mx.mtasts.test matches no mx pattern of the policy (*.mtasts.test)",
			fix: "mode: testing\nmx: deep.mx.mtasts.test\nmax_age: 86400\nthen publish _mta-sts.testing.mtasts.test. IN TXT \"v=STSv1; id=" + mtastsTestID + "\""},
		{domain: "unmatched.mtasts.test", want: []string{"fail mtasts.mx-unmatched"}, text: "senders enforcing MTA-STS will not deliver to it", fix: "mode: enforce\nmx: mx.mtasts.test\n"},
		{domain: "names.mtasts.test", want: []string{"fail mtasts.mx-tls"}, text: "MX wrong.mtasts.test[192.0.2.2]:25: the certificate is for mail.elsewhere.test, not wrong.mtasts.test",
			fix: "give wrong.mtasts.test a certificate from a public CA"},
		{domain: "plainmx.mtasts.test", want: []string{"error mtasts.not-evaluated", "fail mtasts.mx-tls"}, text: "plain.mtasts.test[192.0.2.3]:25: it offers no STARTTLS"},
		{domain: "withdrawn.mtasts.test", want: []string{"info mtasts.mode-none"}, text: "in mode none"},
		{domain: "multiple.mtasts.test", want: []string{"fail mtasts.multiple"}, text: "has 2 TXT records starting with v=STSv1",
			fix: "publish only _mta-sts.multiple.mtasts.test. IN TXT \"v=STSv1; id=" + mtastsTestID + "\""},
		{domain: "badid.mtasts.test", want: []string{"fail mtasts.record-syntax"}, text: `id="2026-12-05" must be 1 to 32 letters and digits`},
		{domain: "ipmx.mtasts.test", want: []string{"fail mtasts.policy-syntax"}, text: `mx "192.0.2.1" is an IP address`, fix: "mx: mx.mtasts.test\nmax_age: 86400"},
		{domain: "redirect.mtasts.test", want: []string{"fail mtasts.fetch-redirect"}, text: `(192.0.2.80:443) answered 302 Found, a redirect to "https://www.mtasts.test/mta-sts.txt"`},
		{domain: "notfound.mtasts.test", want: []string{"fail mtasts.fetch-status"}, text: "https://mta-sts.notfound.mtasts.test/.well-known/mta-sts.txt (192.0.2.80:443) answered 404 Not Found"},
		{domain: "big.mtasts.test", want: []string{"fail mtasts.fetch-size"}, text: "larger than 65536 bytes"},
		{domain: "ctype.mtasts.test", want: []string{"fail mtasts.fetch-content-type"}, text: `served as "text/html"`},
		{domain: "certname.mtasts.test", want: []string{"fail mtasts.fetch-tls"}, text: "certificate is valid for www.certname.mtasts.test, not mta-sts.certname.mtasts.test"},
		{domain: "expired.mtasts.test", want: []string{"fail mtasts.fetch-tls"}, text: "expired"},
		{domain: "nohost.mtasts.test", want: []string{"fail mtasts.policy-host-missing"}, text: "mta-sts.nohost.mtasts.test has no address"},
		{domain: "private.mtasts.test", want: []string{"error mtasts.fetch-network"}, text: "10.0.0.1 is a private address, not contacted"},
		{domain: "slow.mtasts.test", opts: checks.Options{ProbeTimeout: 300 * time.Millisecond}, want: []string{"error mtasts.fetch-timeout"},
			text: "https://mta-sts.slow.mtasts.test/.well-known/mta-sts.txt (192.0.2.81:443): no answer in time"},
		{domain: "servfail.mtasts.test", want: []string{"error mtasts.temperror"}, text: "SERVFAIL from " + w.dns.Addr + " for TXT _mta-sts.servfail.mtasts.test"},
		{domain: "ok.mtasts.test", opts: checks.Options{Offline: true}, want: []string{"error mtasts.not-evaluated"}, text: "--offline"},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			res := w.run(t, tt.domain, tt.opts, checks.MTASTS{})["mtasts"]
			fs := res.Findings
			if got := strings.Join(sevIDs(fs), ", "); got != strings.Join(tt.want, ", ") {
				for _, f := range fs {
					t.Logf("%s %s: %s [fix: %s]", f.ID, f.Severity, f.Message, f.Fix)
				}
				t.Fatalf("findings = %s\nwant %s", got, strings.Join(tt.want, ", "))
			}
			assertSome(t, fs, tt.text, func(f checks.Finding) string { return f.Message })
			assertSome(t, fs, tt.fix, func(f checks.Finding) string { return f.Fix })
			for _, f := range fs {
				if (f.Severity == checks.Warn || f.Severity == checks.Fail) && (f.Fix == "" || f.RFC == "") {
					t.Errorf("%s (%s) lacks a fix or an RFC", f.ID, f.Severity)
				}
			}
			if _, err := json.Marshal(res.Data); err != nil {
				t.Errorf("data does not marshal: %v", err)
			}
		})
	}
}

func assertSome(t *testing.T, fs []checks.Finding, want string, field func(checks.Finding) string) {
	t.Helper()
	for _, f := range fs {
		if strings.Contains(field(f), want) {
			return
		}
	}
	t.Errorf("no finding has %q", want)
}

// TestMTASTSEnforceTightensTLS: under a valid enforce policy the tls
// check judges a matched MX host's certificate as MTA-STS senders do (a
// name mismatch fails), and both checks share one fetch and one session
// per address.
func TestMTASTSEnforceTightensTLS(t *testing.T) {
	w := startMTASTSWorld(t)
	before := len(w.dialer.Dials())
	res := w.run(t, "names.mtasts.test", checks.Options{}, checks.SMTP{}, checks.TLS{}, checks.MTASTS{})
	if got := strings.Join(sevIDs(res["tls"].Findings), ", "); got != "fail tls.cert-name-mismatch" {
		t.Errorf("tls findings = %s, want fail tls.cert-name-mismatch", got)
	}
	n := map[string]int{}
	for _, d := range w.dialer.Dials()[before:] {
		n[d]++
	}
	if n["192.0.2.80:443"] != 1 || n["192.0.2.2:25"] != 1 {
		t.Errorf("dials = %v, want one fetch and one session", n)
	}
	// The tls check alone fetches the policy too; under testing mode the
	// same kind of certificate stays a warn.
	alone := w.run(t, "names.mtasts.test", checks.Options{}, checks.TLS{})
	if got := strings.Join(sevIDs(alone["tls"].Findings), ", "); got != "fail tls.cert-name-mismatch" {
		t.Errorf("tls alone = %s", got)
	}
	trial := w.run(t, "testing.mtasts.test", checks.Options{}, checks.TLS{})
	if got := strings.Join(sevIDs(trial["tls"].Findings), ", "); got != "pass tls.ok" {
		t.Errorf("tls under a testing policy = %s", got)
	}
}
