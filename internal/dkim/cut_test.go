package dkim

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

const cutZone = `$ORIGIN cut.example.
@ IN SOA ns h 1 2 3 4 5
@ IN MX 10 mail
mail IN A 192.0.2.1
`

const entZone = `$ORIGIN ent.example.
@ IN SOA ns h 1 2 3 4 5
mail._domainkey IN TXT "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
custom._domainkey IN TXT "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
`

// startFixtures serves every DKIM fixture zone.
func startFixtures(t *testing.T) *dnstest.Server {
	var files []string
	for _, z := range []string{"good", "provider", "problems", "wild", "none", "custom", "nomail"} {
		files = append(files, "../../testdata/zones/dkim/"+z+".example.zone")
	}
	return dnstest.Start(t, files...)
}

func foundNames(p *ProbeResult) []string {
	var out []string
	for _, l := range p.Found() {
		out = append(out, l.Selector)
	}
	return out
}

// An NXDOMAIN at _domainkey ends the probe after one question; every
// selector reads as NXDOMAIN, none as found or failed.
func TestProbeCutNXDomain(t *testing.T) {
	srv := dnstest.StartZones(t, dnstest.Zone(t, "cut.example", cutZone))
	p := ProbeCut(context.Background(), resolve.NewCache(srv.Resolver(time.Second)), "cut.example", BuiltinNames(), 0, 0)
	if p.Cut == nil || srv.Total() != 1 || srv.Count("_domainkey.cut.example", dns.TypeTXT) != 1 {
		t.Fatalf("cut %v after %d questions", p.Cut, srv.Total())
	}
	if len(p.Lookups) != len(Builtin) || len(p.Found()) != 0 || len(p.Failed()) != 0 || p.HasWildcard() {
		t.Fatalf("lookups %d found %d failed %d", len(p.Lookups), len(p.Found()), len(p.Failed()))
	}
	for _, l := range p.Lookups {
		if !l.Answer.NXDomain() || len(l.Chain()) != 0 {
			t.Errorf("%s: %+v", l.Selector, l.Answer)
		}
	}
}

// On the fixtures the cut never applies wrongly: ProbeCut finds what
// Probe finds (the questions each sends are logged: docs/checks/dkim.md).
func TestProbeCutFixtures(t *testing.T) {
	for _, d := range []string{"good", "provider", "problems", "wild", "none", "custom", "nomail"} {
		s1, s2 := startFixtures(t), startFixtures(t)
		full := Probe(context.Background(), resolve.NewCache(s1.Resolver(time.Second)), d+".example", BuiltinNames(), 0)
		cut := ProbeCut(context.Background(), resolve.NewCache(s2.Resolver(time.Second)), d+".example", BuiltinNames(), 0, 0)
		if !slices.Equal(foundNames(full), foundNames(cut)) || full.HasWildcard() != cut.HasWildcard() {
			t.Errorf("%s: found %v with the cut, %v without", d, foundNames(cut), foundNames(full))
		}
		t.Logf("%s.example: %d questions without the cut, %d with it (cut: %v), found %v", d, s1.Total(), s2.Total(), cut.Cut != nil, foundNames(cut))
	}
}

// A server that wrongly answers NXDOMAIN for the empty non-terminal
// _domainkey (against RFC 8020) hides the built-in selectors beneath it
// (docs/checks/dkim.md says so), but not the user's own: they are asked.
func TestProbeCutWrongNXDomain(t *testing.T) {
	srv := dnstest.StartZones(t, dnstest.Zone(t, "ent.example", entZone))
	srv.SetType("_domainkey.ent.example", dns.TypeTXT, dnstest.NXDomain)
	sels := append([]string{"custom"}, BuiltinNames()...)
	p := ProbeCut(context.Background(), resolve.NewCache(srv.Resolver(time.Second)), "ent.example", sels, 1, 0)
	if p.Cut == nil {
		t.Fatal("no cut")
	}
	if got := foundNames(p); !slices.Equal(got, []string{"custom"}) {
		t.Errorf("found %v, want [custom] (mail is missed behind the wrong NXDOMAIN)", got)
	}
	if srv.Count("mail._domainkey.ent.example", dns.TypeTXT) != 0 {
		t.Error("a built-in selector was asked after the cut")
	}
}
