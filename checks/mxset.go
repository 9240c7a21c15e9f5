package checks

import (
	"context"
	"net/netip"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/gopool"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// MXSet is the domain's mail exchangers with their addresses: the facts
// several checks (mx, ptr, spf, dnsbl, smtp) start from. Env.MX computes it
// once per audit.
type MXSet struct {
	Answer   *resolve.Answer // the MX answer; nil when the lookup failed
	Err      error           // the MX lookup failed (temporary)
	NXDomain bool            // the domain does not exist
	Null     bool            // RFC 7505 null MX ("0 ."), possibly mixed with others
	Implicit bool            // no MX records: Hosts holds the domain itself (RFC 5321 §5.1)
	Hosts    []MXHost        // in preference order; the null MX is not listed
}

// MXHost is one exchanger and what its name resolved to.
type MXHost struct {
	Preference uint16       `json:"preference"`
	Name       string       `json:"host"`                 // without trailing dot
	IPLiteral  bool         `json:"ip_literal,omitempty"` // the target is an address written as a name
	Addrs      []netip.Addr `json:"addresses"`
	// Lookup keeps the raw A/AAAA answers (for evidence and CNAME chains);
	// the JSON report carries the records as text in findings instead.
	Lookup resolve.AddrResult `json:"-"`
}

// MXAddr is one address of one MX host: what the checks that reach the
// servers (ptr, spf, dnsbl, smtp) enumerate.
type MXAddr struct {
	Host  string     // the MX host name
	Canon string     // the end of the host's CNAME chain, or Host (canonicalHost)
	Addr  netip.Addr // as the A/AAAA answer gave it
}

// Pairs returns every (host, address) pair in preference order, an
// address listed under two hosts twice: the one enumerator of MX
// addresses (Targets and Addrs derive from it).
func (s *MXSet) Pairs() []MXAddr {
	var out []MXAddr
	for _, h := range s.Hosts {
		for _, a := range h.Addrs {
			out = append(out, MXAddr{Host: h.Name, Canon: canonicalHost(h), Addr: a})
		}
	}
	return out
}

// Targets returns each distinct address once, with the first (most
// preferred) host that has it.
func (s *MXSet) Targets() []MXAddr {
	seen := map[netip.Addr]bool{}
	var out []MXAddr
	for _, p := range s.Pairs() {
		if !seen[p.Addr] {
			seen[p.Addr] = true
			out = append(out, p)
		}
	}
	return out
}

// Addrs returns every address of every host, without duplicates.
func (s *MXSet) Addrs() []netip.Addr {
	var out []netip.Addr
	for _, t := range s.Targets() {
		out = append(out, t.Addr)
	}
	return out
}

// canonicalHost returns the name an MX host's addresses belong to: the end
// of its CNAME chain, or its own name. A PTR must name that host, not an
// alias (RFC 2181 §10.2).
func canonicalHost(h MXHost) string {
	if chain := h.Lookup.Chain(); len(chain) > 0 {
		return strings.TrimSuffix(chain[len(chain)-1], ".")
	}
	return h.Name
}

func lookupMXSet(ctx context.Context, r resolve.Resolver, fqdn string) *MXSet {
	set := &MXSet{}
	mxs, ans, err := resolve.MX(ctx, r, fqdn)
	set.Answer = ans
	if err != nil {
		set.Err = err
		return set
	}
	if ans.NXDomain() {
		set.NXDomain = true
		return set
	}
	if len(mxs) == 0 {
		set.Implicit = true
		set.Hosts = []MXHost{{Name: strings.TrimSuffix(fqdn, ".")}}
	}
	for _, mx := range mxs {
		if mx.Mx == "." {
			set.Null = true
			continue
		}
		set.Hosts = append(set.Hosts, MXHost{Preference: mx.Preference, Name: strings.TrimSuffix(dns.CanonicalName(mx.Mx), ".")})
	}
	var wg sync.WaitGroup
	for i := range set.Hosts {
		h := &set.Hosts[i]
		if ip, err := netip.ParseAddr(h.Name); err == nil {
			h.IPLiteral = true
			h.Addrs = []netip.Addr{ip}
			continue
		}
		if strings.HasPrefix(h.Name, "[") {
			h.IPLiteral = true
			continue
		}
		wg.Add(1)
		gopool.Go(ctx, func() {
			defer wg.Done()
			h.Lookup = resolve.Addrs(ctx, r, h.Name+".")
			h.Addrs = h.Lookup.Addrs
		})
	}
	wg.Wait()
	return set
}
