package resolve

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// UDP transport (Client): questions to one server share a connected UDP
// socket, and one reader per socket takes the replies in batches
// (recvmmsg) and hands each to the question it answers, matched by ID
// and question (mismatch). A socket per question, or a socket per
// question in flight taken from a pool, costs a read that finds nothing
// and a wake-up per question: most of a bulk run's system time
// (bench-scale: 47,755 reads for 37,213 questions before).
//
// Each socket serves at most maxSocketUses questions and then retires
// (it is closed once its last question ends), so the source port
// changes often (RFC 5452 §9.2: port randomization against spoofed
// answers); IDs are random and never reused on a socket. A socket left
// without questions closes after socketLinger.
const (
	maxSocketUses = 100
	readBatch     = 32 // datagrams per recvmmsg
	socketRecvBuf = 1 << 20
)

// socketLinger is how long a socket without questions stays open
// (udpMux.linger, when set, instead: tests).
const socketLinger = 2 * time.Second

// udpMux holds, per server, the socket taking new questions.
type udpMux struct {
	mu      sync.Mutex
	current map[string]*muxSocket
	linger  time.Duration // 0: socketLinger
	batches sync.Pool     // read batches of ended sockets (*[]ipv4.Message)
}

// muxSocket is one connected UDP socket and the questions waiting on it.
type muxSocket struct {
	conn *net.UDPConn
	mux  *udpMux
	srv  string
	size int // the largest reply read; larger ones count as truncated

	mu      sync.Mutex
	pending map[uint16]*muxWaiter
	used    map[uint16]bool // every ID sent on this socket
	ids     *rand.ChaCha8   // draws the IDs (under mu)
	retired bool            // takes no new questions
	closed  bool
}

// muxWaiter is one question waiting for its reply.
type muxWaiter struct {
	m    *dns.Msg
	done chan muxResult // buffered: the reader never blocks
	ign  ignoredReplies // datagrams set aside while it waited
}

// muxResult is how a question's wait ended on the reader's side.
type muxResult struct {
	resp *dns.Msg
	err  error
}

// exchange sends m to srv and waits for its reply until deadline or the
// end of ctx. m's ID is chosen here (unique on the socket).
func (x *udpMux) exchange(ctx context.Context, srv string, m *dns.Msg, size int, deadline time.Time) (*dns.Msg, ignoredReplies, error) {
	s, w, err := x.enlist(ctx, srv, m, size, deadline)
	if err != nil {
		return nil, ignoredReplies{}, err
	}
	wire, err := m.Pack()
	if err == nil {
		_, err = s.conn.Write(wire)
	}
	if err != nil {
		return nil, s.leave(w), err
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case r := <-w.done:
		return r.resp, w.ign, r.err
	case <-timer.C:
		err = os.ErrDeadlineExceeded
	case <-ctx.Done():
		err = ctx.Err()
	}
	// The reader may have answered meanwhile: take that answer.
	ign := s.leave(w)
	select {
	case r := <-w.done:
		return r.resp, w.ign, r.err
	default:
	}
	return nil, ign, err
}

// enlist registers m (with a fresh ID) on srv's current socket, opening
// one when there is none or it is spent.
func (x *udpMux) enlist(ctx context.Context, srv string, m *dns.Msg, size int, deadline time.Time) (*muxSocket, *muxWaiter, error) {
	w := &muxWaiter{m: m, done: make(chan muxResult, 1)}
	for {
		s, err := x.socket(ctx, srv, size, deadline)
		if err != nil {
			return nil, nil, err
		}
		if s.add(w) {
			return s, w, nil
		}
	}
}

// socket returns srv's current socket, dialling a new one when needed.
// (The reply size is the client's, the same for every socket.) It never
// holds x.mu while taking a socket's lock: a socket's reader takes them
// the other way round (stop, retire → forget).
func (x *udpMux) socket(ctx context.Context, srv string, size int, deadline time.Time) (*muxSocket, error) {
	x.mu.Lock()
	s := x.current[srv]
	x.mu.Unlock()
	if s != nil {
		return s, nil
	}
	s, err := dialMux(ctx, srv, size, deadline)
	if err != nil {
		return nil, err
	}
	s.mux = x
	x.mu.Lock()
	defer x.mu.Unlock()
	if old := x.current[srv]; old != nil {
		s.conn.Close() // another question opened one meanwhile
		return old, nil
	}
	if x.current == nil {
		x.current = map[string]*muxSocket{}
	}
	x.current[srv] = s
	go s.read()
	return s, nil
}

// dialMux opens a connected UDP socket to srv by deadline.
func dialMux(ctx context.Context, srv string, size int, deadline time.Time) (*muxSocket, error) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", srv)
	if err != nil {
		return nil, err
	}
	uc := conn.(*net.UDPConn)
	uc.SetReadBuffer(socketRecvBuf) // best effort: capped by the system
	return &muxSocket{conn: uc, srv: srv, size: size, ids: newIDSource(),
		pending: map[uint16]*muxWaiter{}, used: map[uint16]bool{}}, nil
}

// newIDSource returns a ChaCha8 generator seeded from the system's random
// source: unpredictable IDs (RFC 5452 §9.2) without a system call for
// each question, as dns.Id makes.
func newIDSource() *rand.ChaCha8 {
	var seed [32]byte
	crand.Read(seed[:]) // never fails (crypto/rand, Go 1.24)
	return rand.NewChaCha8(seed)
}

// add registers w with an ID not used on s before; false when s takes
// no more questions.
func (s *muxSocket) add(w *muxWaiter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.retired || s.closed {
		return false
	}
	id := uint16(s.ids.Uint64())
	for s.used[id] {
		id = uint16(s.ids.Uint64())
	}
	w.m.Id = id
	s.used[id] = true
	if len(s.pending) == 0 {
		s.conn.SetReadDeadline(time.Time{})
	}
	s.pending[id] = w
	if len(s.used) >= maxSocketUses {
		s.retireLocked()
	}
	return true
}

// leave removes w (its question ended without a reply) and returns what
// it ignored meanwhile.
func (s *muxSocket) leave(w *muxWaiter) ignoredReplies {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending[w.m.Id] == w {
		delete(s.pending, w.m.Id)
		s.idleLocked()
	}
	return w.ign
}

// retireLocked stops s from taking new questions. Called with s.mu held.
func (s *muxSocket) retireLocked() {
	if s.retired {
		return
	}
	s.retired = true
	s.mux.forget(s)
	s.idleLocked()
}

// idleLocked arms the end of s once no question waits on it: at once
// when retired, after socketLinger otherwise (the reader closes it).
func (s *muxSocket) idleLocked() {
	if len(s.pending) > 0 || s.closed {
		return
	}
	if s.retired {
		s.conn.SetReadDeadline(time.Unix(1, 0))
		return
	}
	linger := s.mux.linger
	if linger <= 0 {
		linger = socketLinger
	}
	s.conn.SetReadDeadline(time.Now().Add(linger))
}

// forget drops s as srv's current socket.
func (x *udpMux) forget(s *muxSocket) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.current[s.srv] == s {
		delete(x.current, s.srv)
	}
}

// read takes replies in batches until the socket ends: it closes when
// it is idle past its deadline, and on a read error (an ICMP
// unreachable: ECONNREFUSED) every waiting question gets the error.
func (s *muxSocket) read() {
	batch := s.mux.batch(s.size)
	defer s.mux.batches.Put(&batch) // Unpack copies what it keeps
	rd := batchReader(s.conn)
	for {
		n, err := rd.ReadBatch(batch, 0)
		for i := range n {
			s.deliver(batch[i].Buffers[0][:batch[i].N])
		}
		if err != nil && s.stop(err) {
			return
		}
	}
}

// stop handles a read error and reports whether the reader ends.
func (s *muxSocket) stop(err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if errors.Is(err, os.ErrDeadlineExceeded) && len(s.pending) > 0 {
		return false // a question came as the linger ended
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		for id, w := range s.pending {
			w.done <- muxResult{err: err}
			delete(s.pending, id)
		}
	}
	s.closed = true
	s.retired = true
	s.mux.forget(s)
	s.conn.Close()
	return true
}

// deliver hands one datagram to the question it answers; one that
// answers none is counted as ignored by every question waiting.
func (s *muxSocket) deliver(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(b) >= 2 {
		if w := s.pending[binary.BigEndian.Uint16(b)]; w != nil {
			if len(b) > s.size || truncatedHeader(w.m, b) {
				s.finish(w, &dns.Msg{MsgHdr: dns.MsgHdr{Id: w.m.Id, Response: true, Truncated: true}})
				return
			}
		}
	}
	resp := new(dns.Msg)
	perr := resp.Unpack(b)
	if perr == nil {
		if w := s.pending[resp.Id]; w != nil && mismatch(w.m, resp) == "" {
			s.finish(w, resp)
			return
		}
	}
	for _, w := range s.pending {
		w.ign.n++
		if perr != nil {
			w.ign.last = "unparseable: " + perr.Error()
		} else {
			w.ign.last = mismatch(w.m, resp)
		}
	}
}

// finish ends w's wait with resp.
func (s *muxSocket) finish(w *muxWaiter, resp *dns.Msg) {
	delete(s.pending, w.m.Id)
	w.done <- muxResult{resp: resp}
	s.idleLocked()
}

// batchReader reads a connected socket's datagrams with recvmmsg.
func batchReader(c *net.UDPConn) interface {
	ReadBatch([]ipv4.Message, int) (int, error)
} {
	if a, ok := c.RemoteAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		return ipv6.NewPacketConn(c)
	}
	return ipv4.NewPacketConn(c)
}

// batch returns a read batch for replies of size octets, reused from an
// ended socket when one is left.
func (x *udpMux) batch(size int) []ipv4.Message {
	if b, ok := x.batches.Get().(*[]ipv4.Message); ok && len((*b)[0].Buffers[0]) == size+1 {
		return *b
	}
	return newBatch(size)
}

// newBatch allocates readBatch buffers of size+1 octets: a datagram
// that fills one is larger than advertised.
func newBatch(size int) []ipv4.Message {
	ms := make([]ipv4.Message, readBatch)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, size+1)}
	}
	return ms
}
