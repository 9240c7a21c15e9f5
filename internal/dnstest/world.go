package dnstest

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/dnssec"
)

// StartWorld serves the signed World w until the test ends: questions
// with DO=1 get the RRSIGs and the NSEC or NSEC3 records of a denial,
// questions without it the bare records. A DS question at a zone's apex
// is answered by the parent zone, as a resolver would.
func StartWorld(t testing.TB, w *World) *Server {
	t.Helper()
	s := StartZones(t)
	s.mu.Lock()
	s.world = w
	s.mu.Unlock()
	return s
}

// respond fills m with the World's answer to (name, qtype).
func (w *World) respond(m *dns.Msg, name string, qtype uint16, do bool) {
	z := w.zoneFor(name, qtype)
	if z == nil {
		m.Rcode = dns.RcodeRefused
		return
	}
	z.respond(m, name, qtype)
	if !do {
		m.Answer = stripDNSSEC(m.Answer, qtype)
		m.Ns = stripDNSSEC(m.Ns, qtype)
	}
	for i, rr := range m.Answer {
		m.Answer[i] = dns.Copy(rr)
	}
	for i, rr := range m.Ns {
		m.Ns[i] = dns.Copy(rr)
	}
}

// stripDNSSEC drops the RRSIG, NSEC and NSEC3 records not asked for.
func stripDNSSEC(rrs []dns.RR, qtype uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		switch t := rr.Header().Rrtype; t {
		case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3:
			if t != qtype {
				continue
			}
		}
		out = append(out, rr)
	}
	return out
}

// respond answers as the zone's authoritative server: the RRset and its
// signatures, a CNAME, a referral, or a signed denial.
func (z *SignedZone) respond(m *dns.Msg, name string, qtype uint16) {
	if cut := z.cutAbove(name); cut != "" && !(qtype == dns.TypeDS && name == cut) {
		m.Ns = append(m.Ns, z.sets[cut][dns.TypeNS]...)
		return
	}
	if set := z.sets[name][qtype]; len(set) > 0 {
		m.Answer = append(append(m.Answer, set...), z.sigs[name][qtype]...)
		return
	}
	if set := z.sets[name][dns.TypeCNAME]; len(set) > 0 {
		m.Answer = append(append(m.Answer, set...), z.sigs[name][dns.TypeCNAME]...)
		return
	}
	if !z.exists[name] && z.wildcard(m, name, qtype) {
		return
	}
	m.Ns = append(append(m.Ns, z.sets[z.Origin][dns.TypeSOA]...), z.sigs[z.Origin][dns.TypeSOA]...)
	if z.exists[name] {
		m.Ns = append(m.Ns, z.noDataProof(name)...)
		return
	}
	m.Rcode = dns.RcodeNameError
	m.Ns = append(m.Ns, z.nxProof(name)...)
}

// cutAbove returns the delegation point at or above name inside the
// zone, or "".
func (z *SignedZone) cutAbove(name string) string {
	for n := name; dns.IsSubDomain(z.Origin, n) && n != z.Origin; n = parentName(n) {
		if z.cuts[n] {
			return n
		}
	}
	return ""
}

// noDataProof returns the denial records (and signatures) that prove name
// exists without the asked type.
func (z *SignedZone) noDataProof(name string) []dns.RR {
	if z.Spec.NSEC3 {
		return z.denialWhere(func(rr dns.RR) bool { return rr.(*dns.NSEC3).Match(name) })
	}
	if _, ok := z.sets[name][dns.TypeNSEC]; ok {
		return z.denialWhere(func(rr dns.RR) bool { return rr.Header().Name == name })
	}
	return z.denialWhere(func(rr dns.RR) bool { return dnssec.NSECCovers(rr.(*dns.NSEC), name) })
}

// closestEncloser returns the closest encloser of name in the zone and
// the next closer name (its child on the way to name).
func (z *SignedZone) closestEncloser(name string) (ce, next string) {
	ce = name
	for !z.exists[ce] && ce != z.Origin {
		next, ce = ce, parentName(ce)
	}
	return ce, next
}

// wildcardAt returns the wildcard name directly below ce.
func wildcardAt(ce string) string {
	if ce == "." {
		return "*."
	}
	return "*." + ce
}

// wildcard answers (name, qtype) for a name that does not exist from the
// wildcard at its closest encloser, as RFC 4035 §3.1.3.3 and RFC 5155
// §7.2.6 say: the wildcard's RRset and RRSIGs with name as owner, and the
// NSEC record covering name (NSEC3: the record covering the next closer
// name). A wildcard without an RRset of qtype gives a wildcard NODATA
// answer (wildcardNoData). It reports false when there is no wildcard.
func (z *SignedZone) wildcard(m *dns.Msg, name string, qtype uint16) bool {
	ce, next := z.closestEncloser(name)
	wild := wildcardAt(ce)
	set := z.sets[wild][qtype]
	if len(set) == 0 {
		return z.exists[wild] && z.wildcardNoData(m, name, ce, next, wild)
	}
	for _, rr := range append(append([]dns.RR{}, set...), z.sigs[wild][qtype]...) {
		c := dns.Copy(rr)
		c.Header().Name = name
		m.Answer = append(m.Answer, c)
	}
	if z.Spec.NSEC3 {
		m.Ns = z.denialWhere(func(rr dns.RR) bool { n := rr.(*dns.NSEC3); return n.Cover(next) && !n.Match(next) })
	} else {
		m.Ns = z.denialWhere(func(rr dns.RR) bool { return dnssec.NSECCovers(rr.(*dns.NSEC), name) })
	}
	return true
}

// wildcardNoData answers for name, which exists only through the wildcard
// wild at its closest encloser ce, and not with the asked type: the SOA
// and, with NSEC, the record covering name and the wildcard's own (RFC
// 4035 §3.1.3.4); with NSEC3 the closest encloser proof and the
// wildcard's record (RFC 5155 §7.2.5). As a real server answers a DS
// question about such a name.
func (z *SignedZone) wildcardNoData(m *dns.Msg, name, ce, next, wild string) bool {
	m.Ns = append(append(m.Ns, z.sets[z.Origin][dns.TypeSOA]...), z.sigs[z.Origin][dns.TypeSOA]...)
	if z.Spec.NSEC3 {
		m.Ns = append(m.Ns, z.denialWhere(func(rr dns.RR) bool {
			n := rr.(*dns.NSEC3)
			return n.Match(ce) || n.Cover(next) && !n.Match(next) || n.Match(wild)
		})...)
		return true
	}
	m.Ns = append(m.Ns, z.denialWhere(func(rr dns.RR) bool {
		return dnssec.NSECCovers(rr.(*dns.NSEC), name) || rr.Header().Name == wild
	})...)
	return true
}

// nxProof returns the denial records that prove name does not exist: the
// name and the wildcard at its closest encloser are covered (RFC 4035
// §3.1.3.2), with NSEC3 the closest encloser proof (RFC 5155 §7.2.2).
func (z *SignedZone) nxProof(name string) []dns.RR {
	ce, next := z.closestEncloser(name)
	wild := wildcardAt(ce)
	if !z.Spec.NSEC3 {
		return z.denialWhere(func(rr dns.RR) bool {
			n := rr.(*dns.NSEC)
			return dnssec.NSECCovers(n, name) || dnssec.NSECCovers(n, wild)
		})
	}
	return z.denialWhere(func(rr dns.RR) bool {
		n := rr.(*dns.NSEC3)
		return n.Match(ce) || n.Cover(next) || n.Cover(wild)
	})
}

// denialWhere returns the zone's NSEC or NSEC3 records that match, each
// followed by its signatures.
func (z *SignedZone) denialWhere(match func(dns.RR) bool) []dns.RR {
	var out []dns.RR
	for _, rr := range z.denial {
		if match(rr) {
			h := rr.Header()
			out = append(append(out, rr), z.sigs[h.Name][h.Rrtype]...)
		}
	}
	return out
}
