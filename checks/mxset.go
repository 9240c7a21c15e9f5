package checks

import (
	"context"
	"net/netip"
	"strings"
	"sync"

	"github.com/miekg/dns"

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

// Addrs returns every address of every host, without duplicates.
func (s *MXSet) Addrs() []netip.Addr {
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	for _, h := range s.Hosts {
		for _, a := range h.Addrs {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out
}

// MX returns the domain's MX set, looking it up on first use.
func (e *Env) MX(ctx context.Context) *MXSet {
	e.mxOnce.Do(func() { e.mx = lookupMXSet(ctx, e.Resolver, e.Domain.FQDN()) })
	return e.mx
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
		go func() {
			defer wg.Done()
			h.Lookup = resolve.Addrs(ctx, r, h.Name+".")
			h.Addrs = h.Lookup.Addrs
		}()
	}
	wg.Wait()
	return set
}
