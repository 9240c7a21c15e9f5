package checks_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/sharedtest"
)

// startTLSRPTServer serves the TLS-RPT case zone with the failures the
// cases need.
func startTLSRPTServer(t *testing.T) *dnstest.Server {
	t.Helper()
	srv := dnstest.Start(t, "../testdata/zones/tlsrpt/tlsrpt.test.zone")
	srv.Set("_smtp._tls.servfail.tlsrpt.test", dnstest.ServFail)
	srv.Set("_mta-sts.stsfail.tlsrpt.test", dnstest.ServFail)
	return srv
}

// TestTLSRPT runs the tlsrpt check through the real wire path (zone
// file, test DNS server, resolver, cache, runner), one case per finding.
func TestTLSRPT(t *testing.T) {
	srv := startTLSRPTServer(t)
	tests := []struct {
		domain string
		want   string // findings "id:severity" in order
		msg    string // substring of the first finding's message
		fix    string // substring of the first finding's fix
	}{
		{"ok.tlsrpt.test", "tlsrpt.ok:pass",
			"TLS-RPT record at _smtp._tls.ok.tlsrpt.test: senders report failed TLS connections to mailto:tls@reports.tlsrpt.test, https://reports.tlsrpt.test/v1/tlsrpt", ""},
		{"cname.tlsrpt.test", "tlsrpt.ok:pass", "to mailto:tls@reports.tlsrpt.test", ""},
		{"none.tlsrpt.test", "tlsrpt.missing:info",
			"no TLS-RPT record at _smtp._tls.none.tlsrpt.test: sending servers report no failed TLS connections to none.tlsrpt.test",
			`publish _smtp._tls.none.tlsrpt.test. IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@none.tlsrpt.test"`},
		{"sts.tlsrpt.test", "tlsrpt.missing:warn", "while sts.tlsrpt.test publishes MTA-STS (_mta-sts.sts.tlsrpt.test)",
			`_smtp._tls.sts.tlsrpt.test. IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@sts.tlsrpt.test"`},
		{"dane.tlsrpt.test", "tlsrpt.missing:warn", "publishes DANE (TLSA at _25._tcp.mx.dane.tlsrpt.test)", "v=TLSRPTv1"},
		{"stsfail.tlsrpt.test", "tlsrpt.missing:info tlsrpt.temperror:error", "no TLS-RPT record", "v=TLSRPTv1"},
		{"multiple.tlsrpt.test", "tlsrpt.multiple:fail", "_smtp._tls.multiple.tlsrpt.test has 2 TXT records starting with v=TLSRPTv1",
			`delete all but one; publish only _smtp._tls.multiple.tlsrpt.test. IN TXT "v=TLSRPTv1; rua=mailto:a@reports.tlsrpt.test"`},
		{"scheme.tlsrpt.test", "tlsrpt.syntax:fail", `rua entry "ftp://reports.tlsrpt.test/tlsrpt": senders report only to mailto: and https: URIs`,
			`publish _smtp._tls.scheme.tlsrpt.test. IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@scheme.tlsrpt.test"`},
		{"bang.tlsrpt.test", "tlsrpt.syntax:fail", `"!" must be percent-encoded`,
			`write mailto:tls@reports.tlsrpt.test instead of mailto:tls@reports.tlsrpt.test!10m: publish _smtp._tls.bang.tlsrpt.test. IN TXT "v=TLSRPTv1; rua=mailto:tls@reports.tlsrpt.test"`},
		{"case.tlsrpt.test", "tlsrpt.syntax:fail", `does not start with v=TLSRPTv1, in that case`,
			`replace it with _smtp._tls.case.tlsrpt.test. IN TXT "v=TLSRPTv1; rua=mailto:tls@reports.tlsrpt.test"`},
		{"bare.tlsrpt.test", "tlsrpt.bare-address:fail", `rua entry "tls@reports.tlsrpt.test" is an e-mail address, not a URI`,
			`write mailto:tls@reports.tlsrpt.test instead of tls@reports.tlsrpt.test: publish _smtp._tls.bare.tlsrpt.test. IN TXT "v=TLSRPTv1; rua=mailto:tls@reports.tlsrpt.test"`},
		{"https.tlsrpt.test", "tlsrpt.https-invalid:fail", `rua entry "https:reports.tlsrpt.test/v1" is not a valid https URL: it has no host`,
			`"v=TLSRPTv1; rua=mailto:tlsrpt@https.tlsrpt.test"`},
		{"dead.tlsrpt.test", "tlsrpt.ok:pass tlsrpt.mailto-undeliverable:fail tlsrpt.mailto-undeliverable:fail",
			"senders report failed TLS connections to mailto:tls@reports.tlsrpt.test", ""},
		{"alldead.tlsrpt.test", "tlsrpt.mailto-undeliverable:fail",
			"_smtp._tls.alldead.tlsrpt.test sends reports to addresses at nullmx.tlsrpt.test, but nullmx.tlsrpt.test publishes a null MX (RFC 7505): it accepts no mail",
			`publish _smtp._tls.alldead.tlsrpt.test. IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@alldead.tlsrpt.test"`},
		{"servfail.tlsrpt.test", "tlsrpt.temperror:error",
			"could not look up the TLS-RPT record of servfail.tlsrpt.test: SERVFAIL from " + srv.Addr + " for TXT _smtp._tls.servfail.tlsrpt.test (not evaluated: a failed lookup is not a missing record)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			res := runCheck(t, srv, tt.domain, checks.Options{}, checks.TLSRPT{})[0]
			fs := res.Findings
			if got := tlsrptKeys(fs); got != tt.want {
				for _, f := range fs {
					t.Logf("%s %s: %s [fix: %s]", f.ID, f.Severity, f.Message, f.Fix)
				}
				t.Fatalf("findings = %s\nwant %s", got, tt.want)
			}
			if !strings.Contains(fs[0].Message, tt.msg) {
				t.Errorf("message %q lacks %q", fs[0].Message, tt.msg)
			}
			if !strings.Contains(fs[0].Fix, tt.fix) {
				t.Errorf("fix %q lacks %q", fs[0].Fix, tt.fix)
			}
			for _, f := range fs {
				if (f.Severity == checks.Warn || f.Severity == checks.Fail) && f.Fix == "" {
					t.Errorf("%s (%s) has no fix", f.ID, f.Severity)
				}
				if f.Severity != checks.Error && f.RFC == "" {
					t.Errorf("%s names no RFC", f.ID)
				}
			}
			if _, err := json.Marshal(res.Data); err != nil {
				t.Errorf("data does not marshal: %v", err)
			}
		})
	}
}

// tlsrptKeys renders findings as "id:severity", in order.
func tlsrptKeys(fs []checks.Finding) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID+":"+string(f.Severity))
	}
	return strings.Join(out, " ")
}

// TestTLSRPTAsksOnce: the check asks each question once, even with no
// cache in front of the server, and looks for MTA-STS and DANE only when
// no record is published.
func TestTLSRPTAsksOnce(t *testing.T) {
	for _, domain := range []string{"dead.tlsrpt.test", "dane.tlsrpt.test", "ok.tlsrpt.test"} {
		t.Run(domain, func(t *testing.T) {
			srv := startTLSRPTServer(t)
			n, _ := resolve.ParseName(domain)
			env := checks.NewEnv(n, srv.Resolver(500*time.Millisecond))
			res := checks.Run(context.Background(), env, []checks.Check{checks.TLSRPT{}})
			sharedtest.Dump(t, res)
			if d := srv.Duplicates(); len(d) > 0 {
				t.Errorf("asked more than once: %v", d)
			}
			sts := srv.Count("_mta-sts."+domain, dns.TypeTXT)
			if want := map[bool]int{true: 1, false: 0}[domain == "dane.tlsrpt.test"]; sts != want {
				t.Errorf("_mta-sts asked %d times, want %d", sts, want)
			}
		})
	}
}
