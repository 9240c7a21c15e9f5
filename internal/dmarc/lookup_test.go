package dmarc

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

func startFixtures(t *testing.T) (*dnstest.Server, resolve.Resolver) {
	t.Helper()
	files, err := filepath.Glob("../../testdata/zones/dmarc/*.zone")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	srv := dnstest.Start(t, files...)
	return srv, resolve.NewCache(srv.Resolver(300 * time.Millisecond))
}

func TestLookup(t *testing.T) {
	srv, r := startFixtures(t)
	srv.Set("_dmarc.servfail.policy.example", dnstest.ServFail)
	srv.Set("_dmarc.timeout.policy.example", dnstest.Drop)
	srv.Set("_dmarc.orgfail.example", dnstest.ServFail)
	tests := []struct {
		domain    string
		status    Status
		policyDom string
		inherited bool
		policy    string   // effective p of the record found
		queries   []string // names asked, in order
		ignored   int
		err       error
	}{
		{domain: "good.policy.example", status: StatusFound, policyDom: "good.policy.example", policy: "reject",
			queries: []string{"_dmarc.good.policy.example"}},
		{domain: "policy.example", status: StatusFound, policyDom: "policy.example", policy: "reject",
			queries: []string{"_dmarc.policy.example"}},
		{domain: "inherit.policy.example", status: StatusFound, policyDom: "policy.example", inherited: true, policy: "reject",
			queries: []string{"_dmarc.inherit.policy.example", "_dmarc.policy.example"}},
		// A name that does not exist at all still inherits (NXDOMAIN).
		{domain: "a.b.nowhere.policy.example", status: StatusFound, policyDom: "policy.example", inherited: true, policy: "reject",
			queries: []string{"_dmarc.a.b.nowhere.policy.example", "_dmarc.policy.example"}},
		// Only a non-DMARC TXT record: discarded, inherited.
		{domain: "spfonly.policy.example", status: StatusFound, policyDom: "policy.example", inherited: true, policy: "reject",
			queries: []string{"_dmarc.spfonly.policy.example", "_dmarc.policy.example"}},
		// v= not first: discarded but kept as "ignored" evidence, inherited.
		{domain: "nov.policy.example", status: StatusFound, policyDom: "policy.example", inherited: true, policy: "reject", ignored: 1,
			queries: []string{"_dmarc.nov.policy.example", "_dmarc.policy.example"}},
		{domain: "cname.policy.example", status: StatusFound, policyDom: "cname.policy.example", policy: "reject",
			queries: []string{"_dmarc.cname.policy.example"}},
		// Multiple records stop discovery: no fallback.
		{domain: "multiple.policy.example", status: StatusMultiple, policyDom: "multiple.policy.example",
			queries: []string{"_dmarc.multiple.policy.example"}},
		{domain: "nodmarc.example", status: StatusNone, queries: []string{"_dmarc.nodmarc.example"}},
		{domain: "sub.nodmarc.example", status: StatusNone, queries: []string{"_dmarc.sub.nodmarc.example", "_dmarc.nodmarc.example"}},
		{domain: "SUB.NoDMARC.example.", status: StatusNone, queries: []string{"_dmarc.sub.nodmarc.example", "_dmarc.nodmarc.example"}},
		// Failures are temperror, never missing, and stop discovery.
		{domain: "servfail.policy.example", status: StatusTemperror, queries: []string{"_dmarc.servfail.policy.example"}, err: resolve.ErrServFail},
		{domain: "timeout.policy.example", status: StatusTemperror, queries: []string{"_dmarc.timeout.policy.example"}, err: resolve.ErrTimeout},
		// Outside every served zone: REFUSED by the test server.
		{domain: "x.orgfail.example", status: StatusTemperror, queries: []string{"_dmarc.x.orgfail.example"}, err: resolve.ErrRefused},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			res, err := Lookup(context.Background(), r, tt.domain)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || !errors.Is(err, ErrLookup) {
					t.Fatalf("err = %v, want %v wrapped in ErrLookup", err, tt.err)
				}
			} else if err != nil {
				t.Fatalf("err = %v", err)
			}
			if res.Status != tt.status || res.PolicyDomain != tt.policyDom || res.Inherited != tt.inherited {
				t.Errorf("status %s policy domain %q inherited %v; want %s %q %v", res.Status, res.PolicyDomain, res.Inherited, tt.status, tt.policyDom, tt.inherited)
			}
			var asked []string
			for _, q := range res.Queries {
				asked = append(asked, q.Name)
			}
			if strings.Join(asked, " ") != strings.Join(tt.queries, " ") {
				t.Errorf("asked %v, want %v", asked, tt.queries)
			}
			if len(res.Ignored) != tt.ignored {
				t.Errorf("ignored = %v, want %d", res.Ignored, tt.ignored)
			}
			if tt.policy != "" {
				if res.Record == nil || res.Record.Policy == nil || string(res.Record.Policy.Policy) != tt.policy {
					t.Errorf("record %+v, want policy %s", res.Record, tt.policy)
				}
			}
		})
	}
	if d := srv.Duplicates(); len(d) > 0 {
		t.Errorf("questions asked twice: %v", d)
	}
}

func TestLookupCNAMEEvidence(t *testing.T) {
	_, r := startFixtures(t)
	res, err := Lookup(context.Background(), r, "cname.policy.example")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Evidence) != 2 || !strings.Contains(res.Evidence[0], "CNAME") || !strings.Contains(res.Evidence[1], "TXT") {
		t.Errorf("evidence = %q, want the CNAME then the TXT", res.Evidence)
	}
}

func TestAuthorize(t *testing.T) {
	srv, r := startFixtures(t)
	srv.Set("external.policy.example._report._dmarc.fail.reports.example", dnstest.ServFail)
	uris := parseURIList("mailto:a@policy.example,mailto:b@sub.policy.example,mailto:agg@reports.example,mailto:x@reports.example," +
		"mailto:agg@noauth.example,mailto:agg@badauth.example,mailto:agg@fail.reports.example,dmarc@reports.example")
	got := Authorize(context.Background(), r, "external.policy.example", uris)
	want := []struct {
		host              string
		external, authzed bool
		answer            string
		tempErr           bool
	}{
		{"policy.example", false, true, "", false},
		{"sub.policy.example", false, true, "", false},
		{"reports.example", true, true, "", false},
		{"reports.example", true, true, "", false},
		{"noauth.example", true, false, "NXDOMAIN", false},
		{"badauth.example", true, false, "no TXT record starting with v=DMARC1", false},
		{"fail.reports.example", true, false, "", true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d authorizations, want %d (the invalid URI is skipped): %+v", len(got), len(want), got)
	}
	for i, w := range want {
		a := got[i]
		if a.URI.Host != w.host || a.External != w.external || a.Authorized != w.authzed || a.Answer != w.answer || (a.Err != nil) != w.tempErr {
			t.Errorf("%d: %+v; want %+v", i, a, w)
		}
		if w.external && a.Name != "external.policy.example._report._dmarc."+w.host {
			t.Errorf("%d: name %q", i, a.Name)
		}
	}
	if !errors.Is(got[6].Err, resolve.ErrServFail) {
		t.Errorf("temp error = %v, want SERVFAIL", got[6].Err)
	}
	// Two URIs at reports.example: one question.
	if n := srv.Count("external.policy.example._report._dmarc.reports.example", dns.TypeTXT); n != 1 {
		t.Errorf("authorization asked %d times, want 1", n)
	}
}

// nxResolver answers from zones, and NXDOMAIN outside them (the public
// suffixes of the PSL vectors).
type nxResolver struct{ zs *resolve.Zones }

func (n nxResolver) Query(ctx context.Context, name string, qtype uint16) (*resolve.Answer, error) {
	if n.zs.Find(name) == nil {
		return &resolve.Answer{Name: dns.CanonicalName(name), Qtype: qtype, Rcode: dns.RcodeNameError, Server: "test"}, nil
	}
	return n.zs.Query(ctx, name, qtype)
}

// TestLookupPSL runs policy discovery over the Public Suffix List vectors:
// with a record only at the expected organizational domain, every input
// finds it there; for the null cases, discovery asks only the domain's own
// _dmarc name (there is no organizational domain to fall back to).
func TestLookupPSL(t *testing.T) {
	cases := pslVectors(t)
	var zones []*resolve.Zone
	orgs := map[string]bool{}
	for _, c := range cases {
		if c.want != "" && !orgs[c.want] {
			orgs[c.want] = true
			zones = append(zones, dnstest.Zone(t, c.want+".", "$ORIGIN "+c.want+".\n@ 3600 IN SOA a. b. 1 2 3 4 5\n_dmarc 3600 IN TXT \"v=DMARC1; p=reject\"\n"))
		}
	}
	zs := nxResolver{&resolve.Zones{List: zones}}
	pass := 0
	for _, c := range cases {
		res, err := Lookup(context.Background(), zs, c.input)
		if c.want == "" {
			if err == nil && res.Status == StatusNone && len(res.Queries) == 1 {
				pass++
			} else {
				t.Errorf("%q: %v, %+v; want none after one question", c.input, err, res)
			}
			continue
		}
		if err == nil && res.Status == StatusFound && res.PolicyDomain == c.want {
			pass++
		} else {
			t.Errorf("%q: err %v, status %s, found at %q; want %q", c.input, err, res.Status, res.PolicyDomain, c.want)
		}
	}
	t.Logf("DMARC discovery over PSL vectors: %d/%d passed", pass, len(cases))
}

// inflight answers every TXT question with NODATA after a pause and
// records how many questions were in flight at once.
type inflight struct {
	mu        sync.Mutex
	now, peak int
	asked     int
}

func (f *inflight) Query(ctx context.Context, name string, qtype uint16) (*resolve.Answer, error) {
	f.mu.Lock()
	f.now++
	f.asked++
	f.peak = max(f.peak, f.now)
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.now--; f.mu.Unlock() }()
	select {
	case <-time.After(5 * time.Millisecond):
	case <-ctx.Done():
		return nil, &resolve.QueryError{Name: name, Qtype: qtype, Kind: resolve.ErrTimeout}
	}
	return &resolve.Answer{Name: dns.CanonicalName(name), Qtype: qtype, Rcode: dns.RcodeSuccess, Server: "test"}, nil
}

// TestAuthorizeBounded: a record listing many external destinations does
// not fire one lookup per destination at once, and every destination is
// still checked.
func TestAuthorizeBounded(t *testing.T) {
	var list []string
	for i := range 60 {
		list = append(list, fmt.Sprintf("mailto:r@d%d.example", i))
	}
	f := &inflight{}
	got := Authorize(context.Background(), f, "policy.example", parseURIList(strings.Join(list, ",")))
	if len(got) != 60 || f.asked != 60 {
		t.Fatalf("%d authorizations, %d questions; want 60 and 60", len(got), f.asked)
	}
	for _, a := range got {
		if a.Authorized || a.Answer != "no TXT record" || a.Err != nil {
			t.Fatalf("%+v", a)
		}
	}
	if f.peak > MaxAuthorizeParallel || f.peak < 2 {
		t.Errorf("%d lookups in flight at once, want 2..%d", f.peak, MaxAuthorizeParallel)
	}
	// Under an interruption every destination is an error that says so,
	// never "unauthorized".
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f = &inflight{}
	for _, a := range Authorize(ctx, f, "policy.example", parseURIList(strings.Join(list[:20], ","))) {
		if a.Err == nil || !errors.Is(a.Err, resolve.ErrCanceled) && !errors.Is(a.Err, resolve.ErrTimeout) {
			t.Fatalf("%+v, want an interruption error", a)
		}
	}
}
