package resolve_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/resolve"
)

// BenchmarkCacheHit is the cost of a question already answered in the run.
func BenchmarkCacheHit(b *testing.B) {
	z, err := resolve.ParseZone(strings.NewReader(testZone), "t", "")
	if err != nil {
		b.Fatal(err)
	}
	c := resolve.NewCache(&resolve.Zones{List: []*resolve.Zone{z}})
	ctx := context.Background()
	c.Query(ctx, "example.org", dns.TypeMX)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Query(ctx, "example.org", dns.TypeMX); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkZoneExchange is one authoritative answer from a zone file,
// through a CNAME chain.
func BenchmarkZoneExchange(b *testing.B) {
	z, err := resolve.ParseZone(strings.NewReader(testZone), "t", "")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if rc, rrs := z.Exchange("alias2.example.org.", dns.TypeA); rc != 0 || len(rrs) != 3 {
			b.Fatalf("rcode %d, %d records", rc, len(rrs))
		}
	}
}

// nxServer answers every UDP question with NXDOMAIN by rewriting the
// query's header in place: the cheapest possible peer, so that a
// benchmark measures the client.
func nxServer(b *testing.B) string {
	pc := listenUDP(b)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 12 {
				continue
			}
			buf[2] |= 0x80          // QR
			buf[3] = 0x80 | 0x03    // RA, NXDOMAIN
			buf[10], buf[11] = 0, 0 // no additional records (drop the OPT)
			end := 12
			for end < n && buf[end] != 0 {
				end += int(buf[end]) + 1
			}
			pc.WriteTo(buf[:min(end+5, n)], addr)
		}
	}()
	return pc.LocalAddr().String()
}

// BenchmarkClientQuery is the client's cost of one question over UDP,
// 64 questions in flight, against a server that does almost nothing.
func BenchmarkClientQuery(b *testing.B) {
	c := &resolve.Client{Servers: []string{nxServer(b)}}
	ctx := context.Background()
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			name := "s" + strconv.FormatInt(n.Add(1), 10) + "._domainkey.example.org"
			if a, err := c.Query(ctx, name, dns.TypeTXT); err != nil || a.Rcode != dns.RcodeNameError {
				b.Fatalf("%v %v", a, err)
			}
		}
	})
}
