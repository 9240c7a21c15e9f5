package resolve

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/time/rate"
)

// MaxCNAMEChain is how many aliases a lookup follows before it gives up.
const MaxCNAMEChain = 8

// TraceEvent describes one question sent to a server (or answered from a
// zone file); cache hits produce no event.
type TraceEvent struct {
	Name   string
	Qtype  uint16
	Server string
	Proto  string // "udp", "tcp" or "zone"
	Rcode  int    // -1 when no response arrived
	RTT    time.Duration
	Err    error
}

func (e TraceEvent) String() string {
	rc := "-"
	if e.Rcode >= 0 {
		rc = dns.RcodeToString[e.Rcode]
	}
	s := fmt.Sprintf("dns: %-5s %s @%s/%s %s %s", dns.TypeToString[e.Qtype], e.Name, e.Server, e.Proto, rc, e.RTT.Round(time.Microsecond))
	if e.Err != nil {
		s += " error: " + e.Err.Error()
	}
	return s
}

// Client queries recursive resolvers over the network: EDNS0, retry over
// TCP on truncation, failover across Servers, one timeout per attempt
// under the caller's context, and CNAME chains followed.
//
// It takes from the wire only an answer to the question it asked: a UDP
// datagram that is not one (wrong ID, an echo of the query, another
// question, unparseable) is ignored and the client keeps listening until
// the attempt's deadline, so one spoofed or broken packet cannot end the
// exchange; a reply larger than the advertised EDNS size is not read but
// asked again over TCP. Records not owned by the question name or its
// CNAME chain, or not of class IN, are dropped.
type Client struct {
	Servers []string      // "host:port"
	Timeout time.Duration // per attempt; default 2s
	Retries int           // extra rounds over all servers after the first; 0: none
	UDPSize uint16        // EDNS0 buffer size, and the largest UDP reply read; default 1232
	// MaxInFlight is the ceiling of the bound on questions on the wire
	// at once across every caller of this client (a bulk audit must not
	// flood its resolver and lose answers to full socket buffers); default
	// MaxInFlightDefault (1024). The bound itself adapts (inflightLimit):
	// it starts at StartInFlight (128, or the ceiling when lower), grows
	// with answers and halves on each timeout.
	MaxInFlight int
	// QPS, when positive, limits the questions sent to each server to
	// that many per second (a burst of a tenth of a second's worth), to
	// be a good citizen towards a public resolver.
	QPS   float64
	Trace func(TraceEvent)
	// Warn, when set, is called once per server and Client with a warning
	// about the server itself (it does not offer recursion: RA=0). The
	// same warnings are kept for Warnings.
	Warn func(string)

	limOnce sync.Once
	lim     *inflightLimit

	rateMu sync.Mutex
	rates  map[string]*rate.Limiter

	udp udpMux // the UDP sockets per server (udpmux.go)

	warnMu   sync.Mutex
	warned   map[string]bool
	warnings []string
}

var _ Resolver = (*Client)(nil)

// Warnings returns the warnings about the servers seen so far, in order,
// one per server at most.
func (c *Client) Warnings() []string {
	c.warnMu.Lock()
	defer c.warnMu.Unlock()
	return append([]string(nil), c.warnings...)
}

func (c *Client) warnOnce(srv, msg string) {
	c.warnMu.Lock()
	if c.warned[srv] {
		c.warnMu.Unlock()
		return
	}
	if c.warned == nil {
		c.warned = map[string]bool{}
	}
	c.warned[srv] = true
	c.warnings = append(c.warnings, msg)
	c.warnMu.Unlock()
	if c.Warn != nil {
		c.Warn(msg)
	}
}

// SystemServers reads the nameservers of /etc/resolv.conf (or path).
func SystemServers(path string) ([]string, error) {
	if path == "" {
		path = "/etc/resolv.conf"
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "nameserver" {
			out = append(out, net.JoinHostPort(strings.SplitN(fields[1], "%", 2)[0], "53"))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s lists no nameserver", path)
	}
	return out, sc.Err()
}

// NormalizeServer turns "192.0.2.53", "[2001:db8::1]:5353" or
// "ns.example:53" into host:port form, port 53 by default.
func NormalizeServer(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty resolver address")
	}
	if _, _, err := net.SplitHostPort(s); err == nil {
		return s, nil
	}
	h := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if strings.ContainsAny(h, "[]") {
		return "", fmt.Errorf("bad resolver address %q", s)
	}
	return net.JoinHostPort(h, "53"), nil
}

// Query implements Resolver. name is in presentation form (see
// EscapeName for raw octets).
func (c *Client) Query(ctx context.Context, name string, qtype uint16) (*Answer, error) {
	return followChain(ctx, Canonical(name), qtype, c.exchange)
}

// followChain asks one question with ex and, when the answer ends on an
// alias whose target's records are missing, asks for the target, until the
// chain ends, loops, or grows beyond MaxCNAMEChain.
func followChain(ctx context.Context, name string, qtype uint16,
	ex func(context.Context, string, uint16) (*Answer, error)) (*Answer, error) {
	ans, err := ex(ctx, name, qtype)
	if err != nil {
		return nil, err
	}
	asked := map[string]bool{name: true}
	for qtype != dns.TypeCNAME {
		names, loop := chainNames(name, ans.Records)
		if loop || len(names) > MaxCNAMEChain+1 {
			kind := ErrLongChain
			if loop {
				kind = ErrLoop
			}
			return nil, &QueryError{Name: name, Qtype: qtype, Server: ans.Server, Kind: kind,
				Detail: "chain " + strings.Join(names, " -> ")}
		}
		target := names[len(names)-1]
		if asked[target] || len(ansOfName(ans.Records, target, qtype)) > 0 || ans.Rcode != dns.RcodeSuccess {
			break
		}
		asked[target] = true
		next, err := ex(ctx, target, qtype)
		if err != nil {
			return nil, err
		}
		ans.Records = append(ans.Records, next.Records...)
		ans.Rcode = next.Rcode
		ans.Authentic = ans.Authentic && next.Authentic
		ans.RTT += next.RTT
	}
	return ans, nil
}

// exchange asks the servers one question, without following CNAMEs.
func (c *Client) exchange(ctx context.Context, name string, qtype uint16) (*Answer, error) {
	return c.exchangeMode(ctx, name, qtype, queryMode{})
}

// exchangeMode asks the servers one question in mode (DO, CD), without
// following CNAMEs.
func (c *Client) exchangeMode(ctx context.Context, name string, qtype uint16, mode queryMode) (*Answer, error) {
	if len(c.Servers) == 0 {
		return nil, &QueryError{Name: name, Qtype: qtype, Kind: ErrNoServer}
	}
	// Not SetQuestion: its random ID costs a read of the system's
	// random source, and the ID is chosen per attempt anyway (udpMux,
	// roundTrip).
	m := &dns.Msg{Question: []dns.Question{{Name: name, Qtype: qtype, Qclass: dns.ClassINET}}}
	m.Opcode = dns.OpcodeQuery
	m.RecursionDesired = true
	m.AuthenticatedData = true // RFC 6840 §5.7: ask for the AD bit
	m.SetEdns0(c.udpSize(), mode.dnssec)
	m.CheckingDisabled = mode.cd
	if _, err := m.Pack(); err != nil {
		return nil, &QueryError{Name: name, Qtype: qtype, Kind: ErrBadName, Detail: err.Error()}
	}
	var last error
	for round := 0; round <= max(c.Retries, 0); round++ {
		for _, srv := range c.Servers {
			if err := ContextError(ctx, name, qtype); err != nil {
				return nil, err
			}
			resp, err := c.ask(ctx, m, srv)
			if err == nil {
				var ans *Answer
				if ans, err = c.answer(m, resp, srv); err == nil {
					return withDNSSEC(ans, resp, mode), nil
				}
			}
			if endedByCaller(err) {
				return nil, err
			}
			last = errWithEDE(err, resp, mode)
		}
	}
	return nil, last
}

// answer turns a reply that matches the question into an Answer, or into
// the error its rcode or shape means.
func (c *Client) answer(m, resp *dns.Msg, srv string) (*Answer, error) {
	q := m.Question[0]
	if !resp.RecursionAvailable {
		c.warnOnce(srv, fmt.Sprintf("DNS server %s does not offer recursion (RA=0): it is not a recursive resolver, and names outside its own zones cannot be resolved through it", srv))
	}
	fail := func(kind error, detail string) error {
		return &QueryError{Name: q.Name, Qtype: q.Qtype, Server: srv, Kind: kind, Detail: detail}
	}
	switch resp.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	case dns.RcodeServerFailure:
		return nil, fail(ErrServFail, "")
	case dns.RcodeRefused:
		return nil, fail(ErrRefused, "")
	default:
		return nil, fail(ErrRcode, dns.RcodeToString[resp.Rcode])
	}
	if isReferral(resp) {
		return nil, fail(ErrNotRecursive, "the server answered with a referral to other name servers, not with an answer")
	}
	return &Answer{Name: q.Name, Qtype: q.Qtype, Rcode: resp.Rcode, Records: ownRecords(q.Name, q.Qtype, resp.Answer),
		Authentic: resp.AuthenticatedData, Server: srv}, nil
}

// withDNSSEC adds to ans, for a DNSSEC question, the reply's authority
// section and Extended DNS Errors.
func withDNSSEC(ans *Answer, resp *dns.Msg, mode queryMode) *Answer {
	if mode.dnssec {
		ans.Authority = classIN(resp.Ns)
		ans.EDE = extendedErrors(resp)
		ans.CheckingDisabled = mode.cd
	}
	return ans
}

// errWithEDE adds to a failure of a DNSSEC question the Extended DNS
// Errors of the reply that caused it.
func errWithEDE(err error, resp *dns.Msg, mode queryMode) error {
	var qe *QueryError
	if mode.dnssec && resp != nil && errors.As(err, &qe) {
		qe.EDE = extendedErrors(resp)
	}
	return err
}

// isReferral reports a NOERROR reply with no answer whose authority
// section delegates (NS records) rather than denies (SOA).
func isReferral(resp *dns.Msg) bool {
	if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) > 0 || resp.Authoritative {
		return false
	}
	ns := false
	for _, rr := range resp.Ns {
		switch rr.Header().Rrtype {
		case dns.TypeSOA:
			return false
		case dns.TypeNS:
			ns = true
		}
	}
	return ns
}

// ownRecords keeps the records of class IN owned by name or by a name of
// the CNAME chain that starts at name, with owners in canonical form.
// Anything else a server appended (out-of-bailiwick records) is dropped.
func ownRecords(name string, qtype uint16, rrs []dns.RR) []dns.RR {
	var in []dns.RR
	for _, rr := range rrs {
		if h := rr.Header(); h.Class == dns.ClassINET {
			h.Name = Canonical(h.Name)
			in = append(in, rr)
		}
	}
	names, _ := chainNames(name, in)
	own := make(map[string]bool, len(names))
	for _, n := range names {
		own[n] = true
	}
	out := in[:0]
	for _, rr := range in {
		if own[rr.Header().Name] {
			out = append(out, rr)
		}
	}
	return out
}

func (c *Client) udpSize() uint16 {
	if c.UDPSize == 0 {
		return 1232
	}
	return max(c.UDPSize, dns.MinMsgSize)
}

func (c *Client) timeout() time.Duration {
	if c.Timeout <= 0 {
		return 2 * time.Second
	}
	return c.Timeout
}

// ask sends m to srv over UDP, then over TCP when the reply is truncated
// (or larger than advertised), within the server's rate and the bound on
// questions in flight, which learns from how the exchange ended.
func (c *Client) ask(ctx context.Context, m *dns.Msg, srv string) (*dns.Msg, error) {
	q := m.Question[0]
	if err := c.pace(ctx, srv); err != nil {
		if cerr := ContextError(ctx, q.Name, q.Qtype); cerr != nil {
			return nil, cerr
		}
		return nil, &QueryError{Name: q.Name, Qtype: q.Qtype, Server: srv, Kind: ErrTimeout,
			Detail: fmt.Sprintf("the rate limit of %g questions per second leaves no time before the deadline", c.QPS)}
	}
	lim := c.limit()
	if err := lim.acquire(ctx); err != nil {
		return nil, ContextError(ctx, q.Name, q.Qtype)
	}
	resp, err := c.attempt(ctx, m, srv, "udp")
	if err == nil && resp.Truncated {
		resp, err = c.attempt(ctx, m, srv, "tcp")
	}
	lim.release(outcomeOf(err))
	return resp, err
}

// outcomeOf classifies an exchange for the in-flight bound: a reply, a
// timeout, or neither (a caller's cancellation, a network error).
func outcomeOf(err error) outcome {
	switch {
	case err == nil:
		return outcomeAnswer
	case endedByCaller(err):
		return outcomeNone
	case errors.Is(err, ErrTimeout):
		return outcomeTimeout
	}
	return outcomeNone
}

// limit returns the client's bound on questions in flight.
func (c *Client) limit() *inflightLimit {
	c.limOnce.Do(func() {
		ceil := c.MaxInFlight
		if ceil <= 0 {
			ceil = MaxInFlightDefault
		}
		c.lim = newInflightLimit(StartInFlight, MinInFlight, ceil)
	})
	return c.lim
}

// InFlightLimit returns the bound on questions in flight as it stands.
func (c *Client) InFlightLimit() int { return c.limit().current() }

// pace waits for srv's rate limit (QPS), if any.
func (c *Client) pace(ctx context.Context, srv string) error {
	if c.QPS <= 0 {
		return nil
	}
	c.rateMu.Lock()
	l, ok := c.rates[srv]
	if !ok {
		if c.rates == nil {
			c.rates = map[string]*rate.Limiter{}
		}
		l = rate.NewLimiter(rate.Limit(c.QPS), max(1, int(c.QPS/10)))
		c.rates[srv] = l
	}
	c.rateMu.Unlock()
	return l.Wait(ctx)
}

// attempt is one exchange with srv over proto, bounded by the client's
// timeout and by ctx.
func (c *Client) attempt(ctx context.Context, m *dns.Msg, srv, proto string) (*dns.Msg, error) {
	q := m.Question[0]
	timeout := c.timeout()
	deadline := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	start := time.Now()
	resp, ignored, err := c.roundTrip(ctx, m, srv, proto, deadline)
	rtt := time.Since(start)
	if err != nil {
		err = c.attemptError(ctx, q, srv, proto, timeout, ignored, err)
		c.trace(TraceEvent{Name: q.Name, Qtype: q.Qtype, Server: srv, Proto: proto, Rcode: -1, RTT: rtt, Err: err})
		return nil, err
	}
	c.trace(TraceEvent{Name: q.Name, Qtype: q.Qtype, Server: srv, Proto: proto, Rcode: resp.Rcode, RTT: rtt})
	return resp, nil
}

// attemptError names what ended an attempt: the caller's context, the
// attempt's own timeout (with what was ignored meanwhile), a reply that
// is not an answer, or the network.
func (c *Client) attemptError(ctx context.Context, q dns.Question, srv, proto string, timeout time.Duration, ignored ignoredReplies, err error) error {
	if cerr := ContextError(ctx, q.Name, q.Qtype); cerr != nil {
		return cerr
	}
	var bad *badReply
	if errors.As(err, &bad) {
		return &QueryError{Name: q.Name, Qtype: q.Qtype, Server: srv, Kind: ErrBadReply, Detail: bad.why + " (over " + proto + ")"}
	}
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		detail := fmt.Sprintf("no answer within %s", timeout)
		if proto == "tcp" {
			detail += " over TCP"
		}
		if ignored.n > 0 {
			return &QueryError{Name: q.Name, Qtype: q.Qtype, Server: srv, Kind: ErrBadReply,
				Detail: fmt.Sprintf("%s; ignored %d reply datagram(s) that did not answer the question, the last: %s", detail, ignored.n, ignored.last)}
		}
		return &QueryError{Name: q.Name, Qtype: q.Qtype, Server: srv, Kind: ErrTimeout, Detail: detail}
	}
	return &QueryError{Name: q.Name, Qtype: q.Qtype, Server: srv, Kind: ErrNetwork, Detail: err.Error()}
}

func (c *Client) trace(e TraceEvent) {
	if c.Trace != nil {
		c.Trace(e)
	}
}

// chainNames follows the CNAME records of rrs from name and returns the
// names of the chain, name first. loop reports a name seen twice (the
// repeated name is the last element).
func chainNames(name string, rrs []dns.RR) (names []string, loop bool) {
	names = []string{name}
	cur := name
	for {
		next := ""
		for _, rr := range rrs {
			if c, ok := rr.(*dns.CNAME); ok && Canonical(c.Hdr.Name) == cur {
				next = Canonical(c.Target)
				break
			}
		}
		if next == "" {
			return names, false
		}
		loop := slices.Contains(names, next) // chains are short: no map
		names = append(names, next)
		if loop {
			return names, true
		}
		cur = next
	}
}

func ansOfName(rrs []dns.RR, name string, qtype uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == qtype && Canonical(rr.Header().Name) == name {
			out = append(out, rr)
		}
	}
	return out
}

// expired reports whether ctx is done or its deadline has passed (a
// socket deadline taken from ctx can fire before ctx's own timer does).
func expired(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}
