package dnsbl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/future"
	"github.com/mailcheck/mailcheck/internal/gopool"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// DefaultConcurrency bounds the lookups in flight when Checker.Concurrency
// is zero.
const DefaultConcurrency = 16

// Checker asks lists about targets.
type Checker struct {
	Resolver resolve.Resolver
	// Concurrency is the most lookups in flight at once (health probes,
	// A and TXT queries together); 0 means DefaultConcurrency.
	Concurrency int
	// Memo, when set, shares the lists' health verdicts and their
	// answers about IP addresses with the other audits of the run (nil:
	// each check asks).
	Memo *Memo
}

// Status is a list's state after its health probes.
type Status string

const (
	Healthy   Status = "healthy"   // 127.0.0.2 (or TEST) listed, 127.0.0.1 (INVALID) not
	Unhealthy Status = "unhealthy" // lists everything, lists nothing, or answers nonsense
	Blocked   Status = "refused"   // answered the probes with a refusal code
	TimedOut  Status = "timeout"   // a probe got no answer in time
	Offline   Status = "offline"   // not resolvable with --offline
	Broken    Status = "error"     // a probe failed: SERVFAIL, REFUSED, network error
	Unused    Status = "unused"    // no target of the list's kind: not queried
)

// Health is the outcome of a list's RFC 5782 §5 probes.
type Health struct {
	Status Status   `json:"status"`
	Reason string   `json:"reason,omitempty"`
	Probes []Result `json:"probes,omitempty"`
	// Err is the probe's failure for Failed probes.
	Err error `json:"-"`
}

// OK reports whether the list's answers can be trusted.
func (h Health) OK() bool { return h.Status == Healthy }

// ListReport is what one list said.
type ListReport struct {
	List    *List    `json:"list"`
	Health  Health   `json:"health"`
	Results []Result `json:"results"`
}

// Check probes each list's health and asks every healthy list about every
// target of its kind. Lists run concurrently; at most Concurrency lookups
// are in flight. When ctx ends, lookups not yet answered come back as
// Failed with a timeout error; Check returns promptly.
func (c *Checker) Check(ctx context.Context, lists []*List, targets []Target) []ListReport {
	run := c.newRun()
	health := make([]func() Health, len(lists))
	for i, l := range lists {
		health[i] = c.known(l)
		if health[i] == nil {
			health[i] = func() Health { return c.probe(ctx, run, l) }
		}
	}
	return run.check(ctx, lists, health, targets)
}

// Pending is a check begun before its targets are known, its lists'
// health probes in flight (Checker.Start).
type Pending struct {
	ctx    context.Context
	run    *run
	lists  []*List
	health []func() Health
}

// Start begins every list's health probes now, so that they run while
// the targets are still being found (a domain's MX addresses): they do
// not depend on them. Pending.Check then asks about the targets. A list
// that turns out to have no target of its kind is reported Unused, as
// Check reports it; the two probe questions asked for it are the price
// of not waiting.
func (c *Checker) Start(ctx context.Context, lists []*List) *Pending {
	p := &Pending{ctx: ctx, run: c.newRun(), lists: lists, health: make([]func() Health, len(lists))}
	for i, l := range lists {
		p.health[i] = c.known(l)
		if p.health[i] == nil {
			p.health[i] = future.Go(ctx, func() Health { return c.probe(ctx, p.run, l) })
		}
	}
	return p
}

// known returns l's health from the memo, or nil when it has none.
func (c *Checker) known(l *List) func() Health {
	h, ok := c.Memo.healthOf(l)
	if !ok {
		return nil
	}
	return func() Health { return h }
}

// probe runs l's health probes and keeps the verdict in the memo.
func (c *Checker) probe(ctx context.Context, r *run, l *List) Health {
	h := r.health(ctx, l)
	c.Memo.keep(l, h)
	return h
}

// Check waits for the health probes and asks every healthy list about
// every target of its kind, as Checker.Check does; it returns when the
// probes of the lists left unused have ended too, so that no lookup
// outlives it.
func (p *Pending) Check(targets []Target) []ListReport {
	out := p.run.check(p.ctx, p.lists, p.health, targets)
	p.Wait()
	return out
}

// Wait waits for the health probes without asking anything: for a caller
// that needs no list after all.
func (p *Pending) Wait() {
	for _, h := range p.health {
		h()
	}
}

func (c *Checker) newRun() *run {
	n := c.Concurrency
	if n <= 0 {
		n = DefaultConcurrency
	}
	return &run{r: c.Resolver, sem: make(chan struct{}, n), memo: c.Memo}
}

// check asks each list, concurrently, about targets; health[i] gives
// list i's health, probed only when the list has a target.
func (r *run) check(ctx context.Context, lists []*List, health []func() Health, targets []Target) []ListReport {
	out := make([]ListReport, len(lists))
	var wg sync.WaitGroup
	for i, l := range lists {
		wg.Go(func() { out[i] = r.list(ctx, l, health[i], targets) })
	}
	wg.Wait()
	return out
}

type run struct {
	r    resolve.Resolver
	sem  chan struct{}
	memo *Memo // nil: nothing shared with other audits
}

// lookup runs Lookup under the concurrency bound; probe: a health probe
// (no TXT query).
func (r *run) lookup(ctx context.Context, l *List, t Target, probe bool) Result {
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		name, _ := QueryName(t, l.Zone)
		err := &resolve.QueryError{Name: name, Qtype: dns.TypeA, Kind: resolve.ErrTimeout, Detail: "audit deadline reached before the query was sent"}
		return Result{Target: t.String(), Query: strings.TrimSuffix(name, "."), A: []string{}, Verdict: Failed, Err: err, Error: err.Error()}
	}
	defer func() { <-r.sem }()
	return lookup(ctx, r.r, l, t, probe)
}

func (r *run) list(ctx context.Context, l *List, health func() Health, targets []Target) ListReport {
	rep := ListReport{List: l, Results: []Result{}}
	var mine []Target
	for _, t := range targets {
		if l.Kind.Covers(t) {
			mine = append(mine, t)
		}
	}
	if len(mine) == 0 {
		rep.Health = Health{Status: Unused, Reason: fmt.Sprintf("no %s target to ask about", kindNoun(l.Kind))}
		return rep
	}
	rep.Health = health()
	if !rep.Health.OK() {
		return rep
	}
	rep.Results = make([]Result, len(mine))
	var wg sync.WaitGroup
	for i, t := range mine {
		if res, ok := r.memo.resultOf(l, t); ok {
			rep.Results[i] = res
			continue
		}
		wg.Add(1)
		gopool.Go(ctx, func() {
			defer wg.Done()
			rep.Results[i] = r.lookup(ctx, l, t, false)
			r.memo.keepResult(l, t, rep.Results[i])
		})
	}
	wg.Wait()
	return rep
}

func kindNoun(k Kind) string {
	switch k {
	case KindIP4:
		return "IPv4 address"
	case KindIP6:
		return "IPv6 address"
	case KindDomain:
		return "domain"
	}
	return "IP address"
}

func (r *run) health(ctx context.Context, l *List) Health {
	listedT, err1 := testTarget(l.Kind, l.TestListed)
	cleanT, err2 := testTarget(l.Kind, l.TestClean)
	if err := errors.Join(err1, err2); err != nil {
		return Health{Status: Broken, Reason: err.Error(), Err: err}
	}
	var listed, clean Result
	var wg sync.WaitGroup
	wg.Add(1)
	gopool.Go(ctx, func() {
		defer wg.Done()
		clean = r.lookup(ctx, l, cleanT, true)
	})
	listed = r.lookup(ctx, l, listedT, true)
	wg.Wait()
	h := Health{Probes: []Result{listed, clean}}
	for _, p := range h.Probes {
		if p.Verdict != Failed {
			continue
		}
		h.Err = p.Err
		switch {
		case errors.Is(p.Err, resolve.ErrOffline):
			h.Status, h.Reason = Offline, "not queried: "+p.Error
		case errors.Is(p.Err, resolve.ErrTimeout) || ctx.Err() != nil:
			h.Status, h.Reason = TimedOut, fmt.Sprintf("the test query %s got no answer: %s", p.Query, p.Error)
		default:
			h.Status, h.Reason = Broken, fmt.Sprintf("the test query %s failed: %s", p.Query, p.Error)
		}
		return h
	}
	for _, p := range h.Probes {
		if p.Verdict == Refused {
			h.Status = Blocked
			h.Reason = fmt.Sprintf("the test query %s was answered %s: %s", p.Query, strings.Join(p.A, ", "), meanings(p.HitsOf(ClassRefused)))
			return h
		}
	}
	for _, p := range h.Probes {
		if p.Verdict == Invalid {
			h.Status = Unhealthy
			h.Reason = fmt.Sprintf("the test query %s was answered %s: %s", p.Query, strings.Join(p.A, ", "), meanings(p.HitsOf(ClassError)))
			return h
		}
	}
	switch {
	case listed.Verdict == Clean && clean.Verdict != Clean:
		h.Status = Unhealthy
		h.Reason = fmt.Sprintf("the list answers nonsense: its test entry %s is not listed (%s) but %s is (%s)",
			l.TestListed, listed.Rcode, l.TestClean, strings.Join(clean.A, ", "))
	case listed.Verdict == Clean:
		h.Status = Unhealthy
		h.Reason = fmt.Sprintf("the list lists nothing: its test entry %s, which every blocklist must list, is not listed (%s for %s); the list may have shut down, or it silently ignores your resolver",
			l.TestListed, listed.Rcode, listed.Query)
	case clean.Verdict != Clean:
		h.Status = Unhealthy
		h.Reason = fmt.Sprintf("the list lists everything: %s, which no blocklist may list, is listed (%s for %s); a list that answers every query positively has usually shut down and wildcarded its zone",
			l.TestClean, strings.Join(clean.A, ", "), clean.Query)
	default:
		h.Status = Healthy
	}
	return h
}

func meanings(hs []Hit) string {
	var s []string
	seen := map[string]bool{}
	for _, h := range hs {
		if !seen[h.Meaning] {
			seen[h.Meaning] = true
			s = append(s, h.Meaning)
		}
	}
	return strings.Join(s, "; ")
}

// Meanings joins the distinct meanings of hits.
func Meanings(hs []Hit) string { return meanings(hs) }
