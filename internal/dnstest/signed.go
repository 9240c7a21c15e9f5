package dnstest

import (
	"crypto"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/dnssec"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// DSPolicy is what the parent of a signed zone publishes for it.
type DSPolicy int

const (
	DSMatch    DSPolicy = iota // a SHA-256 DS of the zone's key: a secure delegation
	DSNone                     // no DS: an insecure delegation, proven by NSEC or NSEC3
	DSWrongKey                 // a DS for a key that is not in the zone: bogus
	DSSHA1                     // a SHA-1 DS of the zone's key (RFC 8624: deprecated)
)

// SignedSpec describes one zone of a World. Zones are signed at test time
// with one key (flags 257, signing every RRset) unless Unsigned.
type SignedSpec struct {
	Origin string
	// Records is zone text with $ORIGIN set to Origin; the SOA and the
	// apex NS are added, and so are the delegations (NS, DS) to the
	// World's other zones below this one. A wildcard (*.x) answers for
	// the names below x that do not exist (RFC 4035 §3.1.3.3).
	Records   string
	Unsigned  bool
	Algorithm uint8 // default dns.ECDSAP256SHA256; dns.RSASHA1 uses a 1024-bit key
	DS        DSPolicy
	// NSEC3 denies with NSEC3 records (SHA-1, no opt-out) of Iterations
	// and Salt (hex) instead of NSEC.
	NSEC3      bool
	Iterations uint16
	Salt       string
	// Expires is when the signatures expire, relative to World.Now;
	// default 30 days. A negative value makes them expired.
	Expires time.Duration
	// BadSig corrupts every signature except the DNSKEY RRset's.
	BadSig bool
	// BadSigTypes corrupts the signatures of the RRsets of these types
	// only (a bogus TLSA RRset in an otherwise secure zone).
	BadSigTypes []uint16
}

// World is a signed DNS tree made at test time: a root, zones below it,
// and the root's DS as trust anchor. Serve it with StartWorld.
type World struct {
	Now     time.Time
	Anchors []dns.RR // the DS records of the root key
	Zones   map[string]*SignedZone
}

// SignedZone is one zone of a World with its records, signatures and
// denial chain.
type SignedZone struct {
	Spec   SignedSpec
	Origin string
	Key    *dns.DNSKEY // nil when unsigned
	priv   crypto.Signer
	sets   map[string]map[uint16][]dns.RR // owner -> type -> RRset
	sigs   map[string]map[uint16][]dns.RR // owner -> covered type -> RRSIGs
	exists map[string]bool                // owners and empty non-terminals
	cuts   map[string]bool                // delegation points
	denial []dns.RR                       // the NSEC or NSEC3 records, in chain order
}

// NewWorld builds and signs the zones of specs at time now. A spec for
// "." is added when none is given.
func NewWorld(t testing.TB, now time.Time, specs ...SignedSpec) *World {
	t.Helper()
	w := &World{Now: now, Zones: map[string]*SignedZone{}}
	if !hasRoot(specs) {
		specs = append([]SignedSpec{{Origin: "."}}, specs...)
	}
	for _, sp := range specs {
		z, err := newSignedZone(sp)
		if err != nil {
			t.Fatalf("dnstest: zone %s: %v", sp.Origin, err)
		}
		w.Zones[z.Origin] = z
	}
	w.delegate()
	for _, z := range w.Zones {
		if err := z.sign(now); err != nil {
			t.Fatalf("dnstest: signing %s: %v", z.Origin, err)
		}
	}
	root := w.Zones["."]
	if root.Key != nil {
		w.Anchors = []dns.RR{root.Key.ToDS(dns.SHA256)}
	}
	return w
}

func hasRoot(specs []SignedSpec) bool {
	for _, sp := range specs {
		if resolve.Canonical(sp.Origin) == "." {
			return true
		}
	}
	return false
}

// newSignedZone parses the records of sp and makes its key.
func newSignedZone(sp SignedSpec) (*SignedZone, error) {
	origin := resolve.Canonical(sp.Origin)
	text := fmt.Sprintf("$ORIGIN %s\n@ 3600 IN SOA ns.%s hostmaster.%s 1 7200 3600 1209600 300\n@ 3600 IN NS ns.%s\n%s",
		origin, strings.TrimPrefix(origin, "."), strings.TrimPrefix(origin, "."), strings.TrimPrefix(origin, "."), sp.Records)
	z := &SignedZone{Spec: sp, Origin: origin, sets: map[string]map[uint16][]dns.RR{},
		sigs: map[string]map[uint16][]dns.RR{}, exists: map[string]bool{}, cuts: map[string]bool{}}
	zp := dns.NewZoneParser(strings.NewReader(text), origin, "world:"+origin)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		z.add(rr)
	}
	if err := zp.Err(); err != nil {
		return nil, err
	}
	if sp.Unsigned {
		return z, nil
	}
	return z, z.makeKey()
}

// makeKey generates the zone's key (flags 257) of the spec's algorithm.
func (z *SignedZone) makeKey() error {
	alg, bits := z.Spec.Algorithm, 256
	if alg == 0 {
		alg = dns.ECDSAP256SHA256
	}
	switch alg {
	case dns.RSASHA1, dns.RSASHA256, dns.RSASHA1NSEC3SHA1:
		bits = 1024
	case dns.ECDSAP384SHA384:
		bits = 384
	}
	k := &dns.DNSKEY{Hdr: rrHeader(z.Origin, dns.TypeDNSKEY), Flags: 257, Protocol: 3, Algorithm: alg}
	priv, err := k.Generate(bits)
	if err != nil {
		return err
	}
	z.Key, z.priv = k, priv.(crypto.Signer)
	z.add(k)
	return nil
}

func rrHeader(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: 3600}
}

// add stores rr in its RRset and marks its owner and the empty
// non-terminals above it as existing.
func (z *SignedZone) add(rr dns.RR) {
	h := rr.Header()
	h.Name = resolve.Canonical(h.Name)
	if z.sets[h.Name] == nil {
		z.sets[h.Name] = map[uint16][]dns.RR{}
	}
	z.sets[h.Name][h.Rrtype] = append(z.sets[h.Name][h.Rrtype], rr)
	for n := h.Name; dns.IsSubDomain(z.Origin, n); n = parentName(n) {
		z.exists[n] = true
		if n == z.Origin {
			break
		}
	}
}

func parentName(n string) string {
	i, end := dns.NextLabel(n, 0)
	if end || i >= len(n) {
		return "."
	}
	return n[i:]
}

// delegate adds to each zone the NS (and DS, per the child's policy) of
// the World's zones directly below it.
func (w *World) delegate() {
	for _, child := range w.Zones {
		if child.Origin == "." {
			continue
		}
		p := w.parentZone(child.Origin)
		if p == nil {
			continue
		}
		p.add(&dns.NS{Hdr: rrHeader(child.Origin, dns.TypeNS), Ns: "ns." + child.Origin})
		p.cuts[child.Origin] = true
		if ds := child.ds(); ds != nil {
			p.add(ds)
		}
	}
}

// ds returns the DS record the parent publishes for z, or nil.
func (z *SignedZone) ds() dns.RR {
	if z.Key == nil {
		return nil
	}
	switch z.Spec.DS {
	case DSNone:
		return nil
	case DSSHA1:
		return z.Key.ToDS(dns.SHA1)
	case DSWrongKey:
		other := &dns.DNSKEY{Hdr: rrHeader(z.Origin, dns.TypeDNSKEY), Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
		if _, err := other.Generate(256); err != nil {
			panic(err)
		}
		return other.ToDS(dns.SHA256)
	}
	return z.Key.ToDS(dns.SHA256)
}

// parentZone returns the zone that holds the delegation to origin.
func (w *World) parentZone(origin string) *SignedZone {
	for n := parentName(origin); ; n = parentName(n) {
		if z, ok := w.Zones[n]; ok {
			return z
		}
		if n == "." {
			return nil
		}
	}
}

// zoneFor returns the zone that answers (name, qtype): the closest
// enclosing zone, except that a DS at a zone's apex is the parent's.
func (w *World) zoneFor(name string, qtype uint16) *SignedZone {
	for n := name; ; n = parentName(n) {
		if z, ok := w.Zones[n]; ok && !(qtype == dns.TypeDS && n == name && n != ".") {
			return z
		}
		if n == "." {
			return nil
		}
	}
}

// sortedNames returns the zone's owner names in canonical order.
func (z *SignedZone) sortedNames() []string {
	names := make([]string, 0, len(z.sets))
	for n := range z.sets {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return dnssec.CanonicalCompare(names[i], names[j]) < 0 })
	return names
}
