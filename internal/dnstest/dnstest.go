// Package dnstest runs an in-process DNS server on 127.0.0.1 (UDP and TCP,
// one ephemeral port) that answers from zone files as a recursive resolver
// would (RA set), for hermetic tests driven through the real resolver and
// the real CLI.
//
// Tests can make chosen names misbehave, from the merely unavailable
// (never answer, SERVFAIL, REFUSED, answer late) to the hostile (wrong ID,
// another question, an echo, stalled or trickled TCP, 65 KB answers,
// compression loops, CNAME loops, foreign records, referrals, control
// bytes in data; see Behavior), and read how many times each question
// reached the server.
package dnstest

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/resolve"
)

// Server is a running test DNS server.
type Server struct {
	Addr  string // "127.0.0.1:PORT", for UDP and TCP
	Zones *resolve.Zones

	pc   net.PacketConn
	ln   net.Listener
	done chan struct{} // closed when the test ends
	wg   sync.WaitGroup

	mu        sync.Mutex
	conns     map[net.Conn]bool
	delay     time.Duration   // how long Slow names wait before answering
	trickle   time.Duration   // the pause between octets of a Trickle answer
	ad        bool            // set the AD bit on answers
	noRA      bool            // clear the RA bit: an authoritative-only server
	counts    map[string]int  // "name TYPE proto"
	failed    map[string]bool // keys of counts the server did not answer with data
	behaviors map[string]Behavior
	world     *World        // signed zones served instead of Zones (StartWorld)
	responder Responder     // answers instead of Zones when set (SetResponder)
	perAnswer time.Duration // added before every answer (SetAnswerDelay)
	total     int
	inflight  int // questions being answered now
	peak      int // the most answered at once
}

// Start serves the zone files (BIND format; origins from $ORIGIN or SOA)
// until the test ends.
func Start(t testing.TB, zoneFiles ...string) *Server {
	t.Helper()
	var zones []*resolve.Zone
	for _, f := range zoneFiles {
		z, err := resolve.LoadZoneFile(f, "")
		if err != nil {
			t.Fatalf("dnstest: %v", err)
		}
		zones = append(zones, z)
	}
	return StartZones(t, zones...)
}

// Zone parses zone text for origin, failing the test on error.
func Zone(t testing.TB, origin, text string) *resolve.Zone {
	t.Helper()
	z, err := resolve.ParseZone(strings.NewReader(text), "inline:"+origin, origin)
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	return z
}

// StartZones serves already parsed zones until the test ends.
func StartZones(t testing.TB, zones ...*resolve.Zone) *Server {
	t.Helper()
	s, err := Serve(zones...)
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	t.Cleanup(s.close)
	return s
}

// Serve starts a server outside a test (a benchmark driver's child
// process): the caller stops it with Close.
func Serve(zones ...*resolve.Zone) (*Server, error) {
	s := &Server{
		Zones:     &resolve.Zones{List: zones},
		done:      make(chan struct{}),
		conns:     map[net.Conn]bool{},
		delay:     3 * time.Second,
		trickle:   500 * time.Millisecond,
		counts:    map[string]int{},
		failed:    map[string]bool{},
		behaviors: map[string]Behavior{},
	}
	if err := s.listen(); err != nil {
		return nil, err
	}
	s.Addr = s.pc.LocalAddr().String()
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	return s, nil
}

// UDPConn returns the server's UDP socket (a benchmark driver tunes its
// buffers).
func (s *Server) UDPConn() *net.UDPConn { return s.pc.(*net.UDPConn) }

// Close stops a server started with Serve.
func (s *Server) Close() { s.close() }

// listen opens the same port for UDP and TCP: an ephemeral UDP port may
// be taken for TCP, so it tries a few.
func (s *Server) listen() error {
	for attempt := 0; ; attempt++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			s.pc, s.ln = pc, l
			return nil
		}
		pc.Close()
		if attempt == 20 {
			return fmt.Errorf("tcp port %d: %v", port, err)
		}
	}
}

func (s *Server) close() {
	close(s.done)
	s.pc.Close()
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, addr, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		pkt := append([]byte(nil), buf[:n]...)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.answer(pkt, "udp", func(b []byte, _ time.Duration) { s.pc.WriteTo(b, addr) })
		}()
	}
}

func (s *Server) serveTCP() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serveConn(c)
	}
}

// serveConn answers the queries of one TCP connection in turn.
func (s *Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	for {
		var hdr [2]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		pkt := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(c, pkt); err != nil {
			return
		}
		s.answer(pkt, "tcp", func(b []byte, pace time.Duration) { s.writeTCP(c, b, pace) })
	}
}

// writeTCP sends b with its length prefix, all at once or one octet per
// pace.
func (s *Server) writeTCP(c net.Conn, b []byte, pace time.Duration) {
	out := make([]byte, 2+len(b))
	binary.BigEndian.PutUint16(out, uint16(len(b)))
	copy(out[2:], b)
	if pace <= 0 {
		c.Write(out)
		return
	}
	for i := range out {
		if _, err := c.Write(out[i : i+1]); err != nil || !s.sleep(pace) {
			return
		}
	}
}

// sleep waits d, or less when the test ends; it reports whether the
// server is still running.
func (s *Server) sleep(d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-s.done:
		return false
	}
}

// Set makes name (any type) behave as b.
func (s *Server) Set(name string, b Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.behaviors[resolve.Canonical(name)] = b
}

// SetType makes questions for name of type qtype behave as b; it takes
// precedence over Set for that type.
func (s *Server) SetType(name string, qtype uint16, b Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.behaviors[resolve.Canonical(name)+" "+dns.TypeToString[qtype]] = b
}

// SetBelow makes name and every name below it (any type) behave as b,
// unless Set or SetType says otherwise for a name.
func (s *Server) SetBelow(name string, b Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.behaviors["*."+resolve.Canonical(name)] = b
}

// behavior returns how the question is treated. Called with mu held.
func (s *Server) behavior(name string, qtype uint16) Behavior {
	if b, ok := s.behaviors[name+" "+dns.TypeToString[qtype]]; ok {
		return b
	}
	if b, ok := s.behaviors[name]; ok {
		return b
	}
	for n := name; ; {
		if b, ok := s.behaviors["*."+n]; ok {
			return b
		}
		if n == "." {
			return Normal
		}
		if i, end := dns.NextLabel(n, 0); end {
			n = "."
		} else {
			n = n[i:]
		}
	}
}

// SetDelay sets how long Slow names wait before answering (default 3s).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Responder answers questions as an authoritative zone does (the
// signature of resolve.Zone's Exchange): a generated world too large to
// hold as zone records answers this way.
type Responder interface {
	Exchange(name string, qtype uint16) (rcode int, records []dns.RR)
}

// SetResponder makes r answer every question instead of the zones.
func (s *Server) SetResponder(r Responder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.responder = r
}

// SetAnswerDelay adds d before every answer, as the round trip to a
// distant resolver would (0: none, the default).
func (s *Server) SetAnswerDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perAnswer = d
}

// Distinct returns how many distinct questions (name, type, transport)
// reached the server.
func (s *Server) Distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.counts)
}

// SetTrickle sets the pause between the octets of a Trickle answer
// (default 500ms).
func (s *Server) SetTrickle(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trickle = d
}

// SetRecursion sets whether answers carry RA=1 (the default: the server
// poses as a recursive resolver) or RA=0, as an authoritative-only server's
// do.
func (s *Server) SetRecursion(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noRA = !on
}

// SetAD makes the server set the Authenticated Data bit on answers, as a
// validating resolver would.
func (s *Server) SetAD(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ad = on
}

// Count returns how many times the question reached the server (any
// transport).
func (s *Server) Count(name string, qtype uint16) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := resolve.Canonical(name) + " " + dns.TypeToString[qtype]
	return s.counts[k+" udp"] + s.counts[k+" tcp"]
}

// CountProto returns how many times the question arrived over proto.
func (s *Server) CountProto(name string, qtype uint16, proto string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[resolve.Canonical(name)+" "+dns.TypeToString[qtype]+" "+proto]
}

// Total returns how many queries arrived.
func (s *Server) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// Peak returns the most questions the server was answering at once.
func (s *Server) Peak() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// Duplicates lists the questions that arrived more than once on the same
// transport. A UDP query retried over TCP after truncation is not a
// duplicate, nor is the second arrival of a question the server failed
// (dropped, SERVFAIL, REFUSED or any hostile behaviour): resolve.Cache
// retries a transient failure once by design.
func (s *Server) Duplicates() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k, n := range s.counts {
		if n > 2 || n == 2 && !s.failed[k] {
			out = append(out, fmt.Sprintf("%s x%d", k, n))
		}
	}
	return out
}

// Resolver returns a network client pointed at the server, with a short
// timeout and no retries (tests of hostile servers stay fast).
func (s *Server) Resolver(timeout time.Duration) *resolve.Client {
	return &resolve.Client{Servers: []string{s.Addr}, Timeout: timeout}
}
