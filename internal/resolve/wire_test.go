package resolve_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// octetZone publishes data and names that are octets beyond LDH: a DMARC
// record with tabs, UTF-8, quotes and backslashes in TXT data, and owner
// names with "@", space and ( ) ; " \ (RFC 2181 §11).
const octetZone = `
$ORIGIN octets.example.
@ IN SOA ns h 1 2 3 4 5
_dmarc IN TXT "v = DMARC1\009;\009p=reject"
utf8 IN TXT "rua=mailto:d@bücher.example" "; \195\188"
quote IN TXT "a\"b\\c"
strong-bad\@email IN TXT "v=spf1 -all"
a\ b\(c\)\;d\"e\\f IN A 192.0.2.7
`

// TestTXTIsOctets: TXT data reaches consumers as octets, over the wire and
// from a zone, whatever the zone file's escapes were.
func TestTXTIsOctets(t *testing.T) {
	z := dnstest.Zone(t, "octets.example.", octetZone)
	srv := dnstest.StartZones(t, z)
	tests := []struct{ name, want string }{
		{"_dmarc.octets.example", "v = DMARC1\t;\tp=reject"},
		{"utf8.octets.example", "rua=mailto:d@bücher.example; ü"},
		{"quote.octets.example", `a"b\c`},
	}
	for _, via := range []struct {
		name string
		r    resolve.Resolver
	}{{"wire", srv.Resolver(5 * time.Second)}, {"zone", &resolve.Zones{List: []*resolve.Zone{z}}}} {
		for _, tc := range tests {
			t.Run(via.name+"/"+tc.name, func(t *testing.T) {
				txt, _, err := resolve.TXT(context.Background(), via.r, tc.name)
				if err != nil || len(txt) != 1 || txt[0] != tc.want {
					t.Fatalf("TXT = %q, %v; want %q", txt, err, tc.want)
				}
			})
		}
	}
}

func TestNewTXTRoundTrip(t *testing.T) {
	data := "v=DKIM1;\tk=rsa; " + strings.Repeat("\\\"\x00\xffü", 80)
	rr := resolve.NewTXT("x.example", data)
	if len(rr.Txt) < 2 {
		t.Fatalf("%d character-strings, want the data split at 255 octets", len(rr.Txt))
	}
	if got := resolve.TXTData(rr); got != data {
		t.Fatalf("TXTData(NewTXT(d)) = %q, want %q", got, data)
	}
	// And through the wire format.
	m := new(dns.Msg)
	m.SetQuestion("x.example.", dns.TypeTXT)
	m.Answer = []dns.RR{rr}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	var back dns.Msg
	if err := back.Unpack(b); err != nil {
		t.Fatal(err)
	}
	if got := resolve.TXTData(back.Answer[0].(*dns.TXT)); got != data {
		t.Fatalf("after the wire: %q", got)
	}
}

// TestNamesAreOctets: names with "@", space and ( ) ; " \ are asked and
// their answers accepted, over the wire and from a zone.
func TestNamesAreOctets(t *testing.T) {
	z := dnstest.Zone(t, "octets.example.", octetZone)
	srv := dnstest.StartZones(t, z)
	tests := []struct {
		name  string
		qtype uint16
	}{
		{"strong-bad@email.octets.example", dns.TypeTXT},                     // as an SPF macro expands it
		{resolve.EscapeName("strong-bad@email.octets.example"), dns.TypeTXT}, // escaped first
		{resolve.EscapeName(`a b(c);d"e\f.octets.example`), dns.TypeA},
		{`A\ B\(C\)\;D\"E\\F.octets.example.`, dns.TypeA}, // presentation form, another case
	}
	for _, via := range []struct {
		name string
		r    resolve.Resolver
	}{{"wire", srv.Resolver(5 * time.Second)}, {"zone", &resolve.Zones{List: []*resolve.Zone{z}}}} {
		for _, tc := range tests {
			t.Run(via.name+"/"+tc.name, func(t *testing.T) {
				a, err := via.r.Query(context.Background(), tc.name, tc.qtype)
				if err != nil || len(a.Of(tc.qtype)) != 1 {
					t.Fatalf("Query = %+v, %v; want one record", a, err)
				}
			})
		}
	}
	if got := resolve.Canonical("Strong-Bad@Email.Example"); got != `strong-bad\@email.example.` {
		t.Errorf("Canonical = %q", got)
	}
}

// TestClientHostile: every misbehaviour of a server ends in an answer that
// is true to the question or in an error that says what went wrong;
// nothing the server sends ends the exchange early or inflates it.
func TestClientHostile(t *testing.T) {
	tests := []struct {
		b       dnstest.Behavior
		qtype   uint16
		kind    error  // nil: an answer
		detail  string // in the error message
		records int    // of qtype, when answered
	}{
		{dnstest.Drop, dns.TypeTXT, resolve.ErrTimeout, "no answer within", 0},
		{dnstest.ServFail, dns.TypeTXT, resolve.ErrServFail, "SERVFAIL", 0},
		{dnstest.WrongID, dns.TypeTXT, resolve.ErrBadReply, "reply ID", 0},
		{dnstest.WrongQuestion, dns.TypeTXT, resolve.ErrBadReply, "another question", 0},
		{dnstest.Echo, dns.TypeTXT, resolve.ErrBadReply, "echo of the query (QR=0)", 0},
		{dnstest.StallTCP, dns.TypeTXT, resolve.ErrTimeout, "over TCP", 0},
		{dnstest.Trickle, dns.TypeTXT, resolve.ErrTimeout, "over TCP", 0},
		{dnstest.CompressLoop, dns.TypeTXT, resolve.ErrBadReply, "unparseable", 0},
		{dnstest.CNAMEChain, dns.TypeTXT, resolve.ErrLongChain, "CNAME chain longer than 8", 0},
		{dnstest.CNAMELoop, dns.TypeTXT, resolve.ErrLoop, "CNAME loop", 0},
		{dnstest.Referral, dns.TypeTXT, resolve.ErrNotRecursive, "referral", 0},
		{dnstest.Huge, dns.TypeTXT, nil, "", 240},
		{dnstest.ManyTXT, dns.TypeTXT, nil, "", 5000},
		{dnstest.Foreign, dns.TypeTXT, nil, "", 1},
		{dnstest.Foreign, dns.TypeMX, nil, "", 2},
		{dnstest.Spoofed, dns.TypeMX, nil, "", 2},
		{dnstest.ControlBytes, dns.TypeTXT, nil, "", 1},
	}
	for _, tc := range tests {
		t.Run(tc.b.String()+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
			// In parallel, each with its own server: the cases that wait
			// out the timeout overlap, and a loaded machine has 2s to
			// deliver what the server sends.
			t.Parallel()
			srv := startServer(t)
			srv.SetTrickle(time.Second)
			srv.Set("example.org", tc.b)
			c := srv.Resolver(2 * time.Second)
			a, err := c.Query(context.Background(), "example.org", tc.qtype)
			if tc.kind != nil {
				if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.detail) || !strings.Contains(err.Error(), srv.Addr) {
					t.Fatalf("Query = %+v, %v; want %v naming %q and the server", a, err, tc.kind, tc.detail)
				}
				return
			}
			if err != nil || len(a.Of(tc.qtype)) != tc.records {
				t.Fatalf("Query = %v; want %d records", err, tc.records)
			}
			for _, rr := range a.Records {
				if h := rr.Header(); h.Name != "example.org." || h.Class != dns.ClassINET {
					t.Errorf("foreign record kept: %s", rr)
				}
			}
		})
	}
}

// TestClientReadsWhatItAdvertised: a UDP reply larger than the advertised
// EDNS size is not taken; the question is asked again over TCP.
func TestClientReadsWhatItAdvertised(t *testing.T) {
	srv := startServer(t)
	srv.Set("example.org", dnstest.Huge)
	c := srv.Resolver(5 * time.Second)
	txt, _, err := resolve.TXT(context.Background(), c, "example.org")
	if err != nil || len(txt) != 240 {
		t.Fatalf("TXT: %d records, %v", len(txt), err)
	}
	if u, tcp := srv.CountProto("example.org", dns.TypeTXT, "udp"), srv.CountProto("example.org", dns.TypeTXT, "tcp"); u != 1 || tcp != 1 {
		t.Errorf("udp=%d tcp=%d, want 1 and 1", u, tcp)
	}
}

// TestClientReferral: an authoritative-only server's referral is an error
// saying so, never NODATA, and its RA=0 is warned about once.
func TestClientReferral(t *testing.T) {
	srv := startServer(t)
	srv.SetBelow("example.org", dnstest.Referral)
	var warned []string
	c := srv.Resolver(5 * time.Second)
	c.Warn = func(s string) { warned = append(warned, s) }
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"example.org", dns.TypeMX}, {"example.org", dns.TypeTXT}, {"_dmarc.example.org", dns.TypeTXT}} {
		a, err := c.Query(context.Background(), q.name, q.qtype)
		if !errors.Is(err, resolve.ErrNotRecursive) || !strings.Contains(err.Error(), "not a recursive resolver") {
			t.Errorf("%s %s = %+v, %v; want ErrNotRecursive", q.name, dns.TypeToString[q.qtype], a, err)
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], srv.Addr) || !strings.Contains(warned[0], "RA=0") {
		t.Errorf("warnings %q, want one naming the server and RA=0", warned)
	}
	if w := c.Warnings(); len(w) != 1 {
		t.Errorf("Warnings() = %q", w)
	}

	// An authoritative-only server answering for its own zone: the
	// answers are taken, and RA=0 is warned about once.
	auth := startServer(t)
	auth.SetRecursion(false)
	c = auth.Resolver(5 * time.Second)
	for _, name := range []string{"example.org", "mail.example.org"} {
		if a, err := c.Query(context.Background(), name, dns.TypeA); err != nil || len(a.Of(dns.TypeA)) == 0 && name != "example.org" {
			t.Errorf("%s A from an authoritative server: %+v, %v", name, a, err)
		}
	}
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "does not offer recursion (RA=0)") {
		t.Errorf("Warnings() = %q, want one RA=0 warning", w)
	}
}

// TestClientCallerEnds: the caller's deadline and cancellation are
// reported as such, never as the server's timeout, and are not cached.
func TestClientCallerEnds(t *testing.T) {
	srv := startServer(t)
	srv.Set("example.org", dnstest.Drop)
	c := &resolve.Client{Servers: []string{srv.Addr}, Timeout: time.Minute}
	cache := resolve.NewCache(c)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := cache.Query(ctx, "example.org", dns.TypeMX)
	if !errors.Is(err, resolve.ErrDeadline) || err.Error() != "audit deadline reached before MX example.org was answered" {
		t.Errorf("deadline: %v", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = cache.Query(ctx, "example.org", dns.TypeMX)
	if !errors.Is(err, resolve.ErrCanceled) || errors.Is(err, resolve.ErrTimeout) || err.Error() != "interrupted before MX example.org was answered" {
		t.Errorf("cancel: %v", err)
	}

	srv.Set("example.org", dnstest.Normal)
	if mx, _, err := resolve.MX(context.Background(), cache, "example.org"); err != nil || len(mx) != 2 {
		t.Errorf("after the caller's ends, the question is asked again: %v, %v", mx, err)
	}
}

// TestCacheFailuresExpire: a transient failure is retried once before it
// is stored, and a stored failure is forgotten after FailureTTL; an answer
// stays for the run.
func TestCacheFailuresExpire(t *testing.T) {
	srv := startServer(t)
	srv.Set("servfail.example.org", dnstest.ServFail)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cache := resolve.NewCache(srv.Resolver(5 * time.Second))
	cache.Now = func() time.Time { return now }
	ask := func(name string) error {
		_, err := cache.Query(context.Background(), name, dns.TypeTXT)
		return err
	}
	if err := ask("servfail.example.org"); !errors.Is(err, resolve.ErrServFail) {
		t.Fatalf("err = %v", err)
	}
	ask("example.org")
	if n := srv.Count("servfail.example.org", dns.TypeTXT); n != 2 {
		t.Errorf("SERVFAIL asked %d times, want 2 (one retry)", n)
	}
	now = now.Add(4 * time.Second)
	ask("servfail.example.org")
	ask("example.org")
	if n := srv.Count("servfail.example.org", dns.TypeTXT); n != 2 {
		t.Errorf("within FailureTTL: asked %d times, want 2", n)
	}
	now = now.Add(2 * time.Second)
	srv.Set("servfail.example.org", dnstest.Normal)
	if err := ask("servfail.example.org"); err != nil {
		t.Errorf("after FailureTTL: %v, want the new answer", err)
	}
	ask("example.org")
	if n := srv.Count("example.org", dns.TypeTXT); n != 1 {
		t.Errorf("an answer was asked %d times, want 1", n)
	}
}

// TestZoneFileBounds: a zone file over the limit, or one that is not text,
// is a short error at once, never a silent cut.
func TestZoneFileBounds(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.zone")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(resolve.MaxZoneFileSize + 1)
	f.Close()
	long := "$ORIGIN x.example.\n@ IN TXT " + strings.Repeat("\x1b[2J", 1<<18) + "\"\n"
	longFile := filepath.Join(t.TempDir(), "long.zone")
	os.WriteFile(longFile, []byte(long), 0o644)
	generated := filepath.Join(t.TempDir(), "generated.zone")
	os.WriteFile(generated, []byte("$ORIGIN x.example.\n"+strings.Repeat("$GENERATE 0-65535 a$ A 192.0.2.1\n", resolve.MaxZoneRecords/65536+1)), 0o644)
	tests := []struct{ path, want string }{
		{big, "larger than the 64 MiB limit"},
		{generated, "more than 262144 records, the limit"},
		{"/dev/zero", "NUL octet at line: 1"},
		{longFile, "line: 2"},
	}
	for _, tc := range tests {
		_, err := resolve.LoadZoneFile(tc.path, "")
		if err == nil || !strings.Contains(err.Error(), tc.want) || len(err.Error()) > 300 || strings.ContainsRune(err.Error(), 0x1b) {
			t.Errorf("%s: %v; want a short error with %q", tc.path, err, tc.want)
		}
	}
}

func TestParseDomain(t *testing.T) {
	tests := []struct{ in, ascii, err string }{
		{"Example.ORG.", "example.org", ""},
		{"bücher.example", "xn--bcher-kva.example", ""},
		{"192.0.2.1", "", "192.0.2.1 is an IP address; give a domain name"},
		{"[2001:db8::1]", "", "2001:db8::1 is an IP address"},
		{"localhost", "", "give a domain name such as example.org"},
		{"Xn--", "", "not a valid A-label"},
		{"xn--ab.example", "", "not a valid A-label"},
		{"\xff0", "", "not valid UTF-8"},
	}
	for _, tc := range tests {
		n, err := resolve.ParseDomain(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, resolve.ErrBadName) {
				t.Errorf("ParseDomain(%q) = %+v, %v; want %q", tc.in, n, err, tc.err)
			}
			continue
		}
		if err != nil || n.ASCII != tc.ascii {
			t.Errorf("ParseDomain(%q) = %+v, %v", tc.in, n, err)
		}
	}
}

// listenUDP opens a UDP socket on loopback, closed when tb ends.
func listenUDP(tb testing.TB) net.PacketConn {
	tb.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { pc.Close() })
	return pc
}

// rawServer answers each UDP query on loopback with the datagrams reply
// makes of it, in order.
func rawServer(t *testing.T, reply func(q *dns.Msg) []*dns.Msg) string {
	t.Helper()
	pc := listenUDP(t)
	go eachQuery(pc, func(q *dns.Msg, addr net.Addr) {
		for _, m := range reply(q) {
			b, _ := m.Pack()
			pc.WriteTo(b, addr)
		}
	})
	return pc.LocalAddr().String()
}

// eachQuery reads the UDP queries that reach pc until it closes and
// calls f with each one that parses.
func eachQuery(pc net.PacketConn, f func(q *dns.Msg, addr net.Addr)) {
	buf := make([]byte, 65535)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		q := new(dns.Msg)
		if q.Unpack(buf[:n]) == nil {
			f(q, addr)
		}
	}
}

// TestClientTakesOnlyAnswers: a datagram that is not an answer to the
// question (opcode, question count, class) is set aside; the answer that
// follows it is taken, and without one the error names what was ignored.
func TestClientTakesOnlyAnswers(t *testing.T) {
	good := func(q *dns.Msg) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(q)
		m.RecursionAvailable = true
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)}}
		return m
	}
	tests := []struct {
		name string
		bad  func(m *dns.Msg)
		want string
	}{
		{"opcode", func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }, "opcode NOTIFY, not QUERY"},
		{"two questions", func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }, "2 questions in the reply"},
		{"class", func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }, "question class CH, not IN"},
		{"question", func(m *dns.Msg) { m.Question[0].Name = "other.example." }, "another question"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bad := func(q *dns.Msg) *dns.Msg { m := good(q); tc.bad(m); return m }
			then := rawServer(t, func(q *dns.Msg) []*dns.Msg { return []*dns.Msg{bad(q), good(q)} })
			c := &resolve.Client{Servers: []string{then}, Timeout: 5 * time.Second}
			if a, err := c.Query(context.Background(), "x.example", dns.TypeA); err != nil || len(a.Of(dns.TypeA)) != 1 {
				t.Errorf("with the answer after it: %+v, %v", a, err)
			}
			only := rawServer(t, func(q *dns.Msg) []*dns.Msg { return []*dns.Msg{bad(q)} })
			c = &resolve.Client{Servers: []string{only}, Timeout: 2 * time.Second}
			_, err := c.Query(context.Background(), "x.example", dns.TypeA)
			if !errors.Is(err, resolve.ErrBadReply) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("alone: %v, want ErrBadReply naming %q", err, tc.want)
			}
		})
	}
}
