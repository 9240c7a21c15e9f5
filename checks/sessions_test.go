package checks_test

import (
	"context"
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

const sharedMXZone = `$ORIGIN test.
@ IN SOA ns h 1 2 3 4 5
a IN MX 10 mx.provider
a IN MX 20 mx.a
b IN MX 10 mx.provider
c IN MX 10 mx.provider
mx.provider IN A 192.0.2.70
mx.a IN A 192.0.2.71
`

// auditShared audits domains at once with the smtp check, through
// newEnv, and returns each domain's findings.
func auditShared(t *testing.T, newEnv func(resolve.Name) *checks.Env, domains ...string) map[string][]checks.Finding {
	t.Helper()
	out := map[string][]checks.Finding{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, d := range domains {
		n, _ := resolve.ParseName(d)
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res := checks.Run(ctx, newEnv(n), []checks.Check{checks.SMTP{}})
			mu.Lock()
			out[d] = res[0].Findings
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// relayFindings returns the IDs of the open-relay findings about host.
func relayFindings(fs []checks.Finding, host string) []string {
	var out []string
	for _, f := range fs {
		if strings.HasPrefix(f.ID, "smtp.relay") || f.ID == "smtp.open-relay" {
			if strings.Contains(f.Message, host) {
				out = append(out, f.ID)
			}
		}
	}
	return out
}

// With run-wide sessions, a provider's MX host that three domains share
// is connected to once and joined back to each domain, without the
// open-relay test; a domain's own MX host gets its session and the test.
func TestSharedSessions(t *testing.T) {
	srv := dnstest.StartZones(t, dnstest.Zone(t, "test", sharedMXZone))
	cache := resolve.NewCache(srv.Resolver(5 * time.Second))
	for _, shared := range []bool{false, true} {
		dialer := smtptest.NewDialer()
		dialer.Map("192.0.2.70:25", smtptest.Start(t, smtptest.Options{Hostname: "mx.provider.test", Local: "provider.test"}).Addr)
		dialer.Map("192.0.2.71:25", smtptest.Start(t, smtptest.Options{Hostname: "mx.a.test", Local: "a.test"}).Addr)
		newEnv := func(n resolve.Name) *checks.Env {
			env := checks.NewEnv(n, cache)
			env.Dialer, env.Options.ProbeTimeout = dialer, 5*time.Second
			return env
		}
		if shared {
			newEnv = checks.ShareRun(newEnv)
		}
		fs := auditShared(t, newEnv, "a.test", "b.test", "c.test")
		dials := dialer.Dials()
		provider := len(slices.DeleteFunc(slices.Clone(dials), func(a string) bool { return a != "192.0.2.70:25" }))
		want := map[bool]int{false: 3, true: 1}[shared]
		if provider != want || len(dials) != want+1 {
			t.Errorf("shared=%v: dials %v, want %d to the provider", shared, dials, want)
		}
		if got := relayFindings(fs["a.test"], "mx.a.test"); len(got) != 1 {
			t.Errorf("shared=%v: relay findings for the own MX host: %v", shared, got)
		}
		for _, d := range []string{"a.test", "b.test", "c.test"} {
			got := relayFindings(fs[d], "mx.provider.test")
			if shared && len(got) != 0 || !shared && len(got) != 1 {
				t.Errorf("shared=%v: %s: relay findings for the provider's MX host: %v", shared, d, got)
			}
		}
	}
}
