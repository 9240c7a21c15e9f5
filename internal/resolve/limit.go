package resolve

import (
	"container/list"
	"context"
	"sync"
)

// Bounds of the adaptive limit on questions in flight (Client).
const (
	// StartInFlight is where the limit starts.
	StartInFlight = 128
	// MaxInFlightDefault is the most questions in flight when
	// Client.MaxInFlight is not set.
	MaxInFlightDefault = 1024
	// MinInFlight is the floor the limit never backs off below.
	MinInFlight = 8
)

// outcome is how a question on the wire ended, for the limit.
type outcome int

const (
	outcomeNone    outcome = iota // not sent, or ended by the caller
	outcomeAnswer                 // any reply from the server
	outcomeTimeout                // no reply in time: a sign of loss
)

// inflightLimit bounds the questions on the wire and adapts the bound
// (AIMD, as TCP's congestion control): it starts at start; each answer
// adds one (slow start: the bound doubles per round trip) until the first
// timeout, after which each answer adds 1/limit (one per round trip's
// worth of answers); each timeout halves it, never below floor nor
// above ceil. Waiters are served in arrival order.
type inflightLimit struct {
	mu          sync.Mutex
	limit       float64
	floor, ceil float64
	backedOff   bool // a timeout was seen: congestion avoidance
	inflight    int
	waiters     list.List // of chan struct{}, closed when granted
}

// newInflightLimit returns a limit starting at start within [floor, ceil].
func newInflightLimit(start, floor, ceil int) *inflightLimit {
	floor = min(floor, ceil)
	return &inflightLimit{limit: float64(min(max(start, floor), ceil)), floor: float64(floor), ceil: float64(ceil)}
}

// acquire waits for a slot, or for ctx to end (then it returns ctx's
// error and holds no slot).
func (l *inflightLimit) acquire(ctx context.Context) error {
	l.mu.Lock()
	if l.waiters.Len() == 0 && l.inflight < int(l.limit) {
		l.inflight++
		l.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	e := l.waiters.PushBack(ch)
	l.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
	}
	l.mu.Lock()
	select {
	case <-ch: // granted meanwhile: hand it on
		l.mu.Unlock()
		l.release(outcomeNone)
	default:
		l.waiters.Remove(e)
		l.mu.Unlock()
	}
	return ctx.Err()
}

// release frees a slot and adapts the limit to how the question ended.
func (l *inflightLimit) release(o outcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight--
	switch o {
	case outcomeAnswer:
		if l.backedOff {
			l.limit += 1 / l.limit
		} else {
			l.limit++
		}
		l.limit = min(l.limit, l.ceil)
	case outcomeTimeout:
		l.backedOff = true
		l.limit = max(l.limit/2, l.floor)
	}
	for l.inflight < int(l.limit) && l.waiters.Len() > 0 {
		ch := l.waiters.Remove(l.waiters.Front()).(chan struct{})
		l.inflight++
		close(ch)
	}
}

// current returns the limit now (whole questions).
func (l *inflightLimit) current() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.limit)
}
