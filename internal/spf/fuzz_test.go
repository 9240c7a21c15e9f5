package spf

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// FuzzParse checks that no input crashes the parser, that errors are
// *SyntaxErrors pointing inside the record, and that every term of a
// parsed record sits at its offset.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"v=spf1 -all",
		"v=spf1 mx a:%{d}.example.com/24//64 include:_spf.example.org ~all",
		"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 exists:%{ir}.%{v}._spf.%{d2} ?all",
		"v=spf1 redirect=_spf.example.org exp=explain.%{d} x=%{l1r-}",
		"v=spf1 a:foo:bar/baz.example.com ptr:%{p} -all",
		"v=spf1 a//129 ip4:1.2.3.4/032 %{",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			se, ok := err.(*SyntaxError)
			if !ok {
				t.Fatalf("error %T %v is not a *SyntaxError", err, err)
			}
			if se.Pos < 0 || se.Pos > len(s) {
				t.Fatalf("error offset %d outside the record (%d bytes)", se.Pos, len(s))
			}
			return
		}
		for _, term := range r.Terms {
			if !strings.HasPrefix(s[term.Pos:], term.Text) {
				t.Fatalf("term %q not at offset %d", term.Text, term.Pos)
			}
			if term.Domain != nil {
				// Expansion must stay bounded whatever the input.
				env := &macroEnv{sender: strings.Repeat("a", 64) + "@" + strings.Repeat("b", 200), local: strings.Repeat("a", 64),
					domain: strings.Repeat("b", 200), cur: "example.org", ip: netip.MustParseAddr("2001:db8::1"), helo: "h"}
				if out, err := term.Domain.expand(env); err == nil && len(out) > maxExpansion+1024 {
					t.Fatalf("expansion of %q is %d bytes", term.Domain.Raw, len(out))
				}
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	rec := "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 ip6:2001:db8::/32 a:mail.example.org/28 mx//64 " +
		"include:_spf.google.com include:spf.protection.outlook.com exists:%{ir}.%{l1r+-}._spf.%{d} ptr ~all exp=why.%{d}"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnalyzeTree analyses a 12-lookup tree over the in-process DNS
// server; each iteration uses a fresh cache, so every question reaches
// the server.
func BenchmarkAnalyzeTree(b *testing.B) {
	srv := dnstest.Start(b, "../../testdata/zones/spf/spf.test.zone")
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		an := (&Analyzer{Resolver: resolve.NewCache(srv.Resolver(2 * time.Second))}).Analyze(ctx, "toomany.spf.test")
		cancel()
		if an.TotalLookups != 12 {
			b.Fatalf("lookups %d", an.TotalLookups)
		}
	}
}

// BenchmarkCheckHost evaluates a pass through an include over the
// in-process DNS server with a fresh cache per iteration.
func BenchmarkCheckHost(b *testing.B) {
	srv := dnstest.Start(b, "../../testdata/zones/spf/spf.test.zone")
	ip := netip.MustParseAddr("198.51.100.7")
	b.ReportAllocs()
	for b.Loop() {
		c := &Checker{Resolver: resolve.NewCache(srv.Resolver(2 * time.Second))}
		if out := c.CheckHost(context.Background(), Request{IP: ip, Sender: "a@ok.spf.test"}); out.Result != Pass {
			b.Fatalf("%s", out.Result)
		}
	}
}

// BenchmarkAnalyzeTreeRTT is BenchmarkAnalyzeTree with a 2 ms round trip
// on every name of the tree, as a real resolver has: it measures how much
// of the tree's latency the analyser overlaps.
func BenchmarkAnalyzeTreeRTT(b *testing.B) {
	srv := dnstest.Start(b, "../../testdata/zones/spf/spf.test.zone")
	srv.SetDelay(2 * time.Millisecond)
	for _, n := range []string{"toomany.spf.test", "t1.spf.test", "t2.spf.test", "out.spf.test", "mail.ok.spf.test"} {
		srv.Set(n, dnstest.Slow)
	}
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		an := (&Analyzer{Resolver: resolve.NewCache(srv.Resolver(2 * time.Second))}).Analyze(ctx, "toomany.spf.test")
		cancel()
		if an.TotalLookups != 12 {
			b.Fatalf("lookups %d", an.TotalLookups)
		}
	}
}
