package resolve_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

var testZone = `
$ORIGIN example.org.
$TTL 300
@        IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@        IN MX  10 mail
@        IN MX  20 mx2
@        IN TXT "v=spf1 " "-all"
mail     IN A    192.0.2.25
mail     IN AAAA 2001:db8::25
mx2      IN A    192.0.2.26
alias    IN CNAME mail
alias2   IN CNAME alias
out      IN CNAME host.example.net.
loop1    IN CNAME loop2
loop2    IN CNAME loop1
*.wild   IN TXT  "wildcard"
a.b.c    IN A    192.0.2.1
big      IN TXT  "` + strings.Repeat("x", 250) + `"
big      IN TXT  "` + strings.Repeat("y", 250) + `"
big      IN TXT  "` + strings.Repeat("z", 250) + `"
big      IN TXT  "` + strings.Repeat("w", 250) + `"
big      IN TXT  "` + strings.Repeat("v", 250) + `"
big      IN TXT  "` + strings.Repeat("u", 250) + `"
chain0 IN CNAME chain1
chain1 IN CNAME chain2
chain2 IN CNAME chain3
chain3 IN CNAME chain4
chain4 IN CNAME chain5
chain5 IN CNAME chain6
chain6 IN CNAME chain7
chain7 IN CNAME chain8
chain8 IN A 192.0.2.99
long0 IN CNAME long1
long1 IN CNAME long2
long2 IN CNAME long3
long3 IN CNAME long4
long4 IN CNAME long5
long5 IN CNAME long6
long6 IN CNAME long7
long7 IN CNAME long8
long8 IN CNAME long9
long9 IN CNAME long10
long10 IN A 192.0.2.98
`

const netZone = `
$ORIGIN example.net.
@     IN SOA ns1 hostmaster 1 7200 3600 1209600 300
host  IN A   198.51.100.7
`

func startServer(t *testing.T) *dnstest.Server {
	t.Helper()
	return dnstest.StartZones(t, dnstest.Zone(t, "example.org.", testZone), dnstest.Zone(t, "example.net.", netZone))
}

func TestClientAnswers(t *testing.T) {
	srv := startServer(t)
	c := srv.Resolver(5 * time.Second)
	ctx := context.Background()
	tests := []struct {
		name    string
		qtype   uint16
		rcode   int
		records []string // expected values of the qtype records, in order
		chain   []string
	}{
		{"example.org", dns.TypeMX, dns.RcodeSuccess, []string{"mail.example.org.", "mx2.example.org."}, nil},
		{"mail.example.org", dns.TypeA, dns.RcodeSuccess, []string{"192.0.2.25"}, nil},
		{"mail.example.org", dns.TypeMX, dns.RcodeSuccess, nil, nil}, // NODATA
		{"nope.example.org", dns.TypeA, dns.RcodeNameError, nil, nil},
		{"b.c.example.org", dns.TypeA, dns.RcodeSuccess, nil, nil}, // empty non-terminal: NODATA
		{"alias2.example.org", dns.TypeA, dns.RcodeSuccess, []string{"192.0.2.25"}, []string{"alias.example.org.", "mail.example.org."}},
		{"out.example.org", dns.TypeA, dns.RcodeSuccess, []string{"198.51.100.7"}, []string{"host.example.net."}},
		{"x.wild.example.org", dns.TypeTXT, dns.RcodeSuccess, []string{"wildcard"}, nil},
		{"chain0.example.org", dns.TypeA, dns.RcodeSuccess, []string{"192.0.2.99"}, []string{"chain1.example.org.", "chain2.example.org.", "chain3.example.org.", "chain4.example.org.", "chain5.example.org.", "chain6.example.org.", "chain7.example.org.", "chain8.example.org."}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%s", tc.name, dns.TypeToString[tc.qtype]), func(t *testing.T) {
			a, err := c.Query(ctx, tc.name, tc.qtype)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			if a.Rcode != tc.rcode {
				t.Errorf("rcode = %s, want %s", dns.RcodeToString[a.Rcode], dns.RcodeToString[tc.rcode])
			}
			var got []string
			for _, rr := range a.Of(tc.qtype) {
				switch v := rr.(type) {
				case *dns.MX:
					got = append(got, v.Mx)
				case *dns.A:
					got = append(got, v.A.String())
				case *dns.TXT:
					got = append(got, strings.Join(v.Txt, ""))
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.records, ",") {
				t.Errorf("records = %v, want %v", got, tc.records)
			}
			if strings.Join(a.Chain(), ",") != strings.Join(tc.chain, ",") {
				t.Errorf("chain = %v, want %v", a.Chain(), tc.chain)
			}
			if wantNoData := tc.rcode == dns.RcodeSuccess && len(tc.records) == 0; a.NoData() != wantNoData {
				t.Errorf("NoData() = %v, want %v", a.NoData(), wantNoData)
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	srv := startServer(t)
	srv.Set("servfail.example.org", dnstest.ServFail)
	srv.Set("refused.example.org", dnstest.Refused)
	srv.Set("dead.example.org", dnstest.Drop)
	// Live answers arrive in microseconds; a second only bounds the dropped
	// name, and a loaded machine never turns SERVFAIL into a timeout.
	c := srv.Resolver(time.Second)
	tests := []struct {
		name    string
		qtype   uint16
		kind    error
		message string
	}{
		{"servfail.example.org", dns.TypeMX, resolve.ErrServFail, "SERVFAIL from " + srv.Addr + " for MX servfail.example.org"},
		{"refused.example.org", dns.TypeTXT, resolve.ErrRefused, "REFUSED from " + srv.Addr + " for TXT refused.example.org"},
		{"not-served.example.com", dns.TypeA, resolve.ErrRefused, "REFUSED from " + srv.Addr + " for A not-served.example.com"},
		{"dead.example.org", dns.TypeA, resolve.ErrTimeout, "timeout from " + srv.Addr + " for A dead.example.org: no answer within 1s"},
		{"loop1.example.org", dns.TypeA, resolve.ErrLoop, "CNAME loop from " + srv.Addr + " for A loop1.example.org: chain loop1.example.org. -> loop2.example.org. -> loop1.example.org."},
		{"long0.example.org", dns.TypeA, resolve.ErrLongChain, "CNAME chain longer than 8 from " + srv.Addr + " for A long0.example.org: chain long0.example.org. -> long1.example.org. -> long2.example.org. -> long3.example.org. -> long4.example.org. -> long5.example.org. -> long6.example.org. -> long7.example.org. -> long8.example.org. -> long9.example.org. -> long10.example.org."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := c.Query(context.Background(), tc.name, tc.qtype)
			if err == nil {
				t.Fatalf("Query = %+v, want error %v", a, tc.kind)
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("error %v is not %v", err, tc.kind)
			}
			if err.Error() != tc.message {
				t.Errorf("message = %q\nwant      %q", err.Error(), tc.message)
			}
			if !resolve.IsTemporary(err) {
				t.Errorf("IsTemporary(%v) = false", err)
			}
		})
	}
}

func TestClientTruncationRetriesOverTCP(t *testing.T) {
	srv := startServer(t)
	c := srv.Resolver(5 * time.Second)
	c.UDPSize = 512 // the 1.5 kB TXT set does not fit
	txts, _, err := resolve.TXT(context.Background(), c, "big.example.org")
	if err != nil {
		t.Fatal(err)
	}
	if len(txts) != 6 {
		t.Errorf("got %d TXT records, want 6", len(txts))
	}
	if u, tc := srv.CountProto("big.example.org", dns.TypeTXT, "udp"), srv.CountProto("big.example.org", dns.TypeTXT, "tcp"); u != 1 || tc != 1 {
		t.Errorf("udp=%d tcp=%d queries, want 1 and 1", u, tc)
	}

	srv.Set("example.org", dnstest.Truncate) // always truncates over UDP
	mx, _, err := resolve.MX(context.Background(), c, "example.org")
	if err != nil || len(mx) != 2 {
		t.Fatalf("MX over TCP = %v, %v; want 2 records", mx, err)
	}
}

func TestClientFailover(t *testing.T) {
	dead := startServer(t)
	dead.Set("example.org", dnstest.Drop)
	live := startServer(t)
	c := &resolve.Client{Servers: []string{dead.Addr, live.Addr}, Timeout: time.Second}
	mx, a, err := resolve.MX(context.Background(), c, "example.org")
	if err != nil || len(mx) != 2 {
		t.Fatalf("MX = %v, %v", mx, err)
	}
	if a.Server != live.Addr {
		t.Errorf("answered by %s, want %s", a.Server, live.Addr)
	}
	if dead.Count("example.org", dns.TypeMX) != 1 || live.Count("example.org", dns.TypeMX) != 1 {
		t.Errorf("dead got %d, live got %d queries; want 1 each", dead.Count("example.org", dns.TypeMX), live.Count("example.org", dns.TypeMX))
	}
}

func TestClientRetriesRounds(t *testing.T) {
	srv := startServer(t)
	srv.Set("example.org", dnstest.Drop)
	c := &resolve.Client{Servers: []string{srv.Addr}, Timeout: 50 * time.Millisecond, Retries: 2}
	if _, err := c.Query(context.Background(), "example.org", dns.TypeMX); !errors.Is(err, resolve.ErrTimeout) {
		t.Fatalf("err = %v, want timeout", err)
	}
	if n := srv.Count("example.org", dns.TypeMX); n != 3 {
		t.Errorf("server got %d attempts, want 3 (1 + 2 retries)", n)
	}
}

func TestClientDeadline(t *testing.T) {
	srv := startServer(t)
	srv.Set("example.org", dnstest.Drop)
	c := &resolve.Client{Servers: []string{srv.Addr}, Timeout: 10 * time.Second, Retries: 3}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Query(ctx, "example.org", dns.TypeMX)
	if !errors.Is(err, resolve.ErrDeadline) || !errors.Is(err, resolve.ErrTimeout) || strings.Contains(err.Error(), srv.Addr) {
		t.Fatalf("err = %v, want the audit deadline (a timeout), not blamed on the server", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("query outlived its context by far: %s", el)
	}
}

func TestClientADBit(t *testing.T) {
	srv := startServer(t)
	c := srv.Resolver(5 * time.Second)
	a, err := c.Query(context.Background(), "example.org", dns.TypeMX)
	if err != nil || a.Authentic {
		t.Fatalf("Authentic = %v (err %v), want false", a.Authentic, err)
	}
	srv.SetAD(true)
	a, err = c.Query(context.Background(), "mail.example.org", dns.TypeA)
	if err != nil || !a.Authentic {
		t.Fatalf("Authentic = %v (err %v), want true", a != nil && a.Authentic, err)
	}
}

func TestClientNoServer(t *testing.T) {
	_, err := (&resolve.Client{}).Query(context.Background(), "example.org", dns.TypeA)
	if !errors.Is(err, resolve.ErrNoServer) {
		t.Fatalf("err = %v, want ErrNoServer", err)
	}
}

func TestCacheSendsEachQuestionOnce(t *testing.T) {
	srv := startServer(t)
	srv.Set("servfail.example.org", dnstest.ServFail)
	cache := resolve.NewCache(srv.Resolver(5 * time.Second))
	questions := []struct {
		name  string
		qtype uint16
	}{
		{"example.org", dns.TypeMX}, {"EXAMPLE.org.", dns.TypeMX}, {"mail.example.org", dns.TypeA},
		{"mail.example.org", dns.TypeAAAA}, {"nope.example.org", dns.TypeA}, {"servfail.example.org", dns.TypeTXT},
	}
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		for _, q := range questions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cache.Query(context.Background(), q.name, q.qtype)
			}()
		}
	}
	wg.Wait()
	// SERVFAIL is transient: asked once more before it is stored (which
	// Duplicates does not list).
	if d := srv.Duplicates(); len(d) > 0 {
		t.Errorf("questions sent more than once: %v", d)
	}
	if n := srv.Count("servfail.example.org", dns.TypeTXT); n != 2 {
		t.Errorf("SERVFAIL asked %d times, want 2", n)
	}
	if got := srv.Total(); got != 6 {
		t.Errorf("server received %d queries, want 5 distinct + 1 retry", got)
	}
	hits, misses := cache.Stats()
	if misses != 5 || hits != int64(40*len(questions)-5) {
		t.Errorf("hits=%d misses=%d", hits, misses)
	}
	// A cached answer cannot be altered by one caller for another.
	a1, _ := cache.Query(context.Background(), "example.org", dns.TypeMX)
	a1.Records = a1.Records[:0]
	a2, _ := cache.Query(context.Background(), "example.org", dns.TypeMX)
	if len(a2.Records) != 2 {
		t.Errorf("cached answer was modified through another caller's copy")
	}
}

func TestCacheForgetsCallerDeadline(t *testing.T) {
	srv := startServer(t)
	srv.Set("example.org", dnstest.Slow)
	srv.SetDelay(300 * time.Millisecond)
	cache := resolve.NewCache(srv.Resolver(2 * time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := cache.Query(ctx, "example.org", dns.TypeMX); !errors.Is(err, resolve.ErrTimeout) {
		t.Fatalf("err = %v, want timeout", err)
	}
	// A later caller with time left asks again and gets the answer.
	mx, _, err := resolve.MX(context.Background(), cache, "example.org")
	if err != nil || len(mx) != 2 {
		t.Fatalf("second query = %v, %v", mx, err)
	}
}

func TestHelpers(t *testing.T) {
	srv := startServer(t)
	c := srv.Resolver(5 * time.Second)
	ctx := context.Background()
	txt, _, err := resolve.TXT(ctx, c, "example.org")
	if err != nil || len(txt) != 1 || txt[0] != "v=spf1 -all" {
		t.Errorf("TXT = %q, %v; want the two strings joined", txt, err)
	}
	ar := resolve.Addrs(ctx, c, "alias.example.org")
	if fmt.Sprint(ar.Addrs) != "[192.0.2.25 2001:db8::25]" || ar.Err != nil {
		t.Errorf("Addrs = %v, %v", ar.Addrs, ar.Err)
	}
	if fmt.Sprint(ar.Chain()) != "[mail.example.org.]" {
		t.Errorf("Chain = %v", ar.Chain())
	}
	if ar := resolve.Addrs(ctx, c, "nope.example.org"); !ar.NXDomain() || len(ar.Addrs) != 0 {
		t.Errorf("Addrs(nope) = %+v, want NXDOMAIN", ar)
	}
	_, a, _ := resolve.MX(ctx, c, "nope.example.org")
	if got := resolve.Describe(a, nil); got != "NXDOMAIN for MX nope.example.org" {
		t.Errorf("Describe = %q", got)
	}
	_, a, _ = resolve.MX(ctx, c, "mail.example.org")
	if got := resolve.Describe(a, nil); got != "no MX record for mail.example.org" {
		t.Errorf("Describe = %q", got)
	}
}

func TestNormalizeServer(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"192.0.2.53", "192.0.2.53:53", ""},
		{"192.0.2.53:5353", "192.0.2.53:5353", ""},
		{"2001:db8::53", "[2001:db8::53]:53", ""},
		{"[2001:db8::53]:5353", "[2001:db8::53]:5353", ""},
		{"[2001:db8::53]", "[2001:db8::53]:53", ""},
		{"ns.example.net", "ns.example.net:53", ""},
		{"", "", "empty resolver address"},
	}
	for _, tc := range tests {
		got, err := resolve.NormalizeServer(tc.in)
		if got != tc.want || (err != nil) != (tc.err != "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("NormalizeServer(%q) = %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// TestClientMaxInFlight: a bulk audit never has more questions on the wire
// than the bound, however many callers ask at once.
func TestClientMaxInFlight(t *testing.T) {
	srv := startServer(t)
	srv.SetDelay(30 * time.Millisecond)
	var names []string
	for i := 0; i < 12; i++ {
		n := fmt.Sprintf("q%d.example.org", i)
		srv.Set(n, dnstest.Slow)
		names = append(names, n)
	}
	c := &resolve.Client{Servers: []string{srv.Addr}, Timeout: 2 * time.Second, MaxInFlight: 3}
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if a, err := c.Query(context.Background(), n, dns.TypeA); err != nil || !a.NXDomain() {
				t.Errorf("%s: %v, %v", n, a, err)
			}
		}()
	}
	wg.Wait()
	if p := srv.Peak(); p > 3 || p < 2 {
		t.Errorf("peak questions in flight = %d, want at most 3 (and some overlap)", p)
	}
}
