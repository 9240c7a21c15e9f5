package gopool

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestReuse: tasks given one after another run on one goroutine; tasks
// given while every goroutine is busy each get a new one; Close ends the
// idle goroutines (synctest fails the test if one is left).
func TestReuse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New()
		defer p.Close()
		task := func(wg *sync.WaitGroup, block chan struct{}) func() {
			return func() {
				defer wg.Done()
				<-block
			}
		}
		// Sequential tasks: the first goroutine takes each.
		for range 5 {
			var wg sync.WaitGroup
			wg.Add(1)
			open := make(chan struct{})
			close(open)
			p.Go(task(&wg, open))
			wg.Wait()
			synctest.Wait() // the goroutine is idle again
		}
		if n := p.started.Load(); n != 1 {
			t.Errorf("5 tasks one after another started %d goroutines, want 1", n)
		}
		// Concurrent tasks: none waits for another.
		var wg sync.WaitGroup
		block := make(chan struct{})
		for range 10 {
			wg.Add(1)
			p.Go(task(&wg, block))
		}
		synctest.Wait()
		if n := p.started.Load(); n != 10 {
			t.Errorf("10 tasks at once (1 idle goroutine) started %d in all, want 10", n)
		}
		close(block)
		wg.Wait()
	})
}

// TestLinger: an idle goroutine ends after Linger.
func TestLinger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New()
		done := make(chan struct{})
		p.Go(func() { close(done) })
		<-done
		time.Sleep(Linger + time.Millisecond)
		synctest.Wait()
		// No Close: the bubble ends only if the goroutine has ended.
	})
}

// TestGoWithoutPool: a context without a pool runs the task anyway.
func TestGoWithoutPool(t *testing.T) {
	done := make(chan struct{})
	Go(context.Background(), func() { close(done) })
	<-done
	p := New()
	defer p.Close()
	done2 := make(chan struct{})
	Go(With(context.Background(), p), func() { close(done2) })
	<-done2
}
