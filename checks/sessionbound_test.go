package checks

import (
	"context"
	"testing"

	"github.com/mailcheck/mailcheck/internal/resolve"
)

// The run-wide bound per destination address: with one session open to
// an address, another to it waits (here: gives up with its context),
// while one to another address starts.
func TestSessionCachePerAddress(t *testing.T) {
	n, _ := resolve.ParseName("example.org")
	env := NewEnv(n, nil)
	env.SharedSessions = NewSessionCache()
	release, err := env.sessionSlot(context.Background(), "192.0.2.1:25")
	if err != nil {
		t.Fatal(err)
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := env.sessionSlot(done, "192.0.2.1:25"); err == nil {
		t.Error("a second session to the same address started")
	}
	other, err := env.sessionSlot(context.Background(), "192.0.2.2:25")
	if err != nil {
		t.Fatalf("another address: %v", err)
	}
	other()
	release()
	again, err := env.sessionSlot(context.Background(), "192.0.2.1:25")
	if err != nil {
		t.Fatalf("after the release: %v", err)
	}
	again()
	if b := env.SharedSessions.addrBound("192.0.2.1:25"); cap(b) != 1 || len(b) != 0 {
		t.Errorf("bound cap %d, held %d", cap(b), len(b))
	}
}
