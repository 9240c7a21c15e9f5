// Package dane matches TLSA records (RFC 6698) against the certificate
// chain an SMTP server presented, the way a DANE sender does (RFC 7672
// §3.1, with the operational rules of RFC 7671): DANE-EE(3) matches the
// server's own certificate or key with no name or date check, DANE-TA(2)
// a trust anchor in the presented chain that issued the server
// certificate, whose names must then include the TLSA base domain; the
// PKIX usages (0, 1) are unusable for SMTP, and only the strongest
// matching type of each usage and selector counts (RFC 7671 §9).
package dane

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// Certificate usages (RFC 6698 §2.1.1; acronyms from RFC 7218).
const (
	PKIXTA uint8 = 0
	PKIXEE uint8 = 1
	DANETA uint8 = 2
	DANEEE uint8 = 3
)

// Selectors (RFC 6698 §2.1.2).
const (
	SelectorCert uint8 = 0 // the full certificate
	SelectorSPKI uint8 = 1 // its SubjectPublicKeyInfo
)

// Matching types (RFC 6698 §2.1.3).
const (
	MatchFull   uint8 = 0 // the selected bytes themselves
	MatchSHA256 uint8 = 1
	MatchSHA512 uint8 = 2
)

// Record is one TLSA record's RDATA.
type Record struct {
	Usage        uint8  `json:"usage"`
	Selector     uint8  `json:"selector"`
	MatchingType uint8  `json:"matching_type"`
	Data         []byte `json:"-"`
	// BadHex: the certificate association data was not valid hex (the
	// record cannot match anything).
	BadHex bool `json:"bad_hex,omitempty"`
}

// FromRR converts a parsed TLSA record.
func FromRR(rr *dns.TLSA) Record {
	r := Record{Usage: rr.Usage, Selector: rr.Selector, MatchingType: rr.MatchingType}
	data, err := hex.DecodeString(rr.Certificate)
	if err != nil {
		r.BadHex = true
		return r
	}
	r.Data = data
	return r
}

// FromRRs converts every TLSA record of rrs, ignoring other types.
func FromRRs(rrs []dns.RR) []Record {
	var out []Record
	for _, rr := range rrs {
		if t, ok := rr.(*dns.TLSA); ok {
			out = append(out, FromRR(t))
		}
	}
	return out
}

// String renders the RDATA as a zone file does: "3 1 1 <hex>".
func (r Record) String() string {
	return fmt.Sprintf("%d %d %d %s", r.Usage, r.Selector, r.MatchingType, hex.EncodeToString(r.Data))
}

var (
	usageNames    = [...]string{"PKIX-TA(0)", "PKIX-EE(1)", "DANE-TA(2)", "DANE-EE(3)"}
	selectorNames = [...]string{"Cert(0)", "SPKI(1)"}
	matchNames    = [...]string{"Full(0)", "SHA2-256(1)", "SHA2-512(2)"}
)

// Describe names the parameters as RFC 7218 does: "DANE-EE(3) SPKI(1)
// SHA2-256(1)"; unknown values are given as numbers.
func (r Record) Describe() string {
	pick := func(names []string, v uint8, what string) string {
		if int(v) < len(names) {
			return names[v]
		}
		return fmt.Sprintf("%s %d", what, v)
	}
	return strings.Join([]string{pick(usageNames[:], r.Usage, "usage"), pick(selectorNames[:], r.Selector, "selector"),
		pick(matchNames[:], r.MatchingType, "matching type")}, " ")
}

// PKIX reports whether the record has a PKIX usage (0 or 1), which SMTP
// senders do not use (RFC 7672 §3.1.3).
func (r Record) PKIX() bool { return r.Usage == PKIXTA || r.Usage == PKIXEE }

// problem says why the record cannot be used on its own terms (before
// digest agility), "" when it can.
func (r Record) problem() string {
	switch {
	case r.PKIX():
		return "a PKIX usage, which SMTP senders do not use (RFC 7672 §3.1.3)"
	case r.Usage > DANEEE:
		return fmt.Sprintf("unknown certificate usage %d", r.Usage)
	case r.Selector > SelectorSPKI:
		return fmt.Sprintf("unknown selector %d", r.Selector)
	case r.MatchingType > MatchSHA512:
		return fmt.Sprintf("unknown matching type %d", r.MatchingType)
	case r.BadHex:
		return "the certificate association data is not hexadecimal"
	case r.MatchingType == MatchSHA256 && len(r.Data) != sha256.Size:
		return fmt.Sprintf("a SHA2-256 digest of %d bytes (not %d)", len(r.Data), sha256.Size)
	case r.MatchingType == MatchSHA512 && len(r.Data) != sha512.Size:
		return fmt.Sprintf("a SHA2-512 digest of %d bytes (not %d)", len(r.Data), sha512.Size)
	case r.MatchingType == MatchFull && len(r.Data) == 0:
		return "empty certificate association data"
	}
	return ""
}

// strength orders the matching types for digest agility (RFC 7671 §9):
// SHA2-512 over SHA2-256 over Full.
func strength(mt uint8) int { return int(mt) }
