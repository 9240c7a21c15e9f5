// Package dnssec validates DNS answers from a trust anchor down, as RFC
// 4035 §5 describes: the DNSKEY RRset of each zone cut authenticated by
// the parent's DS, every RRSIG checked against an injected clock, and the
// NSEC or NSEC3 proof that a DS does not exist (an insecure delegation).
// Each name gets one of the four states of RFC 4035 §4.3 with a reason
// that names the failing name and record.
//
// It asks its questions through a resolve.DNSSECResolver with DO=1 and
// CD=1, so its verdict does not depend on whether (or how well) the
// resolver validates.
package dnssec

import (
	"fmt"
	"io"
	"strings"

	"github.com/miekg/dns"
)

// State is the security status of a name (RFC 4035 §4.3).
type State int

// The states. The zero value is Indeterminate.
const (
	Indeterminate State = iota // no verdict: a lookup failed, or no trust anchor covers the name
	Secure                     // a chain of signatures from the trust anchor to the data
	Insecure                   // a signed proof that a delegation on the way has no DS
	Bogus                      // a chain should exist and does not validate
)

func (s State) String() string {
	return [...]string{"indeterminate", "secure", "insecure", "bogus"}[s]
}

// NoteKind classifies a Note.
type NoteKind int

// The kinds of notes.
const (
	WeakAlgorithm   NoteKind = iota + 1 // a DNSKEY or DS of an algorithm RFC 8624 says not to sign with
	WeakDigest                          // a DS digest RFC 8624 says not to use (SHA-1, GOST)
	NSEC3Iterations                     // NSEC3 with extra iterations (RFC 9276 §3.1: use 0)
	Expiring                            // a signature that expires soon
)

// Note is an observation on the way that does not change the state.
type Note struct {
	Kind   NoteKind
	Zone   string
	Detail string
}

// The IANA root zone trust anchors (https://data.iana.org/root-anchors/
// root-anchors.xml): KSK-2017 and KSK-2024, algorithm 8, SHA-256.
const rootAnchors = `. IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D
. IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16
`

// RootAnchors returns the IANA root trust anchors as DS records.
func RootAnchors() []dns.RR {
	rrs, err := ParseAnchors(strings.NewReader(rootAnchors), "built-in")
	if err != nil {
		panic(err)
	}
	return rrs
}

// MaxAnchors bounds the records of a trust anchor file.
const MaxAnchors = 256

// ParseAnchors reads trust anchors in zone-file format: DS records, or
// DNSKEY records with the zone key flag, of class IN. Any other record,
// a syntax error or an empty input is an error naming file and line.
func ParseAnchors(r io.Reader, file string) ([]dns.RR, error) {
	zp := dns.NewZoneParser(io.LimitReader(r, 1<<20), ".", file)
	zp.SetIncludeAllowed(false)
	var out []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if err := checkAnchor(rr); err != nil {
			return nil, fmt.Errorf("%s: %v", file, err)
		}
		if len(out) == MaxAnchors {
			return nil, fmt.Errorf("%s: more than %d trust anchors", file, MaxAnchors)
		}
		rr.Header().Name = dns.CanonicalName(rr.Header().Name)
		out = append(out, rr)
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("trust anchor %v", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no DS or DNSKEY record", file)
	}
	return out, nil
}

// checkAnchor accepts a DS, or a DNSKEY with the zone key flag, of class IN.
func checkAnchor(rr dns.RR) error {
	h := rr.Header()
	if h.Class != dns.ClassINET {
		return fmt.Errorf("%s: class %s, want IN", h.Name, dns.ClassToString[h.Class])
	}
	switch v := rr.(type) {
	case *dns.DS:
		if v.Digest == "" {
			return fmt.Errorf("DS %s: empty digest", h.Name)
		}
		return nil
	case *dns.DNSKEY:
		if v.Flags&dns.ZONE == 0 {
			return fmt.Errorf("DNSKEY %s: flags %d lack the zone key bit (256)", h.Name, v.Flags)
		}
		return nil
	}
	return fmt.Errorf("%s %s: a trust anchor is a DS or DNSKEY record", dns.TypeToString[h.Rrtype], h.Name)
}

// weakAlgorithm reports the DNSKEY algorithms RFC 8624 §3.1 says MUST
// NOT or NOT RECOMMENDED for signing.
func weakAlgorithm(alg uint8) bool {
	switch alg {
	case dns.RSAMD5, dns.DSA, dns.RSASHA1, dns.DSANSEC3SHA1, dns.RSASHA1NSEC3SHA1, dns.ECCGOST:
		return true
	}
	return false
}

// weakDigest reports the DS digest types RFC 8624 §3.3 says MUST NOT be
// used to create DS records (SHA-1, GOST).
func weakDigest(d uint8) bool { return d == dns.SHA1 || d == dns.GOST94 }

// supportedAlgorithm reports the algorithms this validator verifies.
func supportedAlgorithm(alg uint8) bool {
	switch alg {
	case dns.RSASHA1, dns.RSASHA1NSEC3SHA1, dns.RSASHA256, dns.RSASHA512,
		dns.ECDSAP256SHA256, dns.ECDSAP384SHA384, dns.ED25519:
		return true
	}
	return false
}

// supportedDigest reports the DS digest types this validator computes.
func supportedDigest(d uint8) bool { return d == dns.SHA1 || d == dns.SHA256 || d == dns.SHA384 }
