package mtasts

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck/mailcheck/internal/smtptest"
)

const goodPolicy = "version: STSv1\nmode: enforce\nmx: mail.example.org\nmax_age: 604800\n"

// policyServer serves handler over TLS with cert, reached at
// 192.0.2.80:443 through the returned config's dialer.
func policyServer(t *testing.T, cert tls.Certificate, h http.HandlerFunc) FetchConfig {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	d := smtptest.NewDialer().Map("192.0.2.80:443", strings.TrimPrefix(srv.URL, "https://"))
	return FetchConfig{Domain: "example.org", Dialer: d, Timeout: 5 * time.Second,
		Lookup: func(context.Context, string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("192.0.2.80")}, nil
		}}
}

func serve(ctype, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != WellKnown || r.Host != "mta-sts.example.org" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", ctype)
		_, _ = w.Write([]byte(body))
	}
}

// TestFetch fetches policies from an in-process HTTPS server, one case
// per rule of RFC 8461 §3.3 and §3.2.
func TestFetch(t *testing.T) {
	ca := smtptest.NewCA(t, "mtasts test CA")
	good := ca.Issue(t, smtptest.CertOptions{Names: []string{"mta-sts.example.org"}})
	now := time.Now()
	tests := []struct {
		name    string
		cert    tls.Certificate
		h       http.HandlerFunc
		fail    FailKind
		problem string // a problem kind of the parsed policy
		msg     string // substring of the error message
	}{
		{name: "lf", h: serve("text/plain", goodPolicy)},
		{name: "crlf with charset", h: serve("text/plain; charset=utf-8", strings.ReplaceAll(goodPolicy, "\n", "\r\n"))},
		{name: "unknown keys", h: serve("text/plain", goodPolicy+"x-extra: 1\n")},
		{name: "ip in mx", h: serve("text/plain", "version: STSv1\nmode: enforce\nmx: 192.0.2.25\nmax_age: 1\n"), problem: "mx-address"},
		{name: "redirect", h: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://www.example.org/mta-sts.txt", http.StatusMovedPermanently)
		}, fail: FailRedirect, msg: `301 Moved Permanently, a redirect to "https://www.example.org/mta-sts.txt"`},
		{name: "404", h: http.NotFound, fail: FailStatus, msg: "https://mta-sts.example.org/.well-known/mta-sts.txt (192.0.2.80:443) answered 404 Not Found"},
		{name: "64 KiB", h: serve("text/plain", goodPolicy+"#: "+strings.Repeat("x", MaxBody-len(goodPolicy)-4)+"\n")},
		{name: "64 KiB + 1", h: serve("text/plain", goodPolicy+strings.Repeat("x", MaxBody+1-len(goodPolicy))), fail: FailSize, msg: "larger than 65536 bytes"},
		{name: "content type", h: serve("text/html", goodPolicy), fail: FailContentType, msg: `served as "text/html"`},
		{name: "no content type", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			_, _ = w.Write([]byte("\x00\x01"))
		}, fail: FailContentType},
		{name: "wrong name", cert: ca.Issue(t, smtptest.CertOptions{Names: []string{"www.example.org"}}), h: serve("text/plain", goodPolicy),
			fail: FailTLS, msg: "certificate is valid for www.example.org, not mta-sts.example.org"},
		{name: "expired", cert: ca.Issue(t, smtptest.CertOptions{Names: []string{"mta-sts.example.org"}, NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(0, 0, -1)}),
			h: serve("text/plain", goodPolicy), fail: FailTLS, msg: "expired"},
		{name: "untrusted", cert: smtptest.NewCA(t, "other CA").Issue(t, smtptest.CertOptions{Names: []string{"mta-sts.example.org"}}),
			h: serve("text/plain", goodPolicy), fail: FailTLS, msg: "not signed by a trusted authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert := tt.cert
			if cert.Certificate == nil {
				cert = good
			}
			cfg := policyServer(t, cert, tt.h)
			cfg.RootCAs = ca.Pool
			res := Fetch(context.Background(), cfg)
			checkFetch(t, res, tt.fail, tt.problem, tt.msg)
		})
	}
}

func checkFetch(t *testing.T, res *FetchResult, fail FailKind, problem, msg string) {
	t.Helper()
	if fail == "" {
		if res.Err != nil || res.Policy == nil {
			t.Fatalf("fetch failed: %+v", res.Err)
		}
		var kinds []string
		for _, p := range res.Policy.Problems {
			kinds = append(kinds, string(p.Kind))
		}
		if strings.Join(kinds, " ") != problem {
			t.Errorf("problems = %+v, want %q", res.Policy.Problems, problem)
		}
		return
	}
	if res.Err == nil || res.Err.Kind != fail {
		t.Fatalf("err = %+v, want %s", res.Err, fail)
	}
	if !strings.Contains(res.Err.Message, msg) {
		t.Errorf("message %q lacks %q", res.Err.Message, msg)
	}
	if res.Policy != nil {
		t.Errorf("a failed fetch has a policy: %+v", res.Policy)
	}
}

// TestFetchNetwork: the address policy, a host without address, a
// refused connection and a server that never answers.
func TestFetchNetwork(t *testing.T) {
	private := FetchConfig{Domain: "example.org", Timeout: time.Second, Dialer: smtptest.NewDialer(),
		Lookup: func(context.Context, string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("10.0.0.1")}, nil
		},
		Refuse: func(a netip.Addr) string {
			if a.IsPrivate() {
				return "private"
			}
			return ""
		}}
	checkFetch(t, Fetch(context.Background(), private), FailNetwork, "", "10.0.0.1 is a private address, not contacted")
	none := private
	none.Lookup = func(context.Context, string) ([]netip.Addr, error) { return nil, nil }
	checkFetch(t, Fetch(context.Background(), none), FailNoHost, "", "mta-sts.example.org has no address")
	refused := private
	refused.Refuse = nil
	checkFetch(t, Fetch(context.Background(), refused), FailNetwork, "", "https://mta-sts.example.org/.well-known/mta-sts.txt (10.0.0.1:443): dial tcp: connection refused")
	hole := refused
	hole.Dialer = smtptest.NewDialer().Map("10.0.0.1:443", smtptest.Blackhole)
	hole.Timeout = 200 * time.Millisecond
	checkFetch(t, Fetch(context.Background(), hole), FailTimeout, "", "(10.0.0.1:443): no answer in time")
}

// TestFetchWildcardDepth: a fetched "*." pattern covers exactly one
// label.
func TestFetchWildcardDepth(t *testing.T) {
	ca := smtptest.NewCA(t, "mtasts test CA")
	cfg := policyServer(t, ca.Issue(t, smtptest.CertOptions{Names: []string{"mta-sts.example.org"}}),
		serve("text/plain", "version: STSv1\nmode: enforce\nmx: *.mx.example.org\nmax_age: 86400\n"))
	cfg.RootCAs = ca.Pool
	res := Fetch(context.Background(), cfg)
	checkFetch(t, res, "", "", "")
	for host, want := range map[string]bool{"a.mx.example.org": true, "mx.example.org": false, "b.a.mx.example.org": false} {
		if got := Matching(res.Policy.MX, host) != ""; got != want {
			t.Errorf("%s matched = %v", host, got)
		}
	}
}
