package dnssec

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/resolve"
)

// Result is the verdict on one name.
type Result struct {
	Name  string
	Qtype uint16 // the type whose RRset (or denial) was validated
	State State
	// Reason says why: the zone the chain ends in (Secure), the
	// delegation without DS (Insecure), the failing name and record
	// (Bogus), the failed query (Indeterminate).
	Reason string
	// Zone is the deepest zone reached: the signed zone that holds the
	// name, or the delegation point where the chain became insecure.
	Zone string
	// Chain lists the zones authenticated on the way, top-down.
	Chain []string
	Notes []Note
	// Err is the lookup failure behind an Indeterminate state.
	Err error
	// Iterations is set when the state is Insecure only because the
	// zone's NSEC3 records use more than MaxNSEC3Iterations iterations
	// (RFC 9276 §3.2): the zone is signed, validators ignore its proofs.
	Iterations uint16

	capped *iterationsError // a DS denial on the way down that was not computed
}

// Validator validates names from its trust anchors down. It is safe for
// concurrent use; the DNSKEY verdict of each zone is kept for its life.
type Validator struct {
	Resolver resolve.DNSSECResolver
	Anchors  []dns.RR         // DS or DNSKEY records; nil: RootAnchors()
	Now      func() time.Time // the clock for signature validity; nil: time.Now
	// Soon is how close an expiration makes an Expiring note; 0: 7 days.
	Soon time.Duration

	mu      sync.Mutex
	zones   map[string]*zoneVerdict
	queries atomic.Int64
}

// zoneVerdict is the outcome of authenticating one zone's DNSKEY RRset.
type zoneVerdict struct {
	state  State
	reason string
	keys   []*dns.DNSKEY
	notes  []Note
	err    error
}

// Queries returns how many questions the validator has asked.
func (v *Validator) Queries() int64 { return v.queries.Load() }

func (v *Validator) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Validator) soon() time.Duration {
	if v.Soon > 0 {
		return v.Soon
	}
	return 7 * 24 * time.Hour
}

// ask sends one DNSSEC question with CD=1.
func (v *Validator) ask(ctx context.Context, name string, qtype uint16) (*resolve.Answer, error) {
	v.queries.Add(1)
	return v.Resolver.QueryDNSSEC(ctx, name, qtype, true)
}

// anchorFor returns the owner and records of the trust anchor closest
// above name, or "" when none covers it.
func (v *Validator) anchorFor(name string) (string, []dns.RR) {
	anchors := v.Anchors
	if anchors == nil {
		anchors = RootAnchors()
	}
	best := ""
	var out []dns.RR
	for _, rr := range anchors {
		o := dns.CanonicalName(rr.Header().Name)
		if !dns.IsSubDomain(o, name) || best != "" && dns.CountLabel(o) < dns.CountLabel(best) {
			continue
		}
		if o != best {
			best, out = o, nil
		}
		out = append(out, rr)
	}
	return best, out
}

// Validate walks from the trust anchor down to name, then validates the
// RRset of qtype at name (or its signed denial).
func (v *Validator) Validate(ctx context.Context, name string, qtype uint16) Result {
	name = resolve.Canonical(name)
	res := Result{Name: name, Qtype: qtype}
	top, anchor := v.anchorFor(name)
	if top == "" {
		res.Reason = "no trust anchor covers " + name
		return res
	}
	zv := v.zone(ctx, top, anchor)
	if !v.take(&res, top, zv) {
		return res
	}
	keys, zone := zv.keys, top
	for _, c := range between(top, name) {
		next, done := v.descend(ctx, &res, zone, keys, c)
		if done {
			return res
		}
		if next != nil {
			keys, zone = next.keys, c
		}
	}
	v.checkData(ctx, &res, zone, keys)
	if res.capped != nil && res.State == Bogus {
		// A delegation below zone could not be ruled out (its proof was
		// not computed): unsigned data may come from an unsigned child.
		res.State, res.Iterations = Insecure, res.capped.iterations
		res.Reason = fmt.Sprintf("the data is not signed by %s (%s), and whether a delegation lies between is not proven: %v", zone, res.Reason, res.capped)
	}
	return res
}

// take records a zone's verdict in res; it reports whether the zone is
// secure and the walk goes on.
func (v *Validator) take(res *Result, zone string, zv *zoneVerdict) bool {
	res.Notes = append(res.Notes, zv.notes...)
	res.Zone = zone
	if zv.state != Secure {
		res.State, res.Reason, res.Err = zv.state, zv.reason, zv.err
		return false
	}
	res.Chain = append(res.Chain, zone)
	return true
}

// between returns the names strictly below top down to name, top-down.
func between(top, name string) []string {
	var out []string
	for n := name; n != top && dns.IsSubDomain(top, n); n = parentOf(n) {
		out = append([]string{n}, out...)
		if n == "." {
			break
		}
	}
	return out
}

func parentOf(n string) string {
	i, end := dns.NextLabel(n, 0)
	if end || i >= len(n) {
		return "."
	}
	return n[i:]
}

// descend asks for the DS at c, signed by zone. It returns c's verdict
// when c is a secure zone cut, nil when c is no zone cut, and done when
// the walk ends here (insecure, bogus, indeterminate, or c does not exist).
func (v *Validator) descend(ctx context.Context, res *Result, zone string, keys []*dns.DNSKEY, c string) (*zoneVerdict, bool) {
	ans, err := v.ask(ctx, c, dns.TypeDS)
	if err != nil {
		res.State, res.Zone, res.Err = Indeterminate, zone, err
		res.Reason = "the DS query for " + c + " failed: " + err.Error()
		return nil, true
	}
	if ds := ans.Of(dns.TypeDS); len(ds) > 0 {
		if err := v.verifyRRset(&res.Notes, zone, keys, ds, sigsOf(ans.Records, c, dns.TypeDS)); err != nil {
			return nil, v.bogus(res, zone, "DS "+c+": "+err.Error())
		}
		zv := v.zone(ctx, c, ds)
		return zv, !v.take(res, c, zv)
	}
	if cn := cnameAt(ans.Records, c); len(cn) > 0 {
		// An alias is no zone cut (RFC 2181 §10.1): the walk goes on
		// once the CNAME validates.
		if err := v.verifyRRset(&res.Notes, zone, keys, cn, sigsOf(ans.Records, c, dns.TypeCNAME)); err != nil {
			return nil, v.bogus(res, zone, "CNAME "+c+": "+err.Error())
		}
		return nil, false
	}
	return nil, v.noDS(res, zone, keys, c, ans)
}

// cnameAt returns the CNAME records owned by c, which an authoritative
// server gives for a DS question at an alias.
func cnameAt(rrs []dns.RR, c string) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeCNAME && strings.EqualFold(rr.Header().Name, c) {
			out = append(out, rr)
		}
	}
	return out
}

// bogus sets res to Bogus with reason, and reports true (the walk ends).
func (v *Validator) bogus(res *Result, zone, reason string) bool {
	res.State, res.Zone, res.Reason = Bogus, zone, reason
	return true
}

// unproven ends the walk on the proof for q that failed with err:
// insecure when its NSEC3 iterations are above the limit (RFC 9276 §3.2),
// else bogus with reason and err.
func (v *Validator) unproven(res *Result, zone, q, reason string, err error) bool {
	var it *iterationsError
	if errors.As(err, &it) {
		res.State, res.Zone, res.Iterations = Insecure, zone, it.iterations
		res.Reason = fmt.Sprintf("the proof for %s: %v", q, it)
		return true
	}
	return v.bogus(res, zone, fmt.Sprintf("%s: %v", reason, err))
}

// noDS judges a DS answer without DS records: the signed denial must
// show c is no delegation (walk on), an unsigned delegation (insecure),
// or that c does not exist (the walk ends in zone).
func (v *Validator) noDS(res *Result, zone string, keys []*dns.DNSKEY, c string, ans *resolve.Answer) bool {
	if err := v.verifyAuthority(&res.Notes, zone, keys, ans.Authority); err != nil {
		return v.bogus(res, zone, fmt.Sprintf("the denial of DS %s: %v", c, err))
	}
	if ans.NXDomain() {
		return false // checkData proves the name's absence
	}
	cut, err := delegationWithoutDS(ans.Authority, zone, c)
	var it *iterationsError
	switch {
	case errors.As(err, &it):
		// No cut can be proven or ruled out here: walk on. Data signed by
		// zone is still secure; what is not is insecure (Validate).
		res.capped = it
		return false
	case err != nil:
		return v.unproven(res, zone, "DS "+c, fmt.Sprintf("no NSEC or NSEC3 record proves that DS %s does not exist", c), err)
	case cut:
		res.State, res.Zone = Insecure, c
		res.Reason = fmt.Sprintf("the delegation to %s has no DS record in %s (proven by %s): the zone is not signed, or not linked to its parent", c, zone, denialKind(ans.Authority))
		return true
	}
	return false
}

// delegationWithoutDS reads the denial for DS at c: cut reports a
// delegation without DS (NS and no DS at c, or an opt-out span over the
// next closer name, RFC 5155 §8.6); err that the records prove nothing
// about DS at c, naming what is missing.
func delegationWithoutDS(auth []dns.RR, zone, c string) (cut bool, err error) {
	n3, err := nsec3Usable(auth, zone)
	if err != nil {
		return false, err
	}
	if len(n3) > 0 {
		if m := nsec3Match(n3, c); m != nil {
			return unsignedCut(m.TypeBitMap), bitmapLacks(m.TypeBitMap, "NSEC3", c, c, dns.TypeDS)
		}
		if nsec3NoData(n3, zone, c, dns.TypeDS) == nil {
			return false, nil // c exists through a wildcard without DS (RFC 5155 §8.7): no delegation
		}
		return true, optOutProof(n3, zone, c)
	}
	for _, n := range nsecIn(auth, zone) {
		if strings.EqualFold(n.Hdr.Name, c) {
			return unsignedCut(n.TypeBitMap), bitmapLacks(n.TypeBitMap, "NSEC", c, c, dns.TypeDS)
		}
	}
	if nsecNoData(nsecIn(auth, zone), zone, c, dns.TypeDS) == nil {
		return false, nil // an empty non-terminal (or a wildcard): no delegation
	}
	return false, fmt.Errorf("no NSEC record at %s, and none proves an empty non-terminal there (RFC 4035 §5.4)", c)
}

// unsignedCut reports a bitmap of a delegation: NS without SOA or DS.
func unsignedCut(bitmap []uint16) bool {
	return hasType(bitmap, dns.TypeNS) && !hasType(bitmap, dns.TypeDS) && !hasType(bitmap, dns.TypeSOA)
}

func denialKind(auth []dns.RR) string {
	for _, rr := range auth {
		if rr.Header().Rrtype == dns.TypeNSEC3 {
			return "NSEC3"
		}
	}
	return "NSEC"
}

func hasType(bitmap []uint16, t uint16) bool {
	for _, b := range bitmap {
		if b == t {
			return true
		}
	}
	return false
}
