package dnsbl

import (
	"context"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// audit runs one Checker with its own cache, as one domain of a run
// sharing memo: whatever reaches the server was not taken from the memo.
func audit(srv *dnstest.Server, memo *Memo, lists []*List, targets []Target) []ListReport {
	c := &Checker{Resolver: resolve.NewCache(srv.Resolver(2 * time.Second)), Memo: memo}
	return c.Start(context.Background(), lists).Check(targets)
}

func TestMemoSharesHealthAndAddresses(t *testing.T) {
	srv := dnstest.Start(t, zoneFile("zen.spamhaus.org.zone"), zoneFile("dbl.spamhaus.org.zone"))
	lists := func() []*List { return []*List{mustSpec(t, "zen.spamhaus.org"), mustSpec(t, "dbl.spamhaus.org")} }
	targets := ips("192.0.2.66", "198.51.100.25", "clean.example")
	memo := NewMemo()
	first := audit(srv, memo, lists(), targets)
	full := srv.Total()
	second := audit(srv, memo, lists(), targets)
	if !reflect.DeepEqual(first, second) {
		t.Errorf("the memo changed the reports:\nfirst  %+v\nsecond %+v", first, second)
	}
	if s := byZone(second)["zen.spamhaus.org"]; s.Health.Status != Healthy || resultFor(t, s, "192.0.2.66").Verdict == Clean {
		t.Errorf("zen from the memo: %+v", s)
	}
	// The probes and the addresses were asked by the first audit only;
	// the domain, by both.
	for _, q := range []struct {
		name  string
		qtype uint16
		want  int
	}{
		{"2.0.0.127.zen.spamhaus.org", dns.TypeA, 1}, {"1.0.0.127.zen.spamhaus.org", dns.TypeA, 1},
		{"dbltest.com.dbl.spamhaus.org", dns.TypeA, 1}, {"invalid.dbl.spamhaus.org", dns.TypeA, 1},
		{"66.2.0.192.zen.spamhaus.org", dns.TypeA, 1}, {"66.2.0.192.zen.spamhaus.org", dns.TypeTXT, 1},
		{"25.100.51.198.zen.spamhaus.org", dns.TypeA, 1},
		{"clean.example.dbl.spamhaus.org", dns.TypeA, 2},
	} {
		if got := srv.Count(q.name, q.qtype); got != q.want {
			t.Errorf("%s %s asked %d times, want %d", q.name, dns.TypeToString[q.qtype], got, q.want)
		}
	}
	// Without the memo, every question is asked again.
	before := srv.Total()
	audit(srv, nil, lists(), targets)
	if got := srv.Total() - before; got != full {
		t.Errorf("audit without a memo sent %d questions, want every one again (%d)", got, full)
	}
}

func TestMemoKeepsNoFailure(t *testing.T) {
	srv := dnstest.Start(t, zoneFile("zen.spamhaus.org.zone"))
	srv.Set("2.0.0.127.zen.spamhaus.org", dnstest.ServFail)
	memo := NewMemo()
	lists := []*List{mustSpec(t, "zen.spamhaus.org")}
	if rep := audit(srv, memo, lists, ips("192.0.2.66"))[0]; rep.Health.Status != Broken {
		t.Fatalf("health with a failing probe = %+v, want %s", rep.Health, Broken)
	}
	srv.Set("2.0.0.127.zen.spamhaus.org", dnstest.Normal)
	rep := audit(srv, memo, lists, ips("192.0.2.66"))[0]
	if rep.Health.Status != Healthy || resultFor(t, rep, "192.0.2.66").Verdict == Clean {
		t.Errorf("after the list recovered: %+v; want it probed again and healthy", rep)
	}
}

func TestMemoDefinitionsApart(t *testing.T) {
	srv := dnstest.Start(t, zoneFile("zen.spamhaus.org.zone"))
	memo := NewMemo()
	catalogued := mustSpec(t, "zen.spamhaus.org")
	audit(srv, memo, []*List{catalogued}, ips("192.0.2.66"))
	other := catalogued.clone()
	other.Codes, other.Generic = nil, true // the same zone read another way
	before := srv.Total()
	rep := audit(srv, memo, []*List{other}, ips("192.0.2.66"))[0]
	if got := srv.Count("2.0.0.127.zen.spamhaus.org", dns.TypeA); got != 2 {
		t.Errorf("the listed probe was asked %d times, want 2: once per definition of the zone", got)
	}
	if srv.Total() == before {
		t.Error("another definition of the zone was answered from the memo")
	}
	if h := resultFor(t, rep, "192.0.2.66").Hits; len(h) == 0 || h[0].Meaning == resultFor(t, audit(srv, memo, []*List{catalogued}, ips("192.0.2.66"))[0], "192.0.2.66").Hits[0].Meaning {
		t.Errorf("the generic definition read the catalogued one's answer: %+v", h)
	}
}

func TestMemoBounded(t *testing.T) {
	memo := NewMemo()
	l := mustSpec(t, "zen.spamhaus.org")
	memo.keep(l, Health{Status: Healthy})
	for i := range 3 * maxMemoResults {
		a := [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
		memo.keepResult(l, IPTarget(netipFrom(a)), Result{Verdict: Clean})
	}
	if n := len(memo.results); n == 0 || n > maxMemoResults {
		t.Errorf("memo holds %d answers, want 1..%d", n, maxMemoResults)
	}
}

func netipFrom(a [4]byte) netip.Addr { return netip.AddrFrom4(a) }
