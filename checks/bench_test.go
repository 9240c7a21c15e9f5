package checks_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// BenchmarkAuditMXPTR measures one mx+ptr audit of the example domain with
// a cold cache, over UDP to an in-process server: the per-domain cost of
// the DNS foundation in a bulk run.
func BenchmarkAuditMXPTR(b *testing.B) {
	srv := dnstest.Start(b, "../testdata/zones/example.org.zone", "../testdata/zones/2.0.192.in-addr.arpa.zone",
		"../testdata/zones/100.51.198.in-addr.arpa.zone", "../testdata/zones/5.2.0.0.8.b.d.0.1.0.0.2.ip6.arpa.zone")
	n, _ := resolve.ParseName("example.org")
	list := []checks.Check{checks.MX{}, checks.PTR{}}
	b.ReportAllocs()
	for b.Loop() {
		env := checks.NewEnv(n, resolve.NewCache(srv.Resolver(time.Second)))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res := checks.Run(ctx, env, list)
		cancel()
		if res[0].Status != checks.Pass {
			b.Fatalf("mx status %s", res[0].Status)
		}
	}
	b.ReportMetric(float64(srv.Total())/float64(b.N), "queries/op")
}

// bulkZone builds a zone of n mail domains under bulk.test, each with an
// MX host, addresses, reverse DNS, SPF with a shared include, DKIM and DMARC,
// as in a bulk audit where many domains share a provider.
func bulkZone(b *testing.B, n int) []*resolve.Zone {
	var fwd, rev strings.Builder
	fwd.WriteString("$ORIGIN bulk.test.\n$TTL 300\n@ IN SOA ns h 1 2 3 4 5\n")
	fwd.WriteString("_spf IN TXT \"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all\"\n")
	rev.WriteString("$ORIGIN 2.0.192.in-addr.arpa.\n@ IN SOA ns.bulk.test. h.bulk.test. 1 2 3 4 5\n")
	for i := 0; i < n; i++ {
		ip := i%250 + 1
		fmt.Fprintf(&fwd, "d%d IN MX 10 mx.d%d\nmx.d%d IN A 192.0.2.%d\n", i, i, i, ip)
		fmt.Fprintf(&fwd, "d%d IN TXT \"v=spf1 mx include:_spf.bulk.test ~all\"\n", i)
		fmt.Fprintf(&fwd, "_dmarc.d%d IN TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@d%d.bulk.test\"\n", i, i)
		fmt.Fprintf(&fwd, "default._domainkey.d%d IN TXT \"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n", i)
		if i < 250 {
			fmt.Fprintf(&rev, "%d IN PTR mx.d%d.bulk.test.\n", ip, i)
		}
	}
	z1, err := resolve.ParseZone(strings.NewReader(fwd.String()), "bulk", "")
	if err != nil {
		b.Fatal(err)
	}
	z2, err := resolve.ParseZone(strings.NewReader(rev.String()), "bulkrev", "")
	if err != nil {
		b.Fatal(err)
	}
	return []*resolve.Zone{z1, z2}
}

// BenchmarkBulkDNSChecks audits 200 domains with every DNS-only check
// (mx, ptr, spf, dmarc, dkim), 32 domains at a time, through one shared
// cache over UDP to an in-process server, as `mailcheck --parallel 32`
// does. It reports the cost per domain and the queries each sends.
func BenchmarkBulkDNSChecks(b *testing.B) {
	const domains = 200
	srv := dnstest.StartZones(b, bulkZone(b, domains)...)
	list, err := checks.Select(checks.Registry(), []string{"mx", "ptr", "spf", "dmarc", "dkim"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		cache := resolve.NewCache(srv.Resolver(2 * time.Second))
		sem := make(chan struct{}, 32)
		var wg sync.WaitGroup
		for i := 0; i < domains; i++ {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				n, _ := resolve.ParseName(fmt.Sprintf("d%d.bulk.test", i))
				env := checks.NewEnv(n, cache)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				res := checks.Run(ctx, env, list)
				for _, r := range res {
					if r.Status == checks.Fail || r.Status == checks.Error {
						b.Errorf("%s: %s %s %+v", n.ASCII, r.Name, r.Status, r.Findings)
					}
				}
			}()
		}
		wg.Wait()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*domains), "µs/domain")
	b.ReportMetric(float64(srv.Total())/float64(b.N*domains), "queries/domain")
}
