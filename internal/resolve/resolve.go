// Package resolve is mailcheck's DNS access layer. Every check reaches DNS
// only through the Resolver interface defined here, so the same check runs
// against a recursive resolver on the network (Client), a zone file that is
// not published yet (Zone), or a mix of both (Router), always behind one
// per-run Cache that never sends the same question twice.
//
// Unlike net.Resolver, an Answer keeps what an auditor needs: the RCODE
// (NXDOMAIN and NODATA are different answers), the TTLs, the AD bit and the
// CNAME chain that led to the records.
package resolve

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Resolver answers one DNS question. Implementations must be safe for
// concurrent use and must honour ctx's deadline.
//
// A Resolver returns a nil error for every answer that says something about
// the name: NOERROR with records, NOERROR without records (NODATA) and
// NXDOMAIN. It returns an error (a *QueryError) when no usable answer could
// be obtained: SERVFAIL, REFUSED, timeouts, network errors, or a name that
// cannot be resolved offline.
type Resolver interface {
	Query(ctx context.Context, name string, qtype uint16) (*Answer, error)
}

// Answer is the outcome of one question, after any CNAME chain was followed.
type Answer struct {
	Name  string // the question name, fully qualified, lower case
	Qtype uint16
	Rcode int // dns.RcodeSuccess or dns.RcodeNameError

	// Records is the answer section: the CNAMEs of the chain (in order)
	// followed by the records of the final name.
	Records []dns.RR
	// Authentic reports the AD bit: the resolver validated the answer with
	// DNSSEC. Zone files are never authentic.
	Authentic bool
	// Server names who answered: "192.0.2.53:53" or "zone:FILE".
	Server string
	RTT    time.Duration

	// Set by QueryDNSSEC only (see DNSSECResolver); nil for Query.
	//
	// Authority is the reply's authority section, class IN: the SOA,
	// NSEC and NSEC3 records of a denial and their RRSIGs (Records then
	// holds the answer's RRSIGs beside the records they sign).
	Authority []dns.RR
	// EDE lists the Extended DNS Errors of the reply (RFC 8914).
	EDE []dns.EDNS0_EDE
	// CheckingDisabled reports that the question was asked with CD=1.
	CheckingDisabled bool
}

// NXDomain reports whether the name does not exist.
func (a *Answer) NXDomain() bool { return a != nil && a.Rcode == dns.RcodeNameError }

// NoData reports whether the name exists but has no record of the type.
func (a *Answer) NoData() bool {
	return a != nil && a.Rcode == dns.RcodeSuccess && len(a.Of(a.Qtype)) == 0
}

// Of returns the records of type t in the answer (CNAMEs of the chain are
// only returned when t is dns.TypeCNAME).
func (a *Answer) Of(t uint16) []dns.RR {
	if a == nil {
		return nil
	}
	n := 0
	for _, rr := range a.Records {
		if rr.Header().Rrtype == t {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]dns.RR, 0, n)
	for _, rr := range a.Records {
		if rr.Header().Rrtype == t {
			out = append(out, rr)
		}
	}
	return out
}

// Chain returns the names of the CNAME chain that led from the question
// name to the records, not including the question name. It is empty when
// the name is not an alias.
func (a *Answer) Chain() []string {
	var out []string
	for _, rr := range a.Of(dns.TypeCNAME) {
		out = append(out, rr.(*dns.CNAME).Target)
	}
	return out
}

// Strings renders each record of type t in zone-file presentation format.
func (a *Answer) Strings(t uint16) []string {
	var out []string
	for _, rr := range a.Of(t) {
		out = append(out, rr.String())
	}
	return out
}

// Sentinel errors; every *QueryError wraps exactly one of them, so callers
// test the kind of failure with errors.Is.
var (
	ErrServFail  = errors.New("SERVFAIL")
	ErrRefused   = errors.New("REFUSED")
	ErrRcode     = errors.New("unexpected rcode")
	ErrTimeout   = errors.New("timeout")
	ErrNetwork   = errors.New("network error")
	ErrBadReply  = errors.New("invalid reply")
	ErrOffline   = errors.New("not resolvable offline")
	ErrLoop      = errors.New("CNAME loop")
	ErrLongChain = fmt.Errorf("CNAME chain longer than %d", MaxCNAMEChain)
	ErrBadName   = errors.New("invalid domain name")
	ErrNoServer  = errors.New("no DNS server configured")
	// ErrNotRecursive: the server answered with a referral (NOERROR, no
	// answer, NS records in the authority section), as an authoritative
	// server does for a zone it delegates or does not serve; it is not a
	// recursive resolver. Never a statement about the name.
	ErrNotRecursive = errors.New("not a recursive resolver")
	// ErrDeadline: the caller's deadline (the audit's --deadline) ended the
	// question; not the server's fault. errors.Is(ErrDeadline, ErrTimeout)
	// holds, for callers that only tell timeouts from other failures.
	ErrDeadline error = &subKind{"audit deadline reached", ErrTimeout}
	// ErrCanceled: the caller's context was cancelled (SIGINT, SIGTERM).
	ErrCanceled = errors.New("interrupted")
)

// subKind is a sentinel that is also another one.
type subKind struct {
	msg    string
	parent error
}

func (k *subKind) Error() string { return k.msg }
func (k *subKind) Unwrap() error { return k.parent }

// QueryError describes a question that got no usable answer.
type QueryError struct {
	Name   string
	Qtype  uint16
	Server string // empty when no server was asked
	Kind   error  // one of the sentinel errors above
	Detail string // optional: the underlying error text
	// EDE lists the Extended DNS Errors (RFC 8914) of the reply that
	// failed, for questions asked with QueryDNSSEC; Error() does not
	// show them.
	EDE []dns.EDNS0_EDE
}

func (e *QueryError) Error() string {
	name := strings.TrimSuffix(e.Name, ".")
	if e.Kind == ErrDeadline || e.Kind == ErrCanceled {
		// The caller ran out of time: no server is blamed.
		return fmt.Sprintf("%s before %s %s was answered", e.Kind, dns.TypeToString[e.Qtype], name)
	}
	var b strings.Builder
	b.WriteString(e.Kind.Error())
	if e.Server != "" {
		b.WriteString(" from ")
		b.WriteString(e.Server)
	}
	fmt.Fprintf(&b, " for %s %s", dns.TypeToString[e.Qtype], name)
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

func (e *QueryError) Unwrap() error { return e.Kind }

// ContextError returns the error for a question that ctx ended: ErrCanceled
// when it was cancelled, ErrDeadline when its deadline passed, nil while
// it is live.
func ContextError(ctx context.Context, name string, qtype uint16) error {
	if !expired(ctx) {
		return nil
	}
	kind := ErrDeadline
	if errors.Is(ctx.Err(), context.Canceled) {
		kind = ErrCanceled
	}
	return &QueryError{Name: name, Qtype: qtype, Kind: kind}
}

// endedByCaller reports whether err is the caller's deadline or
// cancellation rather than a statement about the question.
func endedByCaller(err error) bool {
	return errors.Is(err, ErrDeadline) || errors.Is(err, ErrCanceled)
}

// IsTemporary reports whether err means "could not evaluate": everything a
// Resolver returns is, except a malformed name.
func IsTemporary(err error) bool {
	return err != nil && !errors.Is(err, ErrBadName)
}

// TXT returns the data of the TXT records at name as octets (TXTData):
// each record's character-strings decoded and joined without separator.
func TXT(ctx context.Context, r Resolver, name string) ([]string, *Answer, error) {
	a, err := r.Query(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, a, err
	}
	var out []string
	for _, rr := range a.Of(dns.TypeTXT) {
		out = append(out, TXTData(rr.(*dns.TXT)))
	}
	return out, a, nil
}

// MX returns the MX records at name sorted by preference then host.
func MX(ctx context.Context, r Resolver, name string) ([]*dns.MX, *Answer, error) {
	a, err := r.Query(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, a, err
	}
	var out []*dns.MX
	for _, rr := range a.Of(dns.TypeMX) {
		out = append(out, rr.(*dns.MX))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Preference != out[j].Preference {
			return out[i].Preference < out[j].Preference
		}
		return out[i].Mx < out[j].Mx
	})
	return out, a, nil
}

// AddrResult is the outcome of looking up both address families of a host.
type AddrResult struct {
	Addrs []netip.Addr // IPv4 first, then IPv6, in answer order
	A     *Answer
	AAAA  *Answer
	// Err is set when either lookup failed; Addrs still holds what the
	// other family returned.
	Err error
}

// NXDomain reports whether the host name does not exist.
func (r AddrResult) NXDomain() bool { return r.A.NXDomain() || r.AAAA.NXDomain() }

// Chain returns the CNAME chain seen on either lookup.
func (r AddrResult) Chain() []string {
	if c := r.A.Chain(); len(c) > 0 {
		return c
	}
	return r.AAAA.Chain()
}

// Addrs looks up A and AAAA for host concurrently.
func Addrs(ctx context.Context, r Resolver, host string) AddrResult {
	type res struct {
		a   *Answer
		err error
	}
	ch := make(chan res, 1)
	go func() {
		a, err := r.Query(ctx, host, dns.TypeAAAA)
		ch <- res{a, err}
	}()
	var out AddrResult
	var err4 error
	out.A, err4 = r.Query(ctx, host, dns.TypeA)
	r6 := <-ch
	out.AAAA = r6.a
	for _, rr := range out.A.Of(dns.TypeA) {
		if ip, ok := netip.AddrFromSlice(rr.(*dns.A).A.To4()); ok {
			out.Addrs = append(out.Addrs, ip)
		}
	}
	for _, rr := range out.AAAA.Of(dns.TypeAAAA) {
		if ip, ok := netip.AddrFromSlice(rr.(*dns.AAAA).AAAA.To16()); ok {
			out.Addrs = append(out.Addrs, ip)
		}
	}
	out.Err = errors.Join(err4, r6.err)
	return out
}

// PTR returns the names the reverse zone gives for ip.
func PTR(ctx context.Context, r Resolver, ip netip.Addr) ([]string, *Answer, error) {
	rev, err := dns.ReverseAddr(ip.String())
	if err != nil {
		return nil, nil, &QueryError{Name: ip.String(), Qtype: dns.TypePTR, Kind: ErrBadName, Detail: err.Error()}
	}
	a, err := r.Query(ctx, rev, dns.TypePTR)
	if err != nil {
		return nil, a, err
	}
	var out []string
	for _, rr := range a.Of(dns.TypePTR) {
		out = append(out, rr.(*dns.PTR).Ptr)
	}
	return out, a, nil
}

// Describe renders an error or a negative answer the way findings quote
// it: "NXDOMAIN for MX example.org", "no A record for mx.example.org".
func Describe(a *Answer, err error) string {
	if err != nil {
		return err.Error()
	}
	if a == nil {
		return "no answer"
	}
	name := strings.TrimSuffix(a.Name, ".")
	if a.NXDomain() {
		return fmt.Sprintf("NXDOMAIN for %s %s", dns.TypeToString[a.Qtype], name)
	}
	return fmt.Sprintf("no %s record for %s", dns.TypeToString[a.Qtype], name)
}
