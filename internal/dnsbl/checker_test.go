package dnsbl

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

func zoneFile(name string) string {
	return filepath.Join("..", "..", "testdata", "zones", "dnsbl", name)
}

func mustSpec(t *testing.T, spec string) *List {
	t.Helper()
	l, err := ParseSpec(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func ips(ss ...string) []Target {
	var out []Target
	for _, s := range ss {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, IPTarget(a))
		} else {
			out = append(out, DomainTarget(s))
		}
	}
	return out
}

func byZone(reps []ListReport) map[string]ListReport {
	m := map[string]ListReport{}
	for _, r := range reps {
		m[r.List.Zone] = r
	}
	return m
}

func resultFor(t *testing.T, rep ListReport, target string) Result {
	t.Helper()
	for _, r := range rep.Results {
		if r.Target == target {
			return r
		}
	}
	t.Fatalf("%s: no result for %s (%+v)", rep.List.Zone, target, rep.Results)
	return Result{}
}

func TestCheck(t *testing.T) {
	srv := dnstest.Start(t, zoneFile("zen.spamhaus.org.zone"), zoneFile("dbl.spamhaus.org.zone"),
		zoneFile("multi.uribl.com.zone"), zoneFile("bl.spamcop.net.zone"), zoneFile("bl.example.net.zone"),
		zoneFile("everything.example.net.zone"), zoneFile("nothing.example.net.zone"))
	c := &Checker{Resolver: resolve.NewCache(srv.Resolver(2 * time.Second))}
	lists := []*List{
		mustSpec(t, "zen.spamhaus.org"), mustSpec(t, "dbl.spamhaus.org"), mustSpec(t, "multi.uribl.com"),
		mustSpec(t, "bl.spamcop.net"), mustSpec(t, "bl.example.net"), mustSpec(t, "everything.example.net"),
		mustSpec(t, "nothing.example.net"), mustSpec(t, "ip6:v6only.example.net"),
	}
	targets := ips("192.0.2.66", "198.51.100.25", "192.0.2.77", "2001:db8:25::66", "203.0.113.7", "203.0.113.8", "192.0.2.25",
		"spammy.example", "grey.example", "clean.example")
	reps := byZone(c.Check(context.Background(), lists, targets))

	health := map[string]Status{
		"zen.spamhaus.org": Healthy, "dbl.spamhaus.org": Healthy, "multi.uribl.com": Healthy, "bl.spamcop.net": Healthy,
		"bl.example.net": Healthy, "everything.example.net": Unhealthy, "nothing.example.net": Unhealthy,
		"v6only.example.net": Broken, // the test server refuses zones it does not serve
	}
	for zone, want := range health {
		if got := reps[zone].Health.Status; got != want {
			t.Errorf("%s: health %s, want %s (%s)", zone, got, want, reps[zone].Health.Reason)
		}
	}
	if r := reps["everything.example.net"].Health.Reason; !strings.Contains(r, "lists everything") {
		t.Errorf("everything: reason %q", r)
	}
	if r := reps["nothing.example.net"].Health.Reason; !strings.Contains(r, "lists nothing") || !strings.Contains(r, "NXDOMAIN") {
		t.Errorf("nothing: reason %q", r)
	}
	if n := len(reps["everything.example.net"].Results) + len(reps["nothing.example.net"].Results); n != 0 {
		t.Errorf("unhealthy lists were asked about targets: %d results", n)
	}
	// The IPv4 test entries answered as RFC 5782 §5 says.
	p := reps["zen.spamhaus.org"].Health.Probes
	if len(p) != 2 || p[0].Query != "2.0.0.127.zen.spamhaus.org" || p[0].Verdict != Listed || p[1].Query != "1.0.0.127.zen.spamhaus.org" || p[1].Verdict != Clean {
		t.Errorf("zen probes: %+v", p)
	}
	if p := reps["dbl.spamhaus.org"].Health.Probes; p[0].Query != "dbltest.com.dbl.spamhaus.org" || p[0].Verdict != Listed {
		t.Errorf("dbl probes: %+v", p)
	}

	tests := []struct {
		zone, target string
		verdict      Verdict
		a            []string
		txt          string // substring of the TXT reason
		meaning      string // substring of a hit's meaning
	}{
		{"zen.spamhaus.org", "192.0.2.66", Listed, []string{"127.0.0.2"}, "SBL424242", "SBL"},
		{"zen.spamhaus.org", "198.51.100.25", Policy, []string{"127.0.0.10"}, "198.51.100.25", "PBL (maintained by the ISP)"},
		{"zen.spamhaus.org", "192.0.2.77", Listed, []string{"127.0.0.4", "127.0.0.11"}, "", "XBL"},
		{"zen.spamhaus.org", "2001:db8:25::66", Listed, []string{"127.0.0.3"}, "", "CSS"},
		{"zen.spamhaus.org", "203.0.113.7", Invalid, []string{"127.255.255.252"}, "", "misspelled"},
		{"zen.spamhaus.org", "203.0.113.8", Refused, []string{"127.255.255.255"}, "", "too many queries"},
		{"zen.spamhaus.org", "192.0.2.25", Clean, []string{}, "", ""},
		{"bl.spamcop.net", "192.0.2.66", Listed, []string{"127.0.0.2"}, "bl.shtml?192.0.2.66", "SpamCop"},
		{"bl.spamcop.net", "198.51.100.25", Clean, []string{}, "", ""},
		{"bl.example.net", "192.0.2.66", Listed, []string{"127.0.0.5"}, "", "no code table"},
		{"bl.example.net", "198.51.100.25", Invalid, []string{"192.0.2.200"}, "", "outside 127.0.0.0/8"},
		{"dbl.spamhaus.org", "spammy.example", Listed, []string{"127.0.1.2"}, "query/domain/spammy.example", "low-reputation"},
		{"dbl.spamhaus.org", "clean.example", Clean, []string{}, "", ""},
		{"multi.uribl.com", "grey.example", Policy, []string{"127.0.0.4"}, "", "grey"},
	}
	for _, tt := range tests {
		t.Run(tt.zone+"/"+tt.target, func(t *testing.T) {
			r := resultFor(t, reps[tt.zone], tt.target)
			if r.Verdict != tt.verdict || !slices.Equal(r.A, tt.a) {
				t.Fatalf("verdict %s A %v, want %s %v (%+v)", r.Verdict, r.A, tt.verdict, tt.a, r)
			}
			if tt.txt != "" && (len(r.TXT) != 1 || !strings.Contains(r.TXT[0], tt.txt)) {
				t.Errorf("TXT %q, want %q", r.TXT, tt.txt)
			}
			if tt.meaning != "" && !strings.Contains(Meanings(r.Hits), tt.meaning) {
				t.Errorf("meanings %q, want %q", Meanings(r.Hits), tt.meaning)
			}
			if want, _ := QueryName(ips(tt.target)[0], tt.zone); r.Query+"." != want {
				t.Errorf("query %q, want %q", r.Query, want)
			}
			if tt.verdict == Clean && r.Rcode != "NXDOMAIN" {
				t.Errorf("rcode %q", r.Rcode)
			}
		})
	}
	// Lists are only asked about targets of their kind.
	if n := len(reps["bl.spamcop.net"].Results); n != 6 {
		t.Errorf("spamcop asked about %d targets, want the 6 IPv4 addresses", n)
	}
	if n := len(reps["dbl.spamhaus.org"].Results); n != 3 {
		t.Errorf("dbl asked about %d targets, want 3 domains", n)
	}
	if d := srv.Duplicates(); len(d) > 0 {
		t.Errorf("questions sent twice: %v", d)
	}
}

func TestHealthRefusedAndErrors(t *testing.T) {
	srv := dnstest.Start(t, zoneFile("zen-refused.zone"), zoneFile("bl.spamcop.net.zone"))
	srv.Set("2.0.0.127.bl.spamcop.net", dnstest.ServFail)
	c := &Checker{Resolver: resolve.NewCache(srv.Resolver(2 * time.Second))}
	reps := byZone(c.Check(context.Background(), []*List{mustSpec(t, "zen.spamhaus.org"), mustSpec(t, "bl.spamcop.net"),
		mustSpec(t, "domain:rhsbl.example.net")}, ips("192.0.2.66")))
	if h := reps["rhsbl.example.net"].Health; h.Status != Unused || len(h.Probes) != 0 {
		t.Errorf("a domain list with no domain to ask about: %s, %d probes", h.Status, len(h.Probes))
	}
	zen := reps["zen.spamhaus.org"]
	if zen.Health.Status != Blocked || !strings.Contains(zen.Health.Reason, "127.255.255.254") || !strings.Contains(zen.Health.Reason, "public or open resolver") {
		t.Errorf("zen: %s %q", zen.Health.Status, zen.Health.Reason)
	}
	if len(zen.Results) != 0 {
		t.Errorf("a refusing list was asked about targets: %+v", zen.Results)
	}
	sc := reps["bl.spamcop.net"]
	if sc.Health.Status != Broken || !errors.Is(sc.Health.Err, resolve.ErrServFail) {
		t.Errorf("spamcop: %s %v", sc.Health.Status, sc.Health.Err)
	}
}

// A list that never answers is reported as timed out when the deadline
// comes, and the other lists' answers are all there.
func TestCheckDeadNeverDelays(t *testing.T) {
	srv := dnstest.Start(t, zoneFile("dead.example.net.zone"), zoneFile("bl.spamcop.net.zone"))
	dead := mustSpec(t, "dead.example.net")
	targets := ips("192.0.2.66", "198.51.100.25")
	for _, tg := range append(targets, ips(dead.TestListed, dead.TestClean)...) {
		name, _ := QueryName(tg, dead.Zone)
		srv.Set(name, dnstest.Drop)
	}
	// Each query attempt may wait 10s; the deadline is what ends it.
	c := &Checker{Resolver: resolve.NewCache(srv.Resolver(10 * time.Second))}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	reps := byZone(c.Check(ctx, []*List{dead, mustSpec(t, "bl.spamcop.net")}, targets))
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("Check took %s with a 300ms deadline", el)
	}
	if h := reps["dead.example.net"].Health; h.Status != TimedOut || !errors.Is(h.Err, resolve.ErrTimeout) {
		t.Errorf("dead list: %s %v", h.Status, h.Err)
	}
	sc := reps["bl.spamcop.net"]
	if sc.Health.Status != Healthy || len(sc.Results) != 2 || resultFor(t, sc, "192.0.2.66").Verdict != Listed {
		t.Errorf("spamcop: %s %+v", sc.Health.Status, sc.Results)
	}
}

func TestOffline(t *testing.T) {
	c := &Checker{Resolver: resolve.NewCache(&resolve.Zones{})}
	reps := c.Check(context.Background(), Defaults(), ips("192.0.2.66", "example.org"))
	for _, r := range reps {
		if r.Health.Status != Offline || !errors.Is(r.Health.Err, resolve.ErrOffline) {
			t.Errorf("%s: %s %v", r.List.Zone, r.Health.Status, r.Health.Err)
		}
	}
}

// Health probes go through the shared cache: auditing many domains sends
// each list's test queries once.
func TestHealthProbesCached(t *testing.T) {
	srv := dnstest.Start(t, zoneFile("zen.spamhaus.org.zone"))
	cache := resolve.NewCache(srv.Resolver(2 * time.Second))
	var wg sync.WaitGroup
	for _, a := range []string{"192.0.2.66", "192.0.2.25", "198.51.100.25", "192.0.2.77"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &Checker{Resolver: cache}
			c.Check(context.Background(), []*List{mustSpec(t, "zen.spamhaus.org")}, ips(a))
		}()
	}
	wg.Wait()
	for _, n := range []string{"2.0.0.127.zen.spamhaus.org", "1.0.0.127.zen.spamhaus.org"} {
		if got := srv.Count(n, dns.TypeA); got != 1 {
			t.Errorf("%s asked %d times", n, got)
		}
	}
}

// countingResolver records the most questions in flight at once.
type countingResolver struct {
	next           resolve.Resolver
	delay          time.Duration
	inflight, peak atomic.Int64
}

func (c *countingResolver) Query(ctx context.Context, name string, qtype uint16) (*resolve.Answer, error) {
	n := c.inflight.Add(1)
	defer c.inflight.Add(-1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			break
		}
	}
	time.Sleep(c.delay)
	return c.next.Query(ctx, name, qtype)
}

// memZones loads the test zones for in-memory resolution.
func memZones(t testing.TB, files ...string) *resolve.Zones {
	t.Helper()
	zs := &resolve.Zones{}
	for _, f := range files {
		z, err := resolve.LoadZoneFile(zoneFile(f), "")
		if err != nil {
			t.Fatal(err)
		}
		zs.List = append(zs.List, z)
	}
	return zs
}

func TestConcurrencyBound(t *testing.T) {
	for _, bound := range []int{1, 3, 16} {
		cr := &countingResolver{next: memZones(t, "zen.spamhaus.org.zone", "bl.spamcop.net.zone"), delay: 2 * time.Millisecond}
		c := &Checker{Resolver: cr, Concurrency: bound}
		var targets []Target
		for i := 1; i <= 40; i++ {
			targets = append(targets, IPTarget(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})))
		}
		reps := c.Check(context.Background(), []*List{mustSpec(t, "zen.spamhaus.org"), mustSpec(t, "bl.spamcop.net")}, targets)
		if got := len(reps[0].Results) + len(reps[1].Results); got != 80 {
			t.Fatalf("bound %d: %d results", bound, got)
		}
		if p := cr.peak.Load(); p > int64(bound) || bound > 1 && p < 2 {
			t.Errorf("bound %d: peak %d questions in flight", bound, p)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	zs := memZones(b, "zen.spamhaus.org.zone", "bl.spamcop.net.zone", "dbl.spamhaus.org.zone", "multi.uribl.com.zone")
	lists := []*List{Known("zen.spamhaus.org", nil), Known("bl.spamcop.net", nil), Known("dbl.spamhaus.org", nil), Known("multi.uribl.com", nil)}
	var targets []Target
	for i := 1; i <= 32; i++ {
		targets = append(targets, IPTarget(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})))
	}
	targets = append(targets, DomainTarget("spammy.example"), DomainTarget("example.org"))
	b.ReportAllocs()
	for b.Loop() {
		c := &Checker{Resolver: resolve.NewCache(zs)} // a fresh run: no answer cached
		c.Check(context.Background(), lists, targets)
	}
}

func BenchmarkQueryNameIPv6(b *testing.B) {
	t := IPTarget(netip.MustParseAddr("2001:db8:25::66"))
	for b.Loop() {
		if _, err := QueryName(t, "zen.spamhaus.org"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStartReportsAsCheck checks that a check started before its targets
// are known (Checker.Start, Pending.Check) reports what Checker.Check
// reports for the same targets, the lists left without a target Unused,
// and that Start asks each list's two test points while Check asks them
// only of the lists it uses.
func TestStartReportsAsCheck(t *testing.T) {
	tests := []struct {
		name       string
		targets    []Target
		extraAsked int // probe questions Start asks that Check does not
	}{
		{"every kind", ips("192.0.2.66", "2001:db8:25::66", "spammy.example"), 0},
		{"domains only", ips("clean.example"), 4}, // zen, bl.spamcop.net: two probes each
		{"nothing", nil, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked := func(f func(c *Checker, lists []*List) []ListReport) ([]ListReport, int) {
				srv := dnstest.Start(t, zoneFile("zen.spamhaus.org.zone"), zoneFile("dbl.spamhaus.org.zone"), zoneFile("bl.spamcop.net.zone"))
				lists := []*List{mustSpec(t, "zen.spamhaus.org"), mustSpec(t, "dbl.spamhaus.org"), mustSpec(t, "bl.spamcop.net")}
				reps := f(&Checker{Resolver: resolve.NewCache(srv.Resolver(2 * time.Second))}, lists)
				return reps, srv.Total()
			}
			ctx := context.Background()
			want, nWant := asked(func(c *Checker, lists []*List) []ListReport { return c.Check(ctx, lists, tt.targets) })
			got, nGot := asked(func(c *Checker, lists []*List) []ListReport { return c.Start(ctx, lists).Check(tt.targets) })
			for i := range want {
				w, g := want[i], got[i]
				if w.List.Zone != g.List.Zone || w.Health.Status != g.Health.Status || w.Health.Reason != g.Health.Reason ||
					len(w.Health.Probes) != len(g.Health.Probes) || !slices.EqualFunc(w.Results, g.Results, sameResult) {
					t.Errorf("%s: Start reported %+v, Check %+v", w.List.Zone, g, w)
				}
			}
			if nGot-nWant != tt.extraAsked {
				t.Errorf("Start asked %d questions, Check %d: want %d more", nGot, nWant, tt.extraAsked)
			}
		})
	}
}

func sameResult(a, b Result) bool {
	return a.Target == b.Target && a.Query == b.Query && a.Verdict == b.Verdict && slices.Equal(a.A, b.A) && slices.Equal(a.TXT, b.TXT)
}
