package tlsinspect

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
)

// Bounds on the DANE material kept per handshake: the DER and digests of
// at most MaxChainDER certificates of the presented chain (the leaf
// first), and the DER of a certificate (or of its key) only when it is at
// most MaxCertDER bytes. A certificate past either bound has no material
// (Digest returns nil), so a hostile server cannot make a result hold
// more than about 10 × 64 KiB × 2 of its bytes.
const (
	MaxChainDER = 10
	MaxCertDER  = 64 << 10
)

// TLSA selectors and matching types (RFC 6698 §2.1.2, §2.1.3).
const (
	SelectorCert uint8 = 0 // the full certificate
	SelectorSPKI uint8 = 1 // its SubjectPublicKeyInfo

	MatchExact  uint8 = 0 // the selected bytes themselves
	MatchSHA256 uint8 = 1
	MatchSHA512 uint8 = 2
)

// daneMaterial is what a TLSA record of any selector and matching type is
// compared with: for each selector, the exact bytes (nil when over
// MaxCertDER) and their SHA-256 and SHA-512 digests.
type daneMaterial struct {
	sel [2][3][]byte // [selector][matching type]
}

// newDANEMaterial keeps c's DER and SPKI, bounded, and their digests.
func newDANEMaterial(c *x509.Certificate) *daneMaterial {
	m := &daneMaterial{}
	for s, raw := range [2][]byte{c.Raw, c.RawSubjectPublicKeyInfo} {
		if len(raw) > MaxCertDER {
			return nil
		}
		s256, s512 := sha256.Sum256(raw), sha512.Sum512(raw)
		m.sel[s] = [3][]byte{append([]byte(nil), raw...), s256[:], s512[:]}
	}
	return m
}

// Digest returns what a TLSA record with this selector and matching type
// must hold to match the certificate: the DER of the certificate
// (selector 0) or of its SubjectPublicKeyInfo (selector 1), as is
// (matching type 0) or as its SHA-256 (1) or SHA-512 (2) digest. It
// returns nil for an unknown selector or matching type, and for a
// certificate past the bounds (MaxChainDER, MaxCertDER). The result must
// not be modified.
func (c *Cert) Digest(selector, matchingType uint8) []byte {
	if c == nil || c.dane == nil || selector > SelectorSPKI || matchingType > MatchSHA512 {
		return nil
	}
	return c.dane.sel[selector][matchingType]
}

// DER returns the certificate as the server sent it, nil when it was past
// the bounds. The result must not be modified.
func (c *Cert) DER() []byte { return c.Digest(SelectorCert, MatchExact) }

// ChainDER returns the presented chain as DER, leaf first, up to the first
// certificate past the bounds (at most MaxChainDER certificates).
func (t *Info) ChainDER() [][]byte {
	if t == nil {
		return nil
	}
	var out [][]byte
	for i := range t.Chain {
		der := t.Chain[i].DER()
		if der == nil {
			break
		}
		out = append(out, der)
	}
	return out
}
