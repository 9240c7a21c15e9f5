package resolve

import (
	"context"
	"errors"

	"github.com/miekg/dns"
)

// DNSSECResolver is implemented by the resolvers that can ask a question
// with the DNSSEC OK bit (DO=1, RFC 3225) and, when cd is set, with
// Checking Disabled (CD=1, RFC 4035 §3.2.2), and return what a validator
// needs: the RRSIGs beside the records, the authority section (Answer.
// Authority), the AD bit and the Extended DNS Errors (RFC 8914).
//
// Unlike Query, QueryDNSSEC does not follow a CNAME chain to another
// name: a validator asks for each name itself. Query's answers and cache
// entries are never affected by QueryDNSSEC.
type DNSSECResolver interface {
	QueryDNSSEC(ctx context.Context, name string, qtype uint16, cd bool) (*Answer, error)
}

// ErrNoDNSSEC: the resolver behind a Cache or Zones cannot ask DNSSEC
// questions.
var ErrNoDNSSEC = errors.New("the resolver cannot ask DNSSEC questions")

// queryMode is how a question is asked: plainly (the zero value, Query)
// or with DO=1 and optionally CD=1 (QueryDNSSEC).
type queryMode struct {
	dnssec bool
	cd     bool
}

var (
	_ DNSSECResolver = (*Client)(nil)
	_ DNSSECResolver = (*Cache)(nil)
	_ DNSSECResolver = (*Zones)(nil)
)

// QueryDNSSEC implements DNSSECResolver: one exchange with DO=1 (and CD=1
// when cd), no CNAME followed.
func (c *Client) QueryDNSSEC(ctx context.Context, name string, qtype uint16, cd bool) (*Answer, error) {
	return c.exchangeMode(ctx, Canonical(name), qtype, queryMode{dnssec: true, cd: cd})
}

// QueryDNSSEC implements DNSSECResolver through the cache: the key holds
// the flags, so a DNSSEC question never answers a plain one.
func (c *Cache) QueryDNSSEC(ctx context.Context, name string, qtype uint16, cd bool) (*Answer, error) {
	return c.query(ctx, cacheKey{Canonical(name), qtype, queryMode{dnssec: true, cd: cd}})
}

// QueryDNSSEC implements DNSSECResolver: a name inside a zone file (for
// DS, the zone file of the parent) is answered from it, unsigned (zone files carry no RRSIG, and Authentic is
// never set); any other name goes to Upstream when it can ask DNSSEC
// questions, and is an ErrOffline error without an Upstream.
func (zs *Zones) QueryDNSSEC(ctx context.Context, name string, qtype uint16, cd bool) (*Answer, error) {
	name = Canonical(name)
	z := zs.Find(name)
	if z != nil && qtype == dns.TypeDS && name == z.Origin && name != "." {
		// The DS of a zone is its parent's (RFC 4035 §3.1.4.1).
		z = zs.Find(parent(name))
		if z != nil {
			rcode, rrs := z.Exchange(name, qtype)
			return &Answer{Name: name, Qtype: qtype, Rcode: rcode, Records: rrs, Server: "zone:" + z.File, CheckingDisabled: cd}, nil
		}
	}
	if z == nil {
		up, ok := zs.Upstream.(DNSSECResolver)
		if !ok {
			return nil, &QueryError{Name: name, Qtype: qtype, Kind: ErrOffline, Detail: "outside the zones given with --zone"}
		}
		return up.QueryDNSSEC(ctx, name, qtype, cd)
	}
	ans, err := zs.exchange(ctx, name, qtype)
	if ans != nil {
		ans.CheckingDisabled = cd
	}
	return ans, err
}

// askMode sends a cache miss to next in the question's mode.
func askMode(ctx context.Context, next Resolver, k cacheKey) (*Answer, error) {
	if !k.mode.dnssec {
		return next.Query(ctx, k.name, k.qtype)
	}
	d, ok := next.(DNSSECResolver)
	if !ok {
		return nil, &QueryError{Name: k.name, Qtype: k.qtype, Kind: ErrNoDNSSEC}
	}
	return d.QueryDNSSEC(ctx, k.name, k.qtype, k.mode.cd)
}

// classIN keeps the records of class IN, with owners in canonical form.
func classIN(rrs []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if h := rr.Header(); h.Class == dns.ClassINET {
			h.Name = Canonical(h.Name)
			out = append(out, rr)
		}
	}
	return out
}

// extendedErrors returns the Extended DNS Errors of resp (RFC 8914).
func extendedErrors(resp *dns.Msg) []dns.EDNS0_EDE {
	opt := resp.IsEdns0()
	if opt == nil {
		return nil
	}
	var out []dns.EDNS0_EDE
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_EDE); ok {
			out = append(out, *e)
		}
	}
	return out
}
