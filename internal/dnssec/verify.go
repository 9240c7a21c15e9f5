package dnssec

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// zone returns the verdict on the DNSKEY RRset of z, authenticated by
// trust (the parent's DS records, or a trust anchor); lookup failures are
// not kept.
func (v *Validator) zone(ctx context.Context, z string, trust []dns.RR) *zoneVerdict {
	v.mu.Lock()
	zv, ok := v.zones[z]
	v.mu.Unlock()
	if ok {
		return zv
	}
	zv = v.authenticate(ctx, z, trust)
	if zv.state != Indeterminate {
		v.mu.Lock()
		if v.zones == nil {
			v.zones = map[string]*zoneVerdict{}
		}
		v.zones[z] = zv
		v.mu.Unlock()
	}
	return zv
}

// authenticate asks for the DNSKEY RRset of z and validates it with a key
// that trust names (RFC 4035 §5.2).
func (v *Validator) authenticate(ctx context.Context, z string, trust []dns.RR) *zoneVerdict {
	zv := &zoneVerdict{notes: trustNotes(z, trust)}
	if !anySupported(trust) {
		zv.state = Insecure
		zv.reason = fmt.Sprintf("the DS records of %s use only algorithms or digest types this validator does not support (RFC 4035 §5.2: treated as insecure)", z)
		return zv
	}
	ans, err := v.ask(ctx, z, dns.TypeDNSKEY)
	if err != nil {
		zv.reason, zv.err = "the DNSKEY query for "+z+" failed: "+err.Error(), err
		return zv
	}
	keys := zoneKeys(ans.Records, z)
	trusted := trustedKeys(keys, trust)
	switch {
	case len(keys) == 0:
		zv.state, zv.reason = Bogus, fmt.Sprintf("DNSKEY %s: no zone key, but %s", z, describeTrust(trust))
		return zv
	case len(trusted) == 0:
		zv.state, zv.reason = Bogus, fmt.Sprintf("DNSKEY %s: no key matches %s; the zone's keys have tags %s", z, describeTrust(trust), keyTags(keys))
		return zv
	}
	if err := v.verifyRRset(&zv.notes, z, trusted, ans.Of(dns.TypeDNSKEY), sigsOf(ans.Records, z, dns.TypeDNSKEY)); err != nil {
		zv.state, zv.reason = Bogus, fmt.Sprintf("DNSKEY %s: %v", z, err)
		return zv
	}
	for _, k := range keys {
		if weakAlgorithm(k.Algorithm) {
			zv.notes = append(zv.notes, Note{WeakAlgorithm, z, fmt.Sprintf("DNSKEY %s (key tag %d) uses algorithm %d (%s)", z, k.KeyTag(), k.Algorithm, dns.AlgorithmToString[k.Algorithm])})
		}
	}
	zv.state, zv.keys = Secure, keys
	v.nsec3Param(ctx, zv, z)
	return zv
}

// nsec3Param notes a validated NSEC3PARAM of z with extra iterations
// (RFC 9276 §3.1); a failed or unsigned answer adds nothing.
func (v *Validator) nsec3Param(ctx context.Context, zv *zoneVerdict, z string) {
	ans, err := v.ask(ctx, z, dns.TypeNSEC3PARAM)
	if err != nil {
		return
	}
	set := ans.Of(dns.TypeNSEC3PARAM)
	if len(set) == 0 || v.verifyRRset(&zv.notes, z, zv.keys, set, sigsOf(ans.Records, z, dns.TypeNSEC3PARAM)) != nil {
		return
	}
	if p := set[0].(*dns.NSEC3PARAM); p.Iterations > 0 {
		zv.notes = append(zv.notes, Note{NSEC3Iterations, z, fmt.Sprintf("NSEC3PARAM %s: %d extra iterations", z, p.Iterations)})
	}
}

// trustNotes notes the weak digests among DS records.
func trustNotes(z string, trust []dns.RR) []Note {
	var out []Note
	for _, rr := range trust {
		if ds, ok := rr.(*dns.DS); ok && weakDigest(ds.DigestType) {
			out = append(out, Note{WeakDigest, z, fmt.Sprintf("DS %s (key tag %d) uses digest type %d (%s)", z, ds.KeyTag, ds.DigestType, dns.HashToString[ds.DigestType])})
		}
	}
	return out
}

func anySupported(trust []dns.RR) bool {
	for _, rr := range trust {
		switch t := rr.(type) {
		case *dns.DS:
			if supportedAlgorithm(t.Algorithm) && supportedDigest(t.DigestType) {
				return true
			}
		case *dns.DNSKEY:
			if supportedAlgorithm(t.Algorithm) {
				return true
			}
		}
	}
	return false
}

// zoneKeys returns the DNSKEY records of z with the zone key flag.
func zoneKeys(rrs []dns.RR, z string) []*dns.DNSKEY {
	var out []*dns.DNSKEY
	for _, rr := range rrs {
		if k, ok := rr.(*dns.DNSKEY); ok && k.Flags&dns.ZONE != 0 && k.Protocol == 3 && strings.EqualFold(k.Hdr.Name, z) {
			out = append(out, k)
		}
	}
	return out
}

// trustedKeys returns the keys that a DS of trust digests, or that a
// DNSKEY of trust is.
func trustedKeys(keys []*dns.DNSKEY, trust []dns.RR) []*dns.DNSKEY {
	var out []*dns.DNSKEY
	for _, k := range keys {
		for _, rr := range trust {
			if matchesTrust(k, rr) {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

func matchesTrust(k *dns.DNSKEY, rr dns.RR) bool {
	switch t := rr.(type) {
	case *dns.DS:
		if t.KeyTag != k.KeyTag() || t.Algorithm != k.Algorithm || !supportedDigest(t.DigestType) {
			return false
		}
		d := k.ToDS(t.DigestType)
		return d != nil && strings.EqualFold(d.Digest, t.Digest)
	case *dns.DNSKEY:
		return t.Algorithm == k.Algorithm && t.PublicKey == k.PublicKey && t.Flags == k.Flags
	}
	return false
}

func describeTrust(trust []dns.RR) string {
	var parts []string
	for _, rr := range trust {
		switch t := rr.(type) {
		case *dns.DS:
			parts = append(parts, fmt.Sprintf("DS key tag %d (algorithm %d, digest type %d)", t.KeyTag, t.Algorithm, t.DigestType))
		case *dns.DNSKEY:
			parts = append(parts, fmt.Sprintf("trusted DNSKEY key tag %d", t.KeyTag()))
		}
	}
	return "the " + strings.Join(parts, ", ")
}

func keyTags(keys []*dns.DNSKEY) string {
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprint(k.KeyTag()))
	}
	return strings.Join(parts, ", ")
}

// sigsOf returns the RRSIGs over (owner, covered) among rrs.
func sigsOf(rrs []dns.RR, owner string, covered uint16) []*dns.RRSIG {
	var out []*dns.RRSIG
	for _, rr := range rrs {
		if s, ok := rr.(*dns.RRSIG); ok && s.TypeCovered == covered && strings.EqualFold(s.Hdr.Name, owner) {
			out = append(out, s)
		}
	}
	return out
}

// verifyRRset checks that one RRSIG by a key of zone verifies set and is
// valid now; it notes a signature that expires within Soon.
func (v *Validator) verifyRRset(notes *[]Note, zone string, keys []*dns.DNSKEY, set []dns.RR, sigs []*dns.RRSIG) error {
	_, err := v.verifySig(notes, zone, keys, set, sigs)
	return err
}

// verifySig is verifyRRset, returning the RRSIG that verifies set.
func (v *Validator) verifySig(notes *[]Note, zone string, keys []*dns.DNSKEY, set []dns.RR, sigs []*dns.RRSIG) (*dns.RRSIG, error) {
	if len(sigs) == 0 {
		return nil, errors.New("no RRSIG")
	}
	now := v.now()
	var last error
	for _, sig := range sigs {
		for _, k := range keys {
			if k.KeyTag() != sig.KeyTag || k.Algorithm != sig.Algorithm || !strings.EqualFold(dns.CanonicalName(sig.SignerName), zone) {
				continue
			}
			if err := checkSig(sig, k, set, now); err != nil {
				last = err
				continue
			}
			if exp := sigTime(sig.Expiration, now); exp.Sub(now) < v.soon() {
				*notes = append(*notes, Note{Expiring, zone, fmt.Sprintf("RRSIG %s %s expires %s", dns.TypeToString[sig.TypeCovered], sig.Hdr.Name, exp.UTC().Format(time.RFC3339))})
			}
			return sig, nil
		}
	}
	if last == nil {
		last = fmt.Errorf("no RRSIG by a key of %s (RRSIG key tags %s, zone key tags %s)", zone, sigTags(sigs), keyTags(keys))
	}
	return nil, last
}

// checkSig verifies one signature and its validity window at now.
func checkSig(sig *dns.RRSIG, k *dns.DNSKEY, set []dns.RR, now time.Time) error {
	if !supportedAlgorithm(sig.Algorithm) {
		return fmt.Errorf("RRSIG key tag %d: unsupported algorithm %d", sig.KeyTag, sig.Algorithm)
	}
	if err := sig.Verify(k, set); err != nil {
		return fmt.Errorf("RRSIG key tag %d does not verify: %v", sig.KeyTag, err)
	}
	if !sig.ValidityPeriod(now) {
		inc, exp := sigTime(sig.Inception, now), sigTime(sig.Expiration, now)
		if now.Before(inc) {
			return fmt.Errorf("RRSIG key tag %d is not valid before %s", sig.KeyTag, inc.UTC().Format(time.RFC3339))
		}
		return fmt.Errorf("RRSIG key tag %d expired %s", sig.KeyTag, exp.UTC().Format(time.RFC3339))
	}
	return nil
}

// sigTime turns a 32-bit signature time into the time nearest now (RFC
// 4034 §3.1.5: serial number arithmetic).
func sigTime(t uint32, now time.Time) time.Time {
	d := int64(int32(t - uint32(now.Unix())))
	return now.Add(time.Duration(d) * time.Second).Truncate(time.Second)
}

func sigTags(sigs []*dns.RRSIG) string {
	var parts []string
	for _, s := range sigs {
		parts = append(parts, fmt.Sprint(s.KeyTag))
	}
	return strings.Join(parts, ", ")
}
