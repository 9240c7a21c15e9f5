package resolve

import (
	"context"
	"testing"
)

// cancelled is a context that is already done: acquire then reports at
// once whether a slot is free, so these tests need no timing.
func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func mustAcquire(t *testing.T, l *inflightLimit, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := l.acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestInflightLimitAIMD(t *testing.T) {
	l := newInflightLimit(4, 2, 16)
	mustAcquire(t, l, 4)
	if l.acquire(cancelled()) == nil {
		t.Fatal("a fifth question at a limit of 4")
	}
	l.release(outcomeAnswer) // slow start: 5
	if l.current() != 5 {
		t.Fatalf("limit %d after an answer, want 5", l.current())
	}
	mustAcquire(t, l, 2)
	if l.acquire(cancelled()) == nil {
		t.Fatal("a sixth question at a limit of 5")
	}
	l.release(outcomeTimeout) // 2.5; 4 in flight
	if l.current() != 2 {
		t.Fatalf("limit %d after a timeout, want 2", l.current())
	}
	l.release(outcomeNone)
	l.release(outcomeNone) // 2 in flight: still full
	if l.acquire(cancelled()) == nil {
		t.Fatal("a question over the backed-off limit")
	}
	l.release(outcomeAnswer) // congestion avoidance: 2.5 + 1/2.5 = 2.9
	if l.limit != 2.9 || l.inflight != 1 {
		t.Fatalf("limit %v, %d in flight", l.limit, l.inflight)
	}
}

func TestInflightLimitBounds(t *testing.T) {
	l := newInflightLimit(4, 2, 16)
	for i := 0; i < 100; i++ {
		mustAcquire(t, l, 1)
		l.release(outcomeAnswer)
	}
	if l.current() != 16 {
		t.Errorf("limit %d, want the ceiling 16", l.current())
	}
	for i := 0; i < 100; i++ {
		mustAcquire(t, l, 1)
		l.release(outcomeTimeout)
	}
	if l.current() != 2 {
		t.Errorf("limit %d, want the floor 2", l.current())
	}
	if d := newInflightLimit(128, MinInFlight, 3); d.current() != 3 {
		t.Errorf("a ceiling below the start: limit %d", d.current())
	}
}

// A waiting question gets the slot a release frees, in arrival order.
func TestInflightLimitGrantsWaiters(t *testing.T) {
	l := newInflightLimit(1, 1, 1)
	mustAcquire(t, l, 1)
	got := make(chan int, 2)
	for i := 0; i < 2; i++ {
		go func() {
			if l.acquire(context.Background()) == nil {
				got <- i
			}
		}()
		for waiting := 0; waiting != i+1; {
			l.mu.Lock()
			waiting = l.waiters.Len()
			l.mu.Unlock()
		}
	}
	l.release(outcomeNone)
	if first := <-got; first != 0 {
		t.Errorf("waiter %d served first", first)
	}
	l.release(outcomeNone)
	<-got
	if l.inflight != 1 || l.waiters.Len() != 0 {
		t.Errorf("%d in flight, %d waiting", l.inflight, l.waiters.Len())
	}
}
