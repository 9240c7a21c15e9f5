package resolve

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// countingZones answers from a zone and counts the questions.
type countingZones struct {
	zones Zones
	asked int
}

func (c *countingZones) Query(ctx context.Context, name string, qtype uint16) (*Answer, error) {
	c.asked++
	return c.zones.Query(ctx, name, qtype)
}

// TestCacheMaxAgeExpiresByTTL: with MaxAge, an answer is served until
// its TTL runs out (capped by MaxAge) and then asked again; without it,
// answers are kept for the life of the cache as before.
func TestCacheMaxAgeExpiresByTTL(t *testing.T) {
	z, err := ParseZone(strings.NewReader("$ORIGIN example.org.\n@ 60 IN A 192.0.2.1\nlong 86400 IN A 192.0.2.2\n"), "t", "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		maxAge  time.Duration
		name    string
		after   time.Duration
		wantAsk int
	}{
		{0, "example.org", 24 * time.Hour, 1},
		{time.Hour, "example.org", 59 * time.Second, 1},
		{time.Hour, "example.org", 60 * time.Second, 2},
		{time.Hour, "long.example.org", 59 * time.Minute, 1},
		{time.Hour, "long.example.org", time.Hour, 2},
		{time.Hour, "nx.example.org", time.Hour, 2},
	} {
		next := &countingZones{zones: Zones{List: []*Zone{z}}}
		c := NewCache(next)
		c.MaxAge = tc.maxAge
		clock := now
		c.Now = func() time.Time { return clock }
		ctx := context.Background()
		c.Query(ctx, tc.name, dns.TypeA)
		clock = clock.Add(tc.after)
		c.Purge()
		c.Query(ctx, tc.name, dns.TypeA)
		if next.asked != tc.wantAsk {
			t.Errorf("MaxAge %s, %s after %s: asked %d times, want %d", tc.maxAge, tc.name, tc.after, next.asked, tc.wantAsk)
		}
	}
}
