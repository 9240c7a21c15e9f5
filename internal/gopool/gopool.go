// Package gopool runs short tasks on reused goroutines.
//
// A bulk audit starts tens of thousands of short-lived goroutines (one
// per DKIM selector, blocklist lookup, check); each begins with a small
// stack and grows it, by copying, to the depth of a DNS question's call
// path (about 5 KB): 13 % of a 1,000-domain run's CPU went to copying
// stacks (bench-scale, issue 16). A Pool runs a task on one of its
// goroutines that is idle, and so has already grown its stack, and
// starts one otherwise; an idle goroutine ends after Linger.
// Concurrency is not bounded: Go(f) behaves as `go f()`.
//
// A run carries its pool in its context (With); Go without one starts a
// plain goroutine. Goroutines are not shared between contexts that do
// not share a pool, so a testing/synctest bubble never runs a task on a
// goroutine from outside it.
package gopool

import (
	"context"
	"sync/atomic"
	"time"
)

// Linger is how long an idle goroutine waits for a task before it ends.
const Linger = 200 * time.Millisecond

// Pool is a set of goroutines waiting for tasks.
type Pool struct {
	// idle hands a task to a goroutine waiting for one (unbuffered: a
	// send succeeds only when a goroutine is idle).
	idle chan func()
	quit chan struct{} // closed by Close
	// started counts the goroutines started (for tests).
	started atomic.Int64
}

// New returns an empty pool.
func New() *Pool { return &Pool{idle: make(chan func()), quit: make(chan struct{})} }

// Close ends the idle goroutines at once, and each busy one when its
// task returns.
func (p *Pool) Close() { close(p.quit) }

// Go runs f on an idle goroutine of p, or on a new one.
func (p *Pool) Go(f func()) {
	select {
	case p.idle <- f:
	default:
		p.started.Add(1)
		go p.work(f)
	}
}

// work runs f, then the tasks handed to it, until it has been idle for
// Linger or p is closed.
func (p *Pool) work(f func()) {
	t := time.NewTimer(Linger)
	defer t.Stop()
	for {
		f()
		f = nil // let f's captures go while idle
		t.Reset(Linger)
		select {
		case f = <-p.idle:
		case <-t.C:
			return
		case <-p.quit:
			return
		}
	}
}

type ctxKey struct{}

// With returns ctx carrying p.
func With(ctx context.Context, p *Pool) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// Go runs f on the pool ctx carries, or on a new goroutine when it
// carries none.
func Go(ctx context.Context, f func()) {
	if p, ok := ctx.Value(ctxKey{}).(*Pool); ok && p != nil {
		p.Go(f)
		return
	}
	go f()
}
