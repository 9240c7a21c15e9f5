package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

var (
	// ErrRevoked: p= is empty, the key was withdrawn.
	ErrRevoked = errors.New("dkim: key revoked (empty p=)")
	// ErrKey: p= does not hold a usable public key of the record's type.
	ErrKey = errors.New("dkim: invalid public key")
)

// Key forms, as found in p=.
const (
	// FormSPKI is an X.509 SubjectPublicKeyInfo (what RFC 6376's example
	// and openssl produce for RSA).
	FormSPKI = "SubjectPublicKeyInfo"
	// FormPKCS1 is a bare PKCS#1 RSAPublicKey (what RFC 6376 §3.6.1's text
	// literally says; RFC 6376 erratum 3017; some signers publish it).
	FormPKCS1 = "RSAPublicKey"
	// FormRaw is the 32 raw octets of an Ed25519 key (RFC 8463 §4.2).
	FormRaw = "raw"
)

// Key is a measured public key.
type Key struct {
	Type   string           `json:"type"` // "rsa" or "ed25519"
	Bits   int              `json:"bits"` // RSA modulus length; 256 for Ed25519
	Form   string           `json:"form"` // FormSPKI, FormPKCS1 or FormRaw
	Public crypto.PublicKey `json:"-"`
}

func (k *Key) String() string {
	if k.Type == "ed25519" {
		return "Ed25519"
	}
	return fmt.Sprintf("RSA %d-bit", k.Bits)
}

var (
	oidRSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidEd25519 = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidEC      = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidDSA     = asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 1}
)

type spki struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

type pkcs1 struct {
	N *big.Int
	E *big.Int
}

// MaxRSABits bounds the moduli ParseKey accepts (a record cannot carry a
// larger one anyway; this keeps hostile input cheap).
const MaxRSABits = 16384

// ParseKey decodes the DER bytes of p= for key type keyType ("rsa" or
// "ed25519"). RSA keys are accepted in SubjectPublicKeyInfo and bare
// RSAPublicKey form and measured whatever their size: the size policy
// (RFC 8301) is the caller's. Unlike crypto/x509 it does not refuse small
// moduli, so a 512-bit key is reported as such rather than as garbage.
func ParseKey(keyType string, der []byte) (*Key, error) {
	switch keyType {
	case "ed25519":
		if len(der) == ed25519.PublicKeySize {
			return &Key{Type: "ed25519", Bits: 256, Form: FormRaw, Public: ed25519.PublicKey(der)}, nil
		}
		var s spki
		if rest, err := asn1.Unmarshal(der, &s); err == nil && len(rest) == 0 && s.Algorithm.Algorithm.Equal(oidEd25519) {
			return nil, fmt.Errorf("%w: p= holds an Ed25519 key wrapped in SubjectPublicKeyInfo (%d octets); RFC 8463 §4.2 requires the raw 32-octet key", ErrKey, len(der))
		}
		return nil, fmt.Errorf("%w: an Ed25519 key is 32 octets, p= decodes to %d", ErrKey, len(der))
	case "rsa", "":
	default:
		return nil, fmt.Errorf("%w: unknown key type %q", ErrKey, keyType)
	}
	var s spki
	if rest, err := asn1.Unmarshal(der, &s); err == nil && len(rest) == 0 {
		switch {
		case s.Algorithm.Algorithm.Equal(oidRSA):
			k, err := parsePKCS1(s.PublicKey.RightAlign())
			if err != nil {
				return nil, err
			}
			k.Form = FormSPKI
			return k, nil
		case s.Algorithm.Algorithm.Equal(oidEd25519):
			return nil, fmt.Errorf("%w: p= holds an Ed25519 key but k= says rsa; publish k=ed25519 with the raw 32-octet key", ErrKey)
		case s.Algorithm.Algorithm.Equal(oidEC):
			return nil, fmt.Errorf("%w: p= holds an elliptic-curve (ECDSA) key, which DKIM does not define", ErrKey)
		case s.Algorithm.Algorithm.Equal(oidDSA):
			return nil, fmt.Errorf("%w: p= holds a DSA key, which DKIM does not define", ErrKey)
		default:
			return nil, fmt.Errorf("%w: p= holds a key of algorithm %s, not RSA", ErrKey, s.Algorithm.Algorithm)
		}
	}
	k, err := parsePKCS1(der)
	if err != nil {
		if len(der) == ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: p= is 32 octets, the size of an Ed25519 key, but k= says rsa (add k=ed25519)", ErrKey)
		}
		return nil, fmt.Errorf("%w: p= (%d octets) is neither a SubjectPublicKeyInfo nor an RSAPublicKey structure", ErrKey, len(der))
	}
	k.Form = FormPKCS1
	return k, nil
}

func parsePKCS1(der []byte) (*Key, error) {
	var p pkcs1
	rest, err := asn1.Unmarshal(der, &p)
	if err != nil {
		return nil, fmt.Errorf("%w: the RSA public key does not decode: %v", ErrKey, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d octets of trailing data after the RSA public key", ErrKey, len(rest))
	}
	switch {
	case p.N == nil || p.E == nil:
		return nil, fmt.Errorf("%w: the RSA public key is incomplete", ErrKey)
	case p.N.Sign() <= 0:
		return nil, fmt.Errorf("%w: the RSA modulus is not positive (a missing leading zero octet?)", ErrKey)
	case p.N.BitLen() > MaxRSABits:
		return nil, fmt.Errorf("%w: the RSA modulus has %d bits, over %d", ErrKey, p.N.BitLen(), MaxRSABits)
	case p.N.Bit(0) == 0:
		return nil, fmt.Errorf("%w: the RSA modulus is even", ErrKey)
	case p.E.Sign() <= 0 || p.E.Cmp(big.NewInt(1)) == 0 || !p.E.IsInt64() || p.E.Int64() > 1<<31-1 || p.E.Bit(0) == 0:
		return nil, fmt.Errorf("%w: the RSA public exponent %s is not usable", ErrKey, p.E)
	}
	return &Key{Type: "rsa", Bits: p.N.BitLen(), Public: &rsa.PublicKey{N: p.N, E: int(p.E.Int64())}}, nil
}
