package dnssec

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// proveDenial checks that the denial records of auth, already validated
// as signed by zone, prove the absence of (name, qtype): that name does
// not exist when nx (NXDOMAIN), else that it has no RRset of qtype
// (NODATA). With NSEC3 records it checks the proofs of RFC 5155 §8.4,
// §8.5 and §8.7; with NSEC those of RFC 4035 §5.4. The error names the
// name and the record that is missing.
func proveDenial(auth []dns.RR, zone, name string, qtype uint16, nx bool) error {
	n3, err := nsec3Usable(auth, zone)
	if err != nil {
		return err
	}
	if len(n3) > 0 {
		if nx {
			return nsec3NXDomain(n3, zone, name)
		}
		return nsec3NoData(n3, zone, name, qtype)
	}
	ns := nsecIn(auth, zone)
	if len(ns) == 0 {
		return errors.New("no NSEC or NSEC3 record of " + zone)
	}
	if nx {
		return nsecNXDomain(ns, zone, name)
	}
	return nsecNoData(ns, zone, name, qtype)
}

// nsec3In returns the NSEC3 records of auth that belong to zone (their
// owner is a hash label directly below the apex).
func nsec3In(auth []dns.RR, zone string) []*dns.NSEC3 {
	var out []*dns.NSEC3
	for _, rr := range auth {
		if n, ok := rr.(*dns.NSEC3); ok && parentOf(dns.CanonicalName(n.Hdr.Name)) == zone {
			out = append(out, n)
		}
	}
	return out
}

// MaxNSEC3Iterations is the most NSEC3 iterations the validator computes.
// RFC 9276 §3.2: "Validating resolvers MAY return an insecure response to
// their clients when processing NSEC3 records with iterations larger than
// 0. Note also that a validating resolver returning an insecure response
// MUST still validate the signature over the NSEC3 record to ensure the
// iteration count was not altered since record publication". Above this
// limit a proof is insecure (signatures checked, no name hashed).
const MaxNSEC3Iterations = 150

// iterationsError is a proof with NSEC3 iterations above the limit: the
// answer is insecure, not bogus.
type iterationsError struct {
	zone       string
	iterations uint16
}

func (e *iterationsError) Error() string {
	return fmt.Sprintf("the NSEC3 records of %s use %d iterations, more than the %d this validator computes: treated as insecure (RFC 9276 §3.2)", e.zone, e.iterations, MaxNSEC3Iterations)
}

// nsec3Usable returns the NSEC3 records of zone in auth that a validator
// may use. RFC 5155 §8.1: "A validator MUST ignore NSEC3 RRs with unknown
// hash types. The practical result of this is that responses containing
// only such NSEC3 RRs will generally be considered bogus." §8.2: "A
// validator MUST ignore NSEC3 RRs with a Flag fields value other than
// zero or one." The error says that every NSEC3 record was ignored and no
// NSEC record is there instead (bogus), or is an *iterationsError.
func nsec3Usable(auth []dns.RR, zone string) ([]*dns.NSEC3, error) {
	var out []*dns.NSEC3
	var ignored string
	for _, n := range nsec3In(auth, zone) {
		if why := unusableNSEC3(n); why != "" {
			ignored = why
			continue
		}
		out = append(out, n)
		if n.Iterations > MaxNSEC3Iterations {
			return nil, &iterationsError{zone, n.Iterations}
		}
	}
	if len(out) == 0 && ignored != "" && len(nsecIn(auth, zone)) == 0 {
		return nil, fmt.Errorf("the NSEC3 records of %s are ignored (%s), and no other record proves the denial", zone, ignored)
	}
	return out, nil
}

// unusableNSEC3 says why RFC 5155 §8.1-§8.2 make n ignored, or "".
func unusableNSEC3(n *dns.NSEC3) string {
	switch {
	case n.Hash != dns.SHA1:
		return fmt.Sprintf("hash algorithm %d is unknown: RFC 5155 §8.1", n.Hash)
	case n.Flags > 1:
		return fmt.Sprintf("flags %d are neither 0 nor 1: RFC 5155 §8.2", n.Flags)
	}
	return ""
}

// nsecIn returns the NSEC records of auth owned by names in zone.
func nsecIn(auth []dns.RR, zone string) []*dns.NSEC {
	var out []*dns.NSEC
	for _, rr := range auth {
		if n, ok := rr.(*dns.NSEC); ok && dns.IsSubDomain(zone, dns.CanonicalName(n.Hdr.Name)) {
			out = append(out, n)
		}
	}
	return out
}

// nsec3Match returns the NSEC3 record whose hash is that of name, or nil.
func nsec3Match(n3 []*dns.NSEC3, name string) *dns.NSEC3 {
	for _, n := range n3 {
		if n.Match(name) {
			return n
		}
	}
	return nil
}

// nsec3Cover returns an NSEC3 record whose span holds the hash of name
// strictly (a record that matches the name does not cover it), or nil.
func nsec3Cover(n3 []*dns.NSEC3, name string) *dns.NSEC3 {
	for _, n := range n3 {
		if n.Cover(name) && !n.Match(name) {
			return n
		}
	}
	return nil
}

// wildcardAt returns the wildcard name directly below ce.
func wildcardAt(ce string) string {
	if ce == "." {
		return "*."
	}
	return "*." + ce
}

// closestEncloser finds the closest encloser proof of RFC 5155 §8.3 for
// name: an NSEC3 record matching an ancestor of name inside zone (the
// closest encloser, ce), and one covering the next closer name (next, the
// child of ce on the way to name), which it returns too.
func closestEncloser(n3 []*dns.NSEC3, zone, name string) (ce, next string, cover *dns.NSEC3, err error) {
	for next, ce = name, parentOf(name); name != zone && dns.IsSubDomain(zone, ce); next, ce = ce, parentOf(ce) {
		m := nsec3Match(n3, ce)
		if m == nil {
			if ce == zone {
				break
			}
			continue
		}
		if hasType(m.TypeBitMap, dns.TypeDNAME) || hasType(m.TypeBitMap, dns.TypeNS) && !hasType(m.TypeBitMap, dns.TypeSOA) {
			return "", "", nil, fmt.Errorf("the NSEC3 record matching %s, the closest encloser of %s, is a delegation or DNAME: it cannot prove anything below it (RFC 5155 §8.3)", ce, name)
		}
		if cover = nsec3Cover(n3, next); cover == nil {
			return "", "", nil, fmt.Errorf("no NSEC3 record covers the next closer name %s (closest encloser %s; RFC 5155 §8.3)", next, ce)
		}
		return ce, next, cover, nil
	}
	return "", "", nil, fmt.Errorf("no NSEC3 record matches an ancestor of %s in %s: no closest encloser proof (RFC 5155 §8.3)", name, zone)
}

// nsec3NXDomain checks the NXDOMAIN proof of RFC 5155 §8.4: the closest
// encloser proof, and an NSEC3 record covering the wildcard at the
// closest encloser.
func nsec3NXDomain(n3 []*dns.NSEC3, zone, name string) error {
	if nsec3Match(n3, name) != nil {
		return fmt.Errorf("an NSEC3 record matches %s: the name exists, the NXDOMAIN is not proven", name)
	}
	ce, _, _, err := closestEncloser(n3, zone, name)
	if err != nil {
		return err
	}
	if w := wildcardAt(ce); nsec3Cover(n3, w) == nil {
		return fmt.Errorf("no NSEC3 record covers the wildcard %s at the closest encloser of %s (RFC 5155 §8.4)", w, name)
	}
	return nil
}

// nsec3NoData checks the NODATA proofs of RFC 5155: an NSEC3 record
// matching name without qtype or CNAME in its bitmap (§8.5), or else the
// closest encloser proof and an NSEC3 record matching the wildcard at the
// closest encloser without them (§8.7).
func nsec3NoData(n3 []*dns.NSEC3, zone, name string, qtype uint16) error {
	if m := nsec3Match(n3, name); m != nil {
		return bitmapLacks(m.TypeBitMap, "NSEC3", name, name, qtype)
	}
	ce, _, _, err := closestEncloser(n3, zone, name)
	if err != nil {
		return fmt.Errorf("no NSEC3 record matches %s (RFC 5155 §8.5), and for a wildcard answer (§8.7): %v", name, err)
	}
	w := wildcardAt(ce)
	m := nsec3Match(n3, w)
	if m == nil {
		return fmt.Errorf("no NSEC3 record matches %s (RFC 5155 §8.5) or the wildcard %s at its closest encloser (§8.7)", name, w)
	}
	return bitmapLacks(m.TypeBitMap, "NSEC3", w, name, qtype)
}

// bitmapLacks reports an error when the bitmap of the denial record at
// owner lists qtype or CNAME: then it does not deny (name, qtype).
func bitmapLacks(bitmap []uint16, kind, owner, name string, qtype uint16) error {
	for _, t := range []uint16{qtype, dns.TypeCNAME} {
		if hasType(bitmap, t) {
			return fmt.Errorf("the %s record at %s lists %s: it does not deny %s %s", kind, owner, dns.TypeToString[t], dns.TypeToString[qtype], name)
		}
	}
	return nil
}

// optOutProof checks the DS denial of RFC 5155 §8.6 for a name without a
// matching NSEC3 record: the closest encloser proof, with the NSEC3
// record covering the next closer name having the opt-out flag (then the
// delegation, if any, is insecure).
func optOutProof(n3 []*dns.NSEC3, zone, c string) error {
	_, next, cover, err := closestEncloser(n3, zone, c)
	if err != nil {
		return fmt.Errorf("no NSEC3 record matches %s, and %v", c, err)
	}
	if cover.Flags&1 == 0 {
		return fmt.Errorf("no NSEC3 record matches %s, and the one covering the next closer name %s has no opt-out flag (RFC 5155 §8.6)", c, next)
	}
	return nil
}

// nsecCovering returns the NSEC record that proves name does not exist,
// or nil: it covers name and is not the parent side of a delegation
// above name (RFC 6840 §4.1).
func nsecCovering(ns []*dns.NSEC, name string) *dns.NSEC {
	for _, n := range ns {
		owner := dns.CanonicalName(n.Hdr.Name)
		if !NSECCovers(n, name) {
			continue
		}
		if dns.IsSubDomain(owner, name) && (hasType(n.TypeBitMap, dns.TypeDNAME) ||
			hasType(n.TypeBitMap, dns.TypeNS) && !hasType(n.TypeBitMap, dns.TypeSOA)) {
			continue
		}
		return n
	}
	return nil
}

// nsecEncloser returns the closest encloser of name that the covering
// NSEC record n shows: the longer of the names name has in common with
// n's owner and with its next name (RFC 4035 §5.4).
func nsecEncloser(n *dns.NSEC, name string) string {
	labels := dns.SplitDomainName(name)
	common := max(dns.CompareDomainName(name, n.Hdr.Name), dns.CompareDomainName(name, n.NextDomain))
	if common == 0 {
		return "."
	}
	return dns.Fqdn(strings.Join(labels[len(labels)-common:], "."))
}

// nsecNXDomain checks the NXDOMAIN proof of RFC 4035 §5.4: an NSEC
// record covering name, and one covering the wildcard at the closest
// encloser.
func nsecNXDomain(ns []*dns.NSEC, zone, name string) error {
	n := nsecCovering(ns, name)
	if n == nil {
		return fmt.Errorf("no NSEC record covers %s (RFC 4035 §5.4)", name)
	}
	ce := nsecEncloser(n, name)
	if !dns.IsSubDomain(zone, ce) {
		ce = zone
	}
	if w := wildcardAt(ce); nsecCovering(ns, w) == nil {
		return fmt.Errorf("no NSEC record proves that the wildcard %s at the closest encloser of %s does not exist (RFC 4035 §5.4)", w, name)
	}
	return nil
}

// nsecNoData checks the NODATA proofs of RFC 4035 §5.4: an NSEC record
// at name without qtype or CNAME; or, for an empty non-terminal, a
// covering NSEC record whose next name is below name (§3.1.3.2); or, for
// a wildcard answer, a covering NSEC record and the NSEC record of the
// wildcard at the closest encloser without qtype (§3.1.3.4).
func nsecNoData(ns []*dns.NSEC, zone, name string, qtype uint16) error {
	for _, n := range ns {
		if strings.EqualFold(n.Hdr.Name, name) {
			return bitmapLacks(n.TypeBitMap, "NSEC", name, name, qtype)
		}
	}
	n := nsecCovering(ns, name)
	if n == nil {
		return fmt.Errorf("no NSEC record at %s, and none covers it (RFC 4035 §5.4)", name)
	}
	if dns.IsSubDomain(name, dns.CanonicalName(n.NextDomain)) && !strings.EqualFold(n.NextDomain, name) {
		return nil // an empty non-terminal
	}
	ce := nsecEncloser(n, name)
	if !dns.IsSubDomain(zone, ce) {
		ce = zone
	}
	w := wildcardAt(ce)
	for _, m := range ns {
		if strings.EqualFold(m.Hdr.Name, w) {
			return bitmapLacks(m.TypeBitMap, "NSEC", w, name, qtype)
		}
	}
	return fmt.Errorf("no NSEC record at %s, no empty non-terminal proof, and no NSEC record at the wildcard %s (RFC 4035 §5.4)", name, w)
}
