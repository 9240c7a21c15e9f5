package resolve_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// TestQueryDNSSEC: DO=1 brings the RRSIGs and the signed denial; CD=1
// turns a validating resolver's SERVFAIL into data; the EDE of the
// SERVFAIL is kept; AD is reported.
func TestQueryDNSSEC(t *testing.T) {
	w := dnstest.NewWorld(t, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		dnstest.SignedSpec{Origin: "test."},
		dnstest.SignedSpec{Origin: "a.test.", Records: "@ 3600 IN MX 10 mx\nmx 3600 IN A 192.0.2.1\n"})
	srv := dnstest.StartWorld(t, w)
	srv.SetAD(true)
	c := resolve.NewCache(srv.Resolver(2 * time.Second))
	ctx := context.Background()

	a, err := c.QueryDNSSEC(ctx, "a.test", dns.TypeMX, false)
	if err != nil || len(a.Of(dns.TypeMX)) != 1 || len(a.Of(dns.TypeRRSIG)) != 1 || !a.Authentic {
		t.Fatalf("MX with DO: %v, %v", a, err)
	}
	a, err = c.QueryDNSSEC(ctx, "nope.a.test", dns.TypeMX, false)
	if err != nil || !a.NXDomain() || len(a.Authority) < 4 {
		t.Fatalf("NXDOMAIN with DO: %v, %v", a, err)
	}
	plain, err := c.Query(ctx, "a.test", dns.TypeMX)
	if err != nil || len(plain.Of(dns.TypeRRSIG)) != 0 || plain.Authority != nil {
		t.Errorf("plain MX: %v, %v", plain, err)
	}

	srv.SetType("mx.a.test.", dns.TypeA, dnstest.BogusServFail)
	_, err = c.QueryDNSSEC(ctx, "mx.a.test", dns.TypeA, false)
	var qe *resolve.QueryError
	if !errors.As(err, &qe) || !errors.Is(err, resolve.ErrServFail) || len(qe.EDE) != 1 || qe.EDE[0].InfoCode != dns.ExtendedErrorCodeDNSBogus {
		t.Errorf("bogus without CD: %v (%+v)", err, qe)
	}
	a, err = c.QueryDNSSEC(ctx, "mx.a.test", dns.TypeA, true)
	if err != nil || len(a.Of(dns.TypeA)) != 1 || !a.CheckingDisabled {
		t.Errorf("bogus with CD: %v, %v", a, err)
	}
}

// TestZonesQueryDNSSEC: zone files answer unsigned; without an upstream
// a name outside them is ErrOffline.
func TestZonesQueryDNSSEC(t *testing.T) {
	z := dnstest.Zone(t, "example.org.", "@ 300 IN SOA ns hm 1 2 3 4 5\n@ 300 IN MX 10 mx\n")
	zs := &resolve.Zones{List: []*resolve.Zone{z}}
	a, err := zs.QueryDNSSEC(context.Background(), "example.org", dns.TypeMX, true)
	if err != nil || a.Authentic || len(a.Of(dns.TypeRRSIG)) != 0 {
		t.Errorf("zone: %v, %v", a, err)
	}
	if _, err := zs.QueryDNSSEC(context.Background(), ".", dns.TypeDNSKEY, true); !errors.Is(err, resolve.ErrOffline) {
		t.Errorf("outside: %v", err)
	}
}
