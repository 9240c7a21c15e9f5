package checks_test

import (
	"context"
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
