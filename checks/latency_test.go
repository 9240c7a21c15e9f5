package checks_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// holdBound only catches a hang: how long gate holds the MX answer
// waiting for the question it awaits.
const holdBound = 10 * time.Second

// gate answers from zones, but holds the answer to one question (hold)
// until another question (await) has arrived, or holdBound has passed:
// a question that arrives while the answer is held was sent without
// waiting for it.
type gate struct {
	zones       *resolve.Zones
	hold, await string // "name TYPE"
	once        sync.Once
	arrived     chan struct{}

	mu     sync.Mutex
	before bool // await arrived before hold's answer was sent
}

func newGate(zones *resolve.Zones, hold, await string) *gate {
	return &gate{zones: zones, hold: hold, await: await, arrived: make(chan struct{})}
}

// Exchange implements dnstest.Responder.
func (g *gate) Exchange(name string, qtype uint16) (int, []dns.RR) {
	switch name + " " + dns.TypeToString[qtype] {
	case g.await:
		g.once.Do(func() { close(g.arrived) })
	case g.hold:
		select {
		case <-g.arrived:
			g.mu.Lock()
			g.before = true
			g.mu.Unlock()
		case <-time.After(holdBound):
		}
	}
	z := g.zones.Find(name)
	if z == nil {
		return dns.RcodeRefused, nil
	}
	return z.Exchange(name, qtype)
}

func (g *gate) awaitedFirst() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.before
}

// TestLookupsStartBesideMX checks that the lookups that do not depend on
// the domain's MX set are sent while it is being looked up, not after
// its answer: a blocklist's health probe, the DKIM _domainkey question
// (with the RFC 8020 cut) and the DMARC record. The server holds the MX
// answer until the awaited question arrives; a check that waited for the
// MX answer first would send it only after holdBound.
func TestLookupsStartBesideMX(t *testing.T) {
	tests := []struct {
		check checks.Check
		await string
		opts  checks.Options
	}{
		{checks.DNSBL{}, "2.0.0.127.bl.spamcop.net. A", checks.Options{DNSBL: checks.DNSBLOptions{Zones: []string{"bl.spamcop.net"}}}},
		{checks.DKIM{}, "_domainkey.mail.example. TXT", checks.Options{DKIM: checks.DKIMOptions{Cut: true}}},
		{checks.DMARC{}, "_dmarc.mail.example. TXT", checks.Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.check.Meta().Name, func(t *testing.T) {
			srv := startDNSBLServer(t, "bl.spamcop.net.zone")
			g := newGate(srv.Zones, "mail.example. MX", tt.await)
			srv.SetResponder(g)
			name, err := resolve.ParseName("mail.example")
			if err != nil {
				t.Fatal(err)
			}
			env := checks.NewEnv(name, resolve.NewCache(srv.Resolver(3*holdBound)))
			env.Options = tt.opts
			res := checks.Run(context.Background(), env, []checks.Check{tt.check})
			if len(res[0].Findings) == 0 {
				t.Fatalf("no findings: %+v", res[0])
			}
			if !g.awaitedFirst() {
				t.Errorf("%s was not asked before the answer to the MX question was sent: it waited for the MX set", tt.await)
			}
			if n := srv.Count("mail.example.", dns.TypeMX); n != 1 {
				t.Errorf("the MX question was asked %d times, want 1", n)
			}
		})
	}
}
