package resolve

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestUDPSocketLingers: a socket stays for the next question while
// questions come, and closes once idle for socketLinger, its reader
// gone with it.
func TestUDPSocketLingers(t *testing.T) {
	srv := zeroServer(t)
	c := &Client{Servers: []string{srv}, Timeout: 30 * time.Second}
	c.udp.linger = 50 * time.Millisecond
	for range 3 {
		if _, err := c.Query(context.Background(), "example.org", dns.TypeA); err != nil {
			t.Fatal(err)
		}
	}
	c.udp.mu.Lock()
	s := c.udp.current[srv]
	c.udp.mu.Unlock()
	if s == nil || len(s.used) != 3 {
		t.Fatalf("socket after 3 questions: %+v, want one that served all 3", s)
	}
	for bound := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		c.udp.mu.Lock()
		current := c.udp.current[srv]
		c.udp.mu.Unlock()
		if closed && current == nil {
			return
		}
		if time.Now().After(bound) {
			t.Fatal("the idle socket never closed")
		}
	}
}

// zeroServer answers every question with an empty NOERROR reply.
func zeroServer(t *testing.T) string {
	srv := &dns.Server{Addr: "127.0.0.1:0", Net: "udp", Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.RecursionAvailable = true
		w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ListenAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return srv.PacketConn.LocalAddr().String()
}

func TestUDPBatchSize(t *testing.T) {
	var x udpMux
	small := x.batch(512)
	x.batches.Put(&small)
	for _, size := range []int{1232, 512} {
		b := x.batch(size)
		if len(b) != readBatch || len(b[0].Buffers[0]) != size+1 {
			t.Errorf("batch(%d): %d messages of %d octets, want %d of %d", size, len(b), len(b[0].Buffers[0]), readBatch, size+1)
		}
	}
}
