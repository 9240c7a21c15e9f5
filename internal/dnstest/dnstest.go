// Package dnstest runs an in-process DNS server on 127.0.0.1 (UDP and TCP,
// one ephemeral port) that answers authoritatively from zone files, for
// hermetic tests driven through the real resolver and the real CLI.
//
// Tests can make chosen names misbehave (never answer, SERVFAIL, REFUSED,
// always truncate over UDP, answer late) and read how many times each
// question reached the server.
package dnstest

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/resolve"
)

// Behavior is how the server treats a name.
type Behavior int

const (
	Normal   Behavior = iota
	Drop              // never answer
	ServFail          // answer SERVFAIL
	Refused           // answer REFUSED
	Truncate          // over UDP, answer with TC set and no records
	Slow              // answer after the delay set by SetDelay
)

// Server is a running test DNS server.
type Server struct {
	Addr  string // "127.0.0.1:PORT", for UDP and TCP
	Zones *resolve.Zones

	udp, tcp *dns.Server

	mu        sync.Mutex
	delay     time.Duration  // how long Slow names wait before answering
	ad        bool           // set the AD bit on answers
	counts    map[string]int // "name TYPE proto"
	behaviors map[string]Behavior
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
	s := &Server{
		Zones:     &resolve.Zones{List: zones},
		delay:     3 * time.Second,
		counts:    map[string]int{},
		behaviors: map[string]Behavior{},
	}
	// The same port for UDP and TCP: an ephemeral UDP port may be taken
	// for TCP, so try a few.
	var pc net.PacketConn
	var l net.Listener
	for attempt := 0; ; attempt++ {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("dnstest: %v", err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			break
		}
		pc.Close()
		if attempt == 20 {
			t.Fatalf("dnstest: tcp port %d: %v", port, err)
		}
	}
	s.Addr = pc.LocalAddr().String()
	mux := dns.NewServeMux() // per server, never the global mux
	mux.HandleFunc(".", s.serve)
	var started sync.WaitGroup
	started.Add(2)
	s.udp = &dns.Server{PacketConn: pc, Handler: mux, NotifyStartedFunc: started.Done}
	s.tcp = &dns.Server{Listener: l, Handler: mux, NotifyStartedFunc: started.Done}
	go s.udp.ActivateAndServe()
	go s.tcp.ActivateAndServe()
	started.Wait()
	t.Cleanup(func() {
		s.udp.Shutdown()
		s.tcp.Shutdown()
	})
	return s
}

// Set makes name (any type) behave as b.
func (s *Server) Set(name string, b Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.behaviors[dns.CanonicalName(name)] = b
}

// SetDelay sets how long Slow names wait before answering (default 3s).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
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
	k := dns.CanonicalName(name) + " " + dns.TypeToString[qtype]
	return s.counts[k+" udp"] + s.counts[k+" tcp"]
}

// CountProto returns how many times the question arrived over proto.
func (s *Server) CountProto(name string, qtype uint16, proto string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[dns.CanonicalName(name)+" "+dns.TypeToString[qtype]+" "+proto]
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
// transport (a UDP query retried over TCP after truncation is not a
// duplicate).
func (s *Server) Duplicates() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k, n := range s.counts {
		if n > 1 {
			out = append(out, fmt.Sprintf("%s x%d", k, n))
		}
	}
	return out
}

func (s *Server) serve(w dns.ResponseWriter, r *dns.Msg) {
	if len(r.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	name := dns.CanonicalName(q.Name)
	proto := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		proto = "tcp"
	}
	s.mu.Lock()
	s.counts[name+" "+dns.TypeToString[q.Qtype]+" "+proto]++
	s.total++
	s.inflight++
	s.peak = max(s.peak, s.inflight)
	b := s.behaviors[name]
	delay, ad := s.delay, s.ad
	s.mu.Unlock()
	// The question stops counting as in flight just before its answer is
	// written (or when it is dropped), so a client that sends its next
	// question on receipt is never counted twice.
	var once sync.Once
	finish := func() {
		once.Do(func() {
			s.mu.Lock()
			s.inflight--
			s.mu.Unlock()
		})
	}
	defer finish()
	w = finishingWriter{w, finish}

	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	switch b {
	case Drop:
		return
	case ServFail:
		m.Rcode = dns.RcodeServerFailure
		w.WriteMsg(m)
		return
	case Refused:
		m.Rcode = dns.RcodeRefused
		w.WriteMsg(m)
		return
	case Truncate:
		if proto == "udp" {
			m.Truncated = true
			w.WriteMsg(m)
			return
		}
	case Slow:
		time.Sleep(delay)
	}
	z := s.Zones.Find(name)
	if z == nil {
		m.Authoritative = false
		m.Rcode = dns.RcodeRefused
		w.WriteMsg(m)
		return
	}
	m.Rcode, m.Answer = z.Exchange(name, q.Qtype)
	m.AuthenticatedData = ad
	// Records are shared with the zone: copy before the names are
	// rewritten to the question's case by WriteMsg's compression.
	for i, rr := range m.Answer {
		m.Answer[i] = dns.Copy(rr)
	}
	size := dns.MinMsgSize
	if opt := r.IsEdns0(); opt != nil {
		size = int(opt.UDPSize())
		m.SetEdns0(opt.UDPSize(), false)
	}
	if proto == "udp" {
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

type finishingWriter struct {
	dns.ResponseWriter
	finish func()
}

func (f finishingWriter) WriteMsg(m *dns.Msg) error {
	f.finish()
	return f.ResponseWriter.WriteMsg(m)
}

// Resolver returns a network client pointed at the server, with a short
// timeout and no retries (tests of hostile servers stay fast).
func (s *Server) Resolver(timeout time.Duration) *resolve.Client {
	return &resolve.Client{Servers: []string{s.Addr}, Timeout: timeout}
}
