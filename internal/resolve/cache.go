package resolve

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
)

// Cache wraps a Resolver for the length of one run. Each distinct question
// reaches the underlying resolver once: concurrent identical questions wait
// for the one in flight, later ones get the stored answer (or the stored
// error: a SERVFAIL is not asked again within the run). A question whose
// asker's context ended before the answer arrived is forgotten, so a later
// asker with time left sends it again.
//
// TTLs are not applied: a run lasts seconds, and an audit must see one
// consistent picture of the DNS.
type Cache struct {
	next Resolver

	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry

	hits, misses atomic.Int64
}

type cacheKey struct {
	name  string
	qtype uint16
}

type cacheEntry struct {
	done chan struct{}
	ans  *Answer
	err  error
}

var _ Resolver = (*Cache)(nil)

// NewCache returns an empty cache in front of next.
func NewCache(next Resolver) *Cache {
	return &Cache{next: next, entries: make(map[cacheKey]*cacheEntry)}
}

// Query implements Resolver.
func (c *Cache) Query(ctx context.Context, name string, qtype uint16) (*Answer, error) {
	k := cacheKey{strings.ToLower(dns.Fqdn(name)), qtype}
	for {
		c.mu.Lock()
		e, ok := c.entries[k]
		if !ok {
			e = &cacheEntry{done: make(chan struct{})}
			c.entries[k] = e
			c.mu.Unlock()
			c.misses.Add(1)
			e.ans, e.err = c.next.Query(ctx, k.name, qtype)
			if e.err != nil && expired(ctx) {
				// Our deadline, not the server's answer: do not keep it.
				c.mu.Lock()
				delete(c.entries, k)
				c.mu.Unlock()
			}
			close(e.done)
			return copyAnswer(e.ans), e.err
		}
		c.mu.Unlock()
		c.hits.Add(1)
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, &QueryError{Name: k.name, Qtype: qtype, Kind: ErrTimeout, Detail: "audit deadline reached"}
		}
		if e.err != nil && !expired(ctx) {
			// The leader may have given up on its own deadline; if the entry
			// was dropped, ask again.
			c.mu.Lock()
			cur := c.entries[k]
			c.mu.Unlock()
			if cur != e {
				continue
			}
		}
		return copyAnswer(e.ans), e.err
	}
}

// Stats reports how many questions were answered from the cache (hits,
// including waits on an in-flight question) and how many were sent on.
func (c *Cache) Stats() (hits, misses int64) { return c.hits.Load(), c.misses.Load() }

// copyAnswer gives each caller its own Answer and record slice, so no
// caller can alter what another sees. Records themselves are shared and
// must be treated as read-only.
func copyAnswer(a *Answer) *Answer {
	if a == nil {
		return nil
	}
	b := *a
	b.Records = append([]dns.RR(nil), a.Records...)
	return &b
}
