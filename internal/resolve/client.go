package resolve

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
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

// Client queries recursive resolvers over the network with miekg/dns:
// EDNS0, retry over TCP on truncation, failover across Servers, one timeout
// per attempt under the caller's context, and CNAME chains followed.
type Client struct {
	Servers []string      // "host:port"
	Timeout time.Duration // per attempt; default 2s
	Retries int           // extra rounds over all servers after the first; 0: none
	UDPSize uint16        // EDNS0 buffer size; default 1232
	// MaxInFlight bounds the questions on the wire at once across every
	// caller of this client (a bulk audit must not flood its resolver and
	// lose answers to full socket buffers); default 128.
	MaxInFlight int
	Trace       func(TraceEvent)

	semOnce sync.Once
	sem     chan struct{}
}

var _ Resolver = (*Client)(nil)

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

// Query implements Resolver.
func (c *Client) Query(ctx context.Context, name string, qtype uint16) (*Answer, error) {
	return followChain(ctx, dns.CanonicalName(name), qtype, c.exchange)
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
			return nil, &QueryError{Name: name, Qtype: qtype, Server: ans.Server, Kind: ErrLoop,
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
	if len(c.Servers) == 0 {
		return nil, &QueryError{Name: name, Qtype: qtype, Kind: ErrNoServer}
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	retries := c.Retries
	if retries < 0 {
		retries = 0
	}
	size := c.UDPSize
	if size == 0 {
		size = 1232
	}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = true
	m.AuthenticatedData = true // RFC 6840 §5.7: ask for the AD bit
	m.SetEdns0(size, false)

	var last error
	for round := 0; round <= retries; round++ {
		for _, srv := range c.Servers {
			if expired(ctx) {
				return nil, &QueryError{Name: name, Qtype: qtype, Server: srv, Kind: ErrTimeout, Detail: "audit deadline reached"}
			}
			resp, err := c.attempt(ctx, m, srv, "udp", timeout)
			if err == nil && resp.Truncated {
				resp, err = c.attempt(ctx, m, srv, "tcp", timeout)
			}
			if err != nil {
				last = err
				continue
			}
			switch resp.Rcode {
			case dns.RcodeSuccess, dns.RcodeNameError:
				return &Answer{Name: name, Qtype: qtype, Rcode: resp.Rcode, Records: resp.Answer,
					Authentic: resp.AuthenticatedData, Server: srv}, nil
			case dns.RcodeServerFailure:
				last = &QueryError{Name: name, Qtype: qtype, Server: srv, Kind: ErrServFail}
			case dns.RcodeRefused:
				last = &QueryError{Name: name, Qtype: qtype, Server: srv, Kind: ErrRefused}
			default:
				last = &QueryError{Name: name, Qtype: qtype, Server: srv, Kind: ErrRcode, Detail: dns.RcodeToString[resp.Rcode]}
			}
		}
	}
	return nil, last
}

func (c *Client) attempt(ctx context.Context, m *dns.Msg, srv, proto string, timeout time.Duration) (*dns.Msg, error) {
	c.semOnce.Do(func() {
		n := c.MaxInFlight
		if n <= 0 {
			n = 128
		}
		c.sem = make(chan struct{}, n)
	})
	select {
	case c.sem <- struct{}{}:
		defer func() { <-c.sem }()
	case <-ctx.Done():
		q := m.Question[0]
		return nil, &QueryError{Name: q.Name, Qtype: q.Qtype, Server: srv, Kind: ErrTimeout, Detail: "audit deadline reached"}
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cl := &dns.Client{Net: proto, Timeout: timeout, UDPSize: 65535}
	start := time.Now()
	resp, _, err := cl.ExchangeContext(actx, m, srv)
	rtt := time.Since(start)
	q := m.Question[0]
	if err != nil {
		kind := ErrNetwork
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			kind = ErrTimeout
			err = fmt.Errorf("no answer within %s", timeout)
			if expired(ctx) {
				err = errors.New("audit deadline reached")
			}
		}
		qe := &QueryError{Name: q.Name, Qtype: q.Qtype, Server: srv, Kind: kind, Detail: err.Error()}
		c.trace(TraceEvent{Name: q.Name, Qtype: q.Qtype, Server: srv, Proto: proto, Rcode: -1, RTT: rtt, Err: qe})
		return nil, qe
	}
	if resp.Id != m.Id || len(resp.Question) == 0 || !strings.EqualFold(resp.Question[0].Name, q.Name) || resp.Question[0].Qtype != q.Qtype {
		qe := &QueryError{Name: q.Name, Qtype: q.Qtype, Server: srv, Kind: ErrNetwork, Detail: "response does not match the question"}
		c.trace(TraceEvent{Name: q.Name, Qtype: q.Qtype, Server: srv, Proto: proto, Rcode: resp.Rcode, RTT: rtt, Err: qe})
		return nil, qe
	}
	c.trace(TraceEvent{Name: q.Name, Qtype: q.Qtype, Server: srv, Proto: proto, Rcode: resp.Rcode, RTT: rtt})
	return resp, nil
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
	seen := map[string]bool{name: true}
	cur := name
	for {
		next := ""
		for _, rr := range rrs {
			if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, cur) {
				next = dns.CanonicalName(c.Target)
				break
			}
		}
		if next == "" {
			return names, false
		}
		names = append(names, next)
		if seen[next] {
			return names, true
		}
		seen[next] = true
		cur = next
	}
}

func ansOfName(rrs []dns.RR, name string, qtype uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == qtype && strings.EqualFold(rr.Header().Name, name) {
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
