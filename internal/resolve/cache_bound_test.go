package resolve

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestCacheMaxEntries: a bounded cache never holds more than MaxEntries
// questions; an answer asked by many (a shared include) survives a
// stream of one-off questions that evict each other.
func TestCacheMaxEntries(t *testing.T) {
	z, err := ParseZone(strings.NewReader("$ORIGIN example.org.\n@ IN SOA ns h 1 2 3 4 5\n_spf IN TXT \"v=spf1 -all\"\n"), "t", "")
	if err != nil {
		t.Fatal(err)
	}
	next := &countingZones{zones: Zones{List: []*Zone{z}}}
	c := NewCache(next)
	c.MaxEntries = 4
	ctx := context.Background()
	ask := func(name string) {
		if _, err := c.Query(ctx, name, dns.TypeTXT); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 { // asked by three domains
		ask("_spf.example.org")
	}
	for i := range 40 {
		ask(fmt.Sprintf("d%d.example.org", i))
		ask("_spf.example.org") // each domain's SPF check includes it
		if c.Len() > 4 {
			t.Fatalf("%d entries, bound 4", c.Len())
		}
	}
	if next.asked != 41 {
		t.Errorf("%d questions reached the resolver, want 41 (the shared one once)", next.asked)
	}
	before := next.asked
	ask("d0.example.org") // long evicted: asked again
	ask("d39.example.org")
	if next.asked != before+1 {
		t.Errorf("%d more questions, want 1 (d0 evicted, d39 still held)", next.asked-before)
	}
}

// A question in flight is never evicted: its waiters share one answer.
func TestCacheMaxEntriesKeepsInFlight(t *testing.T) {
	c := NewCache(nil)
	c.MaxEntries = 1
	e1, leader1 := c.entry(cacheKey{name: "a.", qtype: dns.TypeA})
	e2, leader2 := c.entry(cacheKey{name: "b.", qtype: dns.TypeA})
	if !leader1 || !leader2 || c.Len() != 2 {
		t.Fatalf("leaders %v %v, %d entries", leader1, leader2, c.Len())
	}
	close(e1.done)
	close(e2.done)
	c.entry(cacheKey{name: "c.", qtype: dns.TypeA})
	if c.Len() > 2 {
		t.Errorf("%d entries after the flights ended", c.Len())
	}
}
