package dnssec

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/resolve"
)

// rrsetKey names one RRset.
type rrsetKey struct {
	owner string
	rtype uint16
}

// rrsets groups the records that are not RRSIGs by owner and type, in
// order of first appearance.
func rrsets(rrs []dns.RR) ([]rrsetKey, map[rrsetKey][]dns.RR) {
	var order []rrsetKey
	sets := map[rrsetKey][]dns.RR{}
	for _, rr := range rrs {
		h := rr.Header()
		if h.Rrtype == dns.TypeRRSIG || h.Rrtype == dns.TypeOPT {
			continue
		}
		k := rrsetKey{dns.CanonicalName(h.Name), h.Rrtype}
		if _, ok := sets[k]; !ok {
			order = append(order, k)
		}
		sets[k] = append(sets[k], rr)
	}
	return order, sets
}

// verifyAuthority validates every RRset of a denial's authority section
// that zone owns, and requires at least one NSEC or NSEC3 record; it
// notes NSEC3 iterations above 0.
func (v *Validator) verifyAuthority(notes *[]Note, zone string, keys []*dns.DNSKEY, auth []dns.RR) error {
	order, sets := rrsets(auth)
	denial := false
	for _, k := range order {
		if !dns.IsSubDomain(zone, k.owner) || k.rtype == dns.TypeNS {
			continue
		}
		if err := v.verifyRRset(notes, zone, keys, sets[k], sigsOf(auth, k.owner, k.rtype)); err != nil {
			return fmt.Errorf("%s %s: %v", dns.TypeToString[k.rtype], k.owner, err)
		}
		if k.rtype == dns.TypeNSEC || k.rtype == dns.TypeNSEC3 {
			denial = true
		}
		if n, ok := sets[k][0].(*dns.NSEC3); ok && n.Iterations > 0 {
			*notes = append(*notes, Note{NSEC3Iterations, zone, fmt.Sprintf("NSEC3 records of %s use %d extra iterations", zone, n.Iterations)})
		}
	}
	if !denial {
		return errors.New("no signed NSEC or NSEC3 record")
	}
	return nil
}

// checkData asks for the name's RRset of Qtype and validates it (or its
// denial) with the keys of zone, the last secure zone of the walk.
func (v *Validator) checkData(ctx context.Context, res *Result, zone string, keys []*dns.DNSKEY) {
	ans, err := v.ask(ctx, res.Name, res.Qtype)
	q := dns.TypeToString[res.Qtype] + " " + res.Name
	if err != nil {
		res.State, res.Zone, res.Err = Indeterminate, zone, err
		res.Reason = "the " + q + " query failed: " + err.Error()
		return
	}
	sets, ok := v.checkRRsets(res, zone, keys, ans)
	if !ok {
		return
	}
	if sets == 0 {
		if err := v.verifyAuthority(&res.Notes, zone, keys, ans.Authority); err != nil {
			v.bogus(res, zone, fmt.Sprintf("the denial of %s: %v", q, err))
			return
		}
		if err := proveDenial(ans.Authority, zone, res.Name, res.Qtype, ans.NXDomain()); err != nil {
			v.unproven(res, zone, q, fmt.Sprintf("the denial of %s is not proven", q), err)
			return
		}
	}
	res.State, res.Zone = Secure, zone
	res.Reason = "signed and validated from the trust anchor through " + strings.Join(res.Chain, " → ")
}

// checkRRsets validates the RRsets of the answer that zone owns, and the
// proof that a wildcard answer's owner does not exist; it reports how
// many RRsets the answer has, and false when res holds the verdict.
func (v *Validator) checkRRsets(res *Result, zone string, keys []*dns.DNSKEY, ans *resolve.Answer) (int, bool) {
	order, sets := rrsets(ans.Records)
	for _, k := range order {
		if !dns.IsSubDomain(zone, k.owner) {
			continue
		}
		rr := dns.TypeToString[k.rtype] + " " + k.owner
		sig, err := v.verifySig(&res.Notes, zone, keys, sets[k], sigsOf(ans.Records, k.owner, k.rtype))
		if err != nil {
			return 0, !v.bogus(res, zone, fmt.Sprintf("%s: %v", rr, err))
		}
		if ce, next, ok := expandedFrom(k.owner, sig); ok && !v.checkWildcard(res, zone, keys, ans.Authority, k, ce, next) {
			return 0, false
		}
	}
	return len(order), true
}

// checkWildcard validates the authority section of a wildcard answer
// (the RRset k, expanded from the wildcard at ce) and checks in it the
// proof that k's owner does not exist; false when res holds the verdict.
func (v *Validator) checkWildcard(res *Result, zone string, keys []*dns.DNSKEY, auth []dns.RR, k rrsetKey, ce, next string) bool {
	rr := dns.TypeToString[k.rtype] + " " + k.owner
	what := fmt.Sprintf("%s is synthesized from the wildcard %s", rr, wildcardAt(ce))
	if err := v.verifyAuthority(&res.Notes, zone, keys, auth); err != nil {
		return !v.bogus(res, zone, fmt.Sprintf("%s, and its authority section proves nothing: %v", what, err))
	}
	if err := wildcardProof(auth, zone, k.owner, ce, next); err != nil {
		return !v.unproven(res, zone, rr, what, err)
	}
	return true
}
