package future

import (
	"context"
	"testing"
	"time"
)

// TestGo checks that f runs before its result is asked for, and that
// every call returns the same result.
func TestGo(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	calls := 0
	get := Go(context.Background(), func() int {
		calls++
		close(started)
		<-release
		return 42
	})
	select {
	case <-started:
	case <-time.After(10 * time.Second): // a hang bound only
		t.Fatal("f did not start before its result was asked for")
	}
	close(release)
	for i := range 2 {
		if got := get(); got != 42 || calls != 1 {
			t.Fatalf("call %d: got %d after %d runs of f, want 42 after 1", i, got, calls)
		}
	}
}
