package dnstest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

const zone = `
$ORIGIN example.test.
@ IN SOA ns h 1 2 3 4 5
@ IN TXT "apex"
a IN TXT "a"
b.a IN TXT "b"
`

// TestBehaviorPrecedence: SetType beats Set beats SetBelow, and SetBelow
// covers the name and everything below it.
func TestBehaviorPrecedence(t *testing.T) {
	srv := dnstest.StartZones(t, dnstest.Zone(t, "example.test.", zone))
	srv.SetBelow("a.example.test", dnstest.ServFail)
	srv.Set("b.a.example.test", dnstest.Refused)
	srv.SetType("b.a.example.test", dns.TypeA, dnstest.Normal)
	c := srv.Resolver(5 * time.Second)
	tests := []struct {
		name  string
		qtype uint16
		kind  error // nil: answered
	}{
		{"example.test", dns.TypeTXT, nil},
		{"a.example.test", dns.TypeTXT, resolve.ErrServFail},
		{"x.a.example.test", dns.TypeTXT, resolve.ErrServFail},
		{"b.a.example.test", dns.TypeTXT, resolve.ErrRefused},
		{"b.a.example.test", dns.TypeA, nil},
	}
	for _, tc := range tests {
		_, err := c.Query(context.Background(), tc.name, tc.qtype)
		if tc.kind == nil && err != nil || tc.kind != nil && !errors.Is(err, tc.kind) {
			t.Errorf("%s %s: %v, want %v", tc.name, dns.TypeToString[tc.qtype], err, tc.kind)
		}
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("the test server poses as a recursive resolver (RA=1), yet: %q", w)
	}
}
