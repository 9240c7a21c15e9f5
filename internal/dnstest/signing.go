package dnstest

import (
	"encoding/base64"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// sign builds the zone's denial chain and signs every authoritative
// RRset at time now.
func (z *SignedZone) sign(now time.Time) error {
	if z.Key == nil {
		return nil
	}
	if z.Spec.NSEC3 {
		z.nsec3Chain()
	} else {
		z.nsecChain()
	}
	exp := z.Spec.Expires
	if exp == 0 {
		exp = 30 * 24 * time.Hour
	}
	expiration := now.Add(exp)
	inception := now.Add(-time.Hour)
	if exp < 0 {
		inception = expiration.Add(-30 * 24 * time.Hour)
	}
	for owner, byType := range z.sets {
		for t, set := range byType {
			if !z.authoritative(owner, t) {
				continue
			}
			if err := z.signSet(owner, t, set, inception, expiration); err != nil {
				return err
			}
		}
	}
	return nil
}

// authoritative reports whether the RRset is signed: not the NS of a
// delegation point, nor anything below one.
func (z *SignedZone) authoritative(owner string, t uint16) bool {
	if z.cuts[owner] {
		return t == dns.TypeDS || t == dns.TypeNSEC
	}
	for n := owner; n != z.Origin && n != "."; n = parentName(n) {
		if z.cuts[n] {
			return false
		}
	}
	return true
}

// signSet signs one RRset with the zone's key (a corrupted signature when
// the spec says BadSig, except on the DNSKEY RRset, or BadSigTypes names t).
func (z *SignedZone) signSet(owner string, t uint16, set []dns.RR, inception, expiration time.Time) error {
	sig := &dns.RRSIG{Hdr: rrHeader(owner, dns.TypeRRSIG), Algorithm: z.Key.Algorithm,
		Inception: uint32(inception.Unix()), Expiration: uint32(expiration.Unix()),
		KeyTag: z.Key.KeyTag(), SignerName: z.Origin}
	if err := sig.Sign(z.priv, set); err != nil {
		return err
	}
	if z.Spec.BadSig && t != dns.TypeDNSKEY || slices.Contains(z.Spec.BadSigTypes, t) {
		b, _ := base64.StdEncoding.DecodeString(sig.Signature)
		b[len(b)/2] ^= 0xff
		sig.Signature = base64.StdEncoding.EncodeToString(b)
	}
	if z.sigs[owner] == nil {
		z.sigs[owner] = map[uint16][]dns.RR{}
	}
	z.sigs[owner][t] = append(z.sigs[owner][t], sig)
	return nil
}

// bitmap lists the types at owner, plus RRSIG when the name has a signed
// RRset, plus extra.
func (z *SignedZone) bitmap(owner string, extra ...uint16) []uint16 {
	var out []uint16
	signed := false
	for t := range z.sets[owner] {
		out = append(out, t)
		signed = signed || z.authoritative(owner, t)
	}
	out = append(out, extra...)
	if signed || len(extra) > 0 && !z.Spec.NSEC3 {
		out = append(out, dns.TypeRRSIG)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// nsecChain adds an NSEC record at every owner name (RFC 4034 §4).
func (z *SignedZone) nsecChain() {
	names := z.sortedNames()
	for i, n := range names {
		rr := &dns.NSEC{Hdr: rrHeader(n, dns.TypeNSEC), NextDomain: names[(i+1)%len(names)],
			TypeBitMap: z.bitmap(n, dns.TypeNSEC)}
		rr.Hdr.Ttl = 300
		z.denial = append(z.denial, rr)
	}
	for _, rr := range z.denial {
		z.add(rr)
	}
}

// nsec3Chain adds an NSEC3PARAM at the apex and an NSEC3 record for every
// name, empty non-terminals included (RFC 5155 §7.1).
func (z *SignedZone) nsec3Chain() {
	sp := z.Spec
	z.add(&dns.NSEC3PARAM{Hdr: rrHeader(z.Origin, dns.TypeNSEC3PARAM), Hash: dns.SHA1,
		Iterations: sp.Iterations, SaltLength: uint8(len(sp.Salt) / 2), Salt: sp.Salt})
	type hashed struct{ hash, name string }
	var hs []hashed
	for n := range z.exists {
		if z.authoritative(n, dns.TypeA) || z.cuts[n] {
			hs = append(hs, hashed{dns.HashName(n, dns.SHA1, sp.Iterations, sp.Salt), n})
		}
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].hash < hs[j].hash })
	for i, h := range hs {
		owner := strings.ToLower(h.hash) + "." + strings.TrimPrefix(z.Origin, ".")
		if z.Origin == "." {
			owner = strings.ToLower(h.hash) + "."
		}
		rr := &dns.NSEC3{Hdr: rrHeader(owner, dns.TypeNSEC3), Hash: dns.SHA1, Iterations: sp.Iterations,
			SaltLength: uint8(len(sp.Salt) / 2), Salt: sp.Salt, HashLength: 20,
			NextDomain: hs[(i+1)%len(hs)].hash, TypeBitMap: z.bitmap(h.name)}
		rr.Hdr.Ttl = 300
		z.denial = append(z.denial, rr)
	}
	for _, rr := range z.denial {
		z.add(rr)
	}
}

// SignRRset signs set (one RRset of the zone) with the zone's key, valid
// around World.Now as the zone's own signatures are, and returns the
// RRSIG: tests use it to make records the zone does not publish.
func (z *SignedZone) SignRRset(now time.Time, set []dns.RR) (*dns.RRSIG, error) {
	h := set[0].Header()
	sig := &dns.RRSIG{Hdr: rrHeader(h.Name, dns.TypeRRSIG), Algorithm: z.Key.Algorithm,
		Inception: uint32(now.Add(-time.Hour).Unix()), Expiration: uint32(now.Add(30 * 24 * time.Hour).Unix()),
		KeyTag: z.Key.KeyTag(), SignerName: z.Origin}
	if err := sig.Sign(z.priv, set); err != nil {
		return nil, err
	}
	return sig, nil
}
