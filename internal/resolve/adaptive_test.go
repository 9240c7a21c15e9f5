package resolve_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// Answers raise the client's bound on questions in flight from its start;
// a timeout halves it.
func TestClientAdaptiveInFlight(t *testing.T) {
	srv := startServer(t)
	srv.Set("lost.example.org", dnstest.Drop)
	c := &resolve.Client{Servers: []string{srv.Addr}, Timeout: 100 * time.Millisecond}
	if got := c.InFlightLimit(); got != resolve.StartInFlight {
		t.Fatalf("starts at %d, want %d", got, resolve.StartInFlight)
	}
	for i := 0; i < 3; i++ {
		if _, err := c.Query(context.Background(), "example.org", dns.TypeMX); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.InFlightLimit(); got != resolve.StartInFlight+3 {
		t.Fatalf("%d after 3 answers, want %d", got, resolve.StartInFlight+3)
	}
	if _, err := c.Query(context.Background(), "lost.example.org", dns.TypeA); !errors.Is(err, resolve.ErrTimeout) {
		t.Fatalf("lost question: %v", err)
	}
	if got := c.InFlightLimit(); got != (resolve.StartInFlight+3)/2 {
		t.Fatalf("%d after a timeout, want %d", got, (resolve.StartInFlight+3)/2)
	}
}

// --qps: a question the rate cannot fit before the caller's deadline
// fails at once as a timeout, without being sent.
func TestClientQPS(t *testing.T) {
	srv := startServer(t)
	c := &resolve.Client{Servers: []string{srv.Addr}, Timeout: time.Second, QPS: 0.5}
	if _, err := c.Query(context.Background(), "example.org", dns.TypeMX); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.Query(ctx, "example.org", dns.TypeTXT)
	if !errors.Is(err, resolve.ErrTimeout) || srv.Total() != 1 {
		t.Fatalf("second question: %v, %d sent", err, srv.Total())
	}
}
