// Package schedule runs the audits of many domains: a bounded number at
// once, each under its own deadline, and hands the reports on in the
// order of the domain source while holding no more finished reports than
// its reorder window. It knows nothing of flags or output formats: the
// CLI gives it a source, the checks, an environment factory and an emit
// function (usually a report.Reporter's Report).
package schedule

import (
	"context"
	"errors"
	"time"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/gopool"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/report"
)

// Source yields the domains of a run, in order.
type Source interface {
	// Next returns the next domain; ok is false at the end.
	Next() (n resolve.Name, ok bool)
}

// List is a Source over names given up front (command-line arguments).
type List []resolve.Name

// Next implements Source, consuming the list.
func (l *List) Next() (resolve.Name, bool) {
	if len(*l) == 0 {
		return resolve.Name{}, false
	}
	n := (*l)[0]
	*l = (*l)[1:]
	return n, true
}

// EventKind says what happened to one domain.
type EventKind int

const (
	Started  EventKind = iota // its audit began
	Finished                  // its report is ready (before it is emitted)
)

// Event is what a progress display sees.
type Event struct {
	Kind   EventKind
	Index  int // position in the source, from 0
	Domain string
	Report *report.Report // Finished only
}

// Config is one run.
type Config struct {
	Checks   []checks.Check
	NewEnv   func(resolve.Name) *checks.Env // the environment of one audit
	Parallel int                            // audits at once; default 8
	Window   int                            // finished-or-running audits held for ordering; default 2*Parallel
	Deadline time.Duration                  // of one audit, output excluded; default 30s
	Resolver []string                       // for the reports' "resolver" field
	Now      func() time.Time               // default time.Now
	Progress func(Event)                    // optional; called from the run's goroutines
	Order    Order                          // when reports are emitted; default InSourceOrder
	// Abandon, on cancellation, stops reading the source: the audits in
	// flight are reported (interrupted), the domains not started are not
	// (a long list, which a later run resumes). Without it every domain
	// of the source gets a report, marked interrupted.
	Abandon bool
}

// Order says when Run emits a report.
type Order int

const (
	// InSourceOrder emits reports in the order of the source, holding
	// finished ones back behind a slow one (at most Window at once).
	InSourceOrder Order = iota
	// AsCompleted emits each report as soon as its audit is done.
	AsCompleted
)

// ErrEmit is what an EmitError is (errors.Is).
var ErrEmit = errors.New("emitting a report")

// EmitError carries the error of the emit function, which ended the run.
type EmitError struct{ Err error }

func (e *EmitError) Error() string        { return e.Err.Error() }
func (e *EmitError) Unwrap() error        { return e.Err }
func (e *EmitError) Is(target error) bool { return target == ErrEmit }

// errStop cancels the audits in flight after an emit error.
var errStop = errors.New("run stopped")

type result struct {
	i int
	r *report.Report
}

// Run audits every domain of src and calls emit with each report, in
// source order (or as each is done, with AsCompleted). No audit starts before a slot of the reorder window is
// free, so at most Window reports (running or finished) exist at once,
// whatever the number of domains. An emit error ends the run: audits in
// flight are cancelled and the error is returned.
func Run(ctx context.Context, cfg Config, src Source, emit func(*report.Report) error) error {
	cfg = cfg.withDefaults()
	// The run's goroutines for checks, selectors and lookups are reused
	// across its domains (gopool: their stacks are grown once).
	pool := gopool.New()
	defer pool.Close()
	ctx, cancel := context.WithCancelCause(gopool.With(ctx, pool))
	defer cancel(errStop)
	results := make(chan result, cfg.Window)
	total := make(chan int, 1)
	slots := make(chan struct{}, cfg.Window)
	go produce(ctx, cfg, src, slots, results, total)

	pending := map[int]*report.Report{}
	next, n := 0, -1
	for n < 0 || next < n {
		select {
		case res := <-results:
			if cfg.Order == AsCompleted {
				res.i = next // emit it now, as if it were next
			}
			pending[res.i] = res.r
		case n = <-total:
			total = nil
			continue
		}
		for r, ok := pending[next]; ok; r, ok = pending[next] {
			delete(pending, next)
			if err := emit(r); err != nil {
				cancel(errStop)
				return &EmitError{err}
			}
			next++
			<-slots
		}
	}
	return nil
}

// produce starts one audit per domain of src as slots free up, then
// sends the number of domains on total.
func produce(ctx context.Context, cfg Config, src Source, slots chan struct{}, results chan<- result, total chan<- int) {
	sem := make(chan struct{}, cfg.Parallel)
	i := 0
	defer func() { total <- i }()
	for {
		if cfg.Abandon && ctx.Err() != nil {
			return
		}
		n, ok := src.Next()
		if !ok {
			return
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			if cfg.Abandon || errors.Is(context.Cause(ctx), errStop) {
				return // emit failed (nobody reads the rest), or abandoned
			}
			// Interrupted or past a deadline: every domain is still
			// reported (quickly, as not evaluated).
			slots <- struct{}{}
		}
		sem <- struct{}{}
		go func(i int) {
			defer func() { <-sem }()
			results <- result{i, audit(ctx, cfg, i, n)}
		}(i)
		i++
	}
}

// audit runs the checks on one domain under its own deadline.
func audit(ctx context.Context, cfg Config, i int, n resolve.Name) *report.Report {
	progress(cfg, Event{Kind: Started, Index: i, Domain: n.ASCII})
	started := cfg.Now()
	actx, cancel := context.WithTimeout(ctx, cfg.Deadline)
	defer cancel()
	results := checks.Run(actx, cfg.NewEnv(n), cfg.Checks)
	r := report.New(n.ASCII, n.Unicode, started, cfg.Resolver, results)
	progress(cfg, Event{Kind: Finished, Index: i, Domain: n.ASCII, Report: r})
	return r
}

func progress(cfg Config, e Event) {
	if cfg.Progress != nil {
		cfg.Progress(e)
	}
}

func (c Config) withDefaults() Config {
	if c.Parallel < 1 {
		c.Parallel = 8
	}
	if c.Window < c.Parallel {
		c.Window = 2 * c.Parallel
	}
	if c.Deadline <= 0 {
		c.Deadline = 30 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
