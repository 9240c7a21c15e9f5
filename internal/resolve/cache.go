package resolve

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Cache wraps a Resolver for the length of one run. Each distinct question
// reaches the underlying resolver once: concurrent identical questions wait
// for the one in flight, later ones get the stored answer.
//
// A failure is not a fact for the whole run: a transient one (timeout,
// SERVFAIL, network error, invalid reply) is asked once more before it is
// stored, and a stored failure is forgotten after FailureTTL, so one lost
// packet for a shared include does not fail every later domain of a bulk
// run. A question that the asker's own deadline or cancellation ended is
// never stored, so a later asker with time left sends it again.
//
// TTLs of answers are not applied by default: a run lasts seconds, and an
// audit must see one consistent picture of the DNS. A long-lived process
// (`mailcheck serve`) sets MaxAge: answers then expire with their TTL.
type Cache struct {
	// FailureTTL is how long a failure is kept; default 5s.
	FailureTTL time.Duration
	// MaxAge, when positive, makes answers expire: each is kept for the
	// smallest TTL of its records, at most MaxAge; an answer without
	// records (NXDOMAIN, NODATA) for MaxAge. Zero keeps answers for the
	// life of the cache.
	MaxAge time.Duration
	// Now is the clock for FailureTTL; default time.Now.
	Now func() time.Time
	// MaxEntries, when positive, bounds the questions held: past it, a
	// new question takes the place of an old one chosen by a CLOCK sweep
	// with counts (second chance): each later ask of an entry earns it a
	// pass of the hand (up to maxPasses), so answers shared by many
	// domains (provider SPF trees, MX hosts, blocklist test points) stay
	// while answers asked by one domain only go first. Questions in
	// flight are never evicted. Zero: no bound.
	MaxEntries int

	next Resolver

	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry
	ring    []*cacheEntry // CLOCK slots (MaxEntries)
	hand    int

	hits, misses atomic.Int64
}

// DefaultMaxEntries is the bound (MaxEntries) the CLI sets on its run's
// cache: about 2,700 domains' worth of distinct questions (some 37 each
// with the DNS checks), far more than the shared answers of a run, and
// some 60 MB at most.
const DefaultMaxEntries = 100_000

type cacheKey struct {
	name  string
	qtype uint16
	mode  queryMode // the zero value for Query
}

type cacheEntry struct {
	key     cacheKey
	passes  int // CLOCK: sweeps of the hand this entry survives; under mu
	done    chan struct{}
	ans     *Answer
	err     error
	expires time.Time // set for failures once done
}

var _ Resolver = (*Cache)(nil)

// NewCache returns an empty cache in front of next.
func NewCache(next Resolver) *Cache {
	return &Cache{next: next, entries: make(map[cacheKey]*cacheEntry)}
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Query implements Resolver.
func (c *Cache) Query(ctx context.Context, name string, qtype uint16) (*Answer, error) {
	return c.query(ctx, cacheKey{name: Canonical(name), qtype: qtype})
}

// query answers the question of k, from the cache or from next.
func (c *Cache) query(ctx context.Context, k cacheKey) (*Answer, error) {
	qtype := k.qtype
	for {
		e, leader := c.entry(k)
		if leader {
			return c.fill(ctx, k, e)
		}
		c.hits.Add(1)
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ContextError(ctx, k.name, qtype)
		}
		if e.err != nil && c.dropped(k, e) {
			continue // the leader gave up on its own deadline: ask again
		}
		return copyAnswer(e.ans), e.err
	}
}

// entry returns the entry for k, creating it (leader) when there is none
// or the stored failure has expired.
func (c *Cache) entry(k cacheKey) (e *cacheEntry, leader bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[k]; ok && !c.stale(e) {
		e.passes = min(e.passes+1, maxPasses)
		return e, false
	}
	e = &cacheEntry{key: k, done: make(chan struct{})}
	c.entries[k] = e
	c.admit(e)
	return e, true
}

// maxPasses is the most sweeps an often-asked entry survives unasked.
const maxPasses = 3

// admit gives e a CLOCK slot, evicting an entry when the cache is full
// (MaxEntries). Called with mu held.
func (c *Cache) admit(e *cacheEntry) {
	if c.MaxEntries <= 0 {
		return
	}
	if len(c.ring) < c.MaxEntries {
		c.ring = append(c.ring, e)
		return
	}
	for range 2 * (maxPasses + 1) * len(c.ring) {
		old := c.ring[c.hand]
		switch {
		case c.entries[old.key] != old: // already gone (failure, Purge)
		case !isDone(old): // in flight: never evicted
			c.hand = (c.hand + 1) % len(c.ring)
			continue
		case old.passes > 0:
			old.passes--
			c.hand = (c.hand + 1) % len(c.ring)
			continue
		default:
			delete(c.entries, old.key)
		}
		c.ring[c.hand] = e
		c.hand = (c.hand + 1) % len(c.ring)
		return
	}
	c.ring = append(c.ring, e) // everything in flight: grow past the bound
}

func isDone(e *cacheEntry) bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

// stale reports a stored failure, or an answer with MaxAge set, past its
// expiry. Called with mu held.
func (c *Cache) stale(e *cacheEntry) bool {
	select {
	case <-e.done:
		return !e.expires.IsZero() && !c.now().Before(e.expires)
	default:
		return false
	}
}

func (c *Cache) dropped(k cacheKey, e *cacheEntry) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries[k] != e
}

// fill asks the question for the entry e (retrying a transient failure
// once) and publishes the outcome.
func (c *Cache) fill(ctx context.Context, k cacheKey, e *cacheEntry) (*Answer, error) {
	c.misses.Add(1)
	e.ans, e.err = askMode(ctx, c.next, k)
	if transient(e.err) && !expired(ctx) {
		e.ans, e.err = askMode(ctx, c.next, k)
	}
	if e.err == nil && c.MaxAge > 0 {
		e.expires = c.now().Add(answerAge(e.ans, c.MaxAge))
	}
	if e.err != nil {
		ttl := c.FailureTTL
		if ttl <= 0 {
			ttl = 5 * time.Second
		}
		e.expires = c.now().Add(ttl)
		if endedByCaller(e.err) || expired(ctx) {
			// Our deadline, not the server's answer: do not keep it.
			c.mu.Lock()
			if c.entries[k] == e {
				delete(c.entries, k)
			}
			c.mu.Unlock()
		}
	}
	close(e.done)
	return copyAnswer(e.ans), e.err
}

// answerAge is how long an answer may be kept: the smallest TTL of its
// records, at most maxAge.
func answerAge(a *Answer, maxAge time.Duration) time.Duration {
	age := maxAge
	if a == nil {
		return age
	}
	for _, rr := range append(append([]dns.RR(nil), a.Records...), a.Authority...) {
		age = min(age, time.Duration(rr.Header().Ttl)*time.Second)
	}
	return age
}

// Purge forgets the entries past their expiry, so that a long-lived
// cache holds only what may still be served.
func (c *Cache) Purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if c.stale(e) {
			delete(c.entries, k)
		}
	}
}

// Len returns how many questions the cache holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// transient reports a failure that another try may not repeat.
func transient(err error) bool {
	if err == nil || endedByCaller(err) {
		return false
	}
	return errors.Is(err, ErrTimeout) || errors.Is(err, ErrServFail) || errors.Is(err, ErrNetwork) || errors.Is(err, ErrBadReply)
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
	if a.Authority != nil {
		b.Authority = append([]dns.RR(nil), a.Authority...)
	}
	if a.EDE != nil {
		b.EDE = append([]dns.EDNS0_EDE(nil), a.EDE...)
	}
	return &b
}
