package resolve_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/resolve"
)

// batchServer collects questions over UDP and, each time it holds batch
// of them, answers them in reverse order of arrival, each with an A
// record naming the question's index (q<i>.example. → 10.0.i/256.i%256).
// It records the IDs seen per source port.
type batchServer struct {
	mu    sync.Mutex
	ids   map[int][]uint16 // source port → IDs in arrival order
	addr  string
	batch int
}

func startBatchServer(t *testing.T, batch int) *batchServer {
	pc := listenUDP(t)
	s := &batchServer{ids: map[int][]uint16{}, addr: pc.LocalAddr().String(), batch: batch}
	go s.serve(pc)
	return s
}

func (s *batchServer) serve(pc net.PacketConn) {
	type held struct {
		q    *dns.Msg
		addr net.Addr
	}
	var queue []held
	eachQuery(pc, func(q *dns.Msg, addr net.Addr) {
		s.mu.Lock()
		port := addr.(*net.UDPAddr).Port
		s.ids[port] = append(s.ids[port], q.Id)
		s.mu.Unlock()
		queue = append(queue, held{q, addr})
		if len(queue) < s.batch {
			return
		}
		for i := len(queue) - 1; i >= 0; i-- {
			b, _ := indexAnswer(queue[i].q).Pack()
			pc.WriteTo(b, queue[i].addr)
		}
		queue = queue[:0]
	})
}

// indexAnswer answers q<i>.example. with 10.0.i/256.i%256.
func indexAnswer(q *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(q)
	m.RecursionAvailable = true
	var i int
	fmt.Sscanf(q.Question[0].Name, "q%d.", &i)
	m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
		A: net.IPv4(10, 0, byte(i/256), byte(i%256))}}
	return m
}

// TestUDPSharedSockets: questions in flight together share sockets; each
// reply reaches the question it answers though replies come in reverse
// order; no ID repeats on a socket, and a socket carries at most 100
// questions (RFC 5452 §9.2: the source port keeps changing).
func TestUDPSharedSockets(t *testing.T) {
	const n = 400
	srv := startBatchServer(t, 50)
	c := &resolve.Client{Servers: []string{srv.addr}, Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("q%d.example", i)
			a, err := c.Query(context.Background(), name, dns.TypeA)
			if err != nil {
				errs <- err
				return
			}
			want := net.IPv4(10, 0, byte(i/256), byte(i%256))
			if got := a.Of(dns.TypeA); len(got) != 1 || !got[0].(*dns.A).A.Equal(want) {
				errs <- fmt.Errorf("%s got %v, want %v", name, got, want)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	total := 0
	for port, ids := range srv.ids {
		total += len(ids)
		if len(ids) > 100 {
			t.Errorf("port %d carried %d questions, want at most 100", port, len(ids))
		}
		seen := map[uint16]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Errorf("port %d: ID %d used twice", port, id)
			}
			seen[id] = true
		}
	}
	if total != n || len(srv.ids) < n/100 || len(srv.ids) > n/100+2 {
		t.Errorf("%d questions over %d source ports, want %d over %d", total, len(srv.ids), n, n/100)
	}
}

// TestUDPRefused: a server port that answers with ICMP unreachable ends
// the question with a network error at once, not a timeout.
func TestUDPRefused(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	c := &resolve.Client{Servers: []string{addr}, Timeout: time.Minute}
	_, err = c.Query(context.Background(), "example.org", dns.TypeA)
	if !errors.Is(err, resolve.ErrNetwork) || errors.Is(err, resolve.ErrTimeout) {
		t.Errorf("closed port: %v, want a network error", err)
	}
}
