package benchworld

import (
	"testing"

	"github.com/miekg/dns"
)

// The world is a pure function of its seed, and its shared parts
// answer as a provider's zone would.
func TestWorld(t *testing.T) {
	a, b := New(50, 16), New(50, 16)
	kinds := map[int]int{}
	for i := range 50 {
		if a.Profile(i).Kind != b.Profile(i).Kind || a.Domain(i) != b.Domain(i) {
			t.Fatalf("domain %d differs between two worlds of one seed", i)
		}
		kinds[a.Profile(i).Kind]++
		rc, mx := a.Exchange(a.Domain(i)+".", dns.TypeMX)
		if rc != dns.RcodeSuccess || len(mx) == 0 {
			t.Errorf("%s MX: rcode %d, %d records", a.Domain(i), rc, len(mx))
		}
	}
	if len(kinds) != 3 {
		t.Errorf("kinds %v, want all three", kinds)
	}
	for _, q := range []struct {
		name  string
		qtype uint16
		rcode int
	}{
		{"_spf.gprov.com.", dns.TypeTXT, dns.RcodeSuccess},
		{"2.0.0.127.zen.spamhaus.org.", dns.TypeA, dns.RcodeSuccess},
		{"1.0.0.127.zen.spamhaus.org.", dns.TypeA, dns.RcodeNameError},
		{"c50.com.", dns.TypeMX, dns.RcodeNameError}, // beyond N
		{"27.0.250.142.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess},
	} {
		if rc, _ := a.Exchange(q.name, q.qtype); rc != q.rcode {
			t.Errorf("%s %s: rcode %d, want %d", q.name, dns.TypeToString[q.qtype], rc, q.rcode)
		}
	}
}

// A self-hosted domain's MX address has a PTR back to its host.
func TestWorldReverse(t *testing.T) {
	w := New(200, 16)
	for i := range 200 {
		if w.Profile(i).Kind != SelfHosted {
			continue
		}
		v4, _ := selfAddrs(i, 1)
		rev, _ := dns.ReverseAddr(v4.String())
		rc, ptr := w.Exchange(rev, dns.TypePTR)
		if rc != dns.RcodeSuccess || len(ptr) != 1 || ptr[0].(*dns.PTR).Ptr != "mx1."+w.Domain(i)+"." {
			t.Fatalf("%s: rcode %d, %v", rev, rc, ptr)
		}
		return
	}
	t.Fatal("no self-hosted domain")
}
