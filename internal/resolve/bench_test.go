package resolve_test

import (
	"context"
	"strings"
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
