package message

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-msgauth/authres"
	msgdkim "github.com/emersion/go-msgauth/dkim"

	"github.com/mailcheck/mailcheck/internal/dkim"
)

// sigResult is what one DKIM-Signature came to.
type sigResult struct {
	domain, selector, algo string
	bits                   int    // key size; 0 when the key was not read
	length                 string // l= as written, "" when absent
	headers                []string
	value                  authres.ResultValue
	reason                 string
}

// keyLog is the LookupTXT given to go-msgauth: it asks the judge's
// resolver under the judgement's context and remembers each answer and
// failure, so findings can name the key and the failed query.
type keyLog struct {
	lookup func(string) ([]string, error)
	mu     sync.Mutex
	txts   map[string][]string
	errs   map[string]error
}

// get implements VerifyOptions.LookupTXT.
func (k *keyLog) get(name string) ([]string, error) {
	txts, err := k.lookup(name)
	key := strings.ToLower(strings.TrimSuffix(name, "."))
	k.mu.Lock()
	defer k.mu.Unlock()
	k.txts[key], k.errs[key] = txts, err
	return txts, err
}

// chunked hides a reader's WriteTo, so go-msgauth's body canonicalizer
// is fed buffer-sized chunks instead of the whole body in one Write (it
// copies what it is given: twice the message size at once otherwise).
type chunked struct{ r io.Reader }

// Read implements io.Reader.
func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

// dkim verifies every DKIM-Signature (at most MaxSignatures) with
// go-msgauth, keys fetched through the judge's resolver.
func (s *state) dkim() {
	sigs := s.hdr.Values("DKIM-Signature")
	if len(sigs) == 0 {
		s.add(SpecDKIMNone.New("The message carries no DKIM-Signature.").
			WithFix("Sign outgoing mail with DKIM (OpenDKIM, rspamd, or the provider's signing) with a 2048-bit RSA key at the From domain."))
		return
	}
	log := &keyLog{lookup: dkim.LookupTXT(s.ctx, s.j.Resolver), txts: map[string][]string{}, errs: map[string]error{}}
	vs, err := msgdkim.VerifyWithOptions(chunked{bytes.NewReader(s.raw)}, &msgdkim.VerifyOptions{LookupTXT: log.get, MaxVerifications: MaxSignatures})
	if errors.Is(err, msgdkim.ErrTooManySignatures) {
		s.add(SpecDKIMTooMany.New("The message has %d DKIM signatures; the first %d were verified.", len(sigs), MaxSignatures))
	} else if err != nil {
		s.add(SpecDKIMFail.New("The DKIM signatures could not be verified: %s.", clean(err.Error())))
		return
	}
	for i, v := range vs {
		raw := ""
		if i < len(sigs) {
			raw = sigs[i]
		}
		r := s.judgeSig(raw, v, log)
		s.dkims = append(s.dkims, r)
		s.results = append(s.results, &authres.GenericResult{Method: "dkim", Value: r.value, Params: map[string]string{
			"reason": authReason(r.reason), "header.d": authValue(r.domain), "header.s": authValue(r.selector), "header.a": authValue(r.algo)}})
		s.data.DKIM = append(s.data.DKIM, DKIMData{Domain: clean(r.domain), Selector: clean(r.selector),
			Algorithm: clean(r.algo), KeyBits: r.bits, Result: string(r.value), Reason: r.reason})
	}
}

// judgeSig turns one verification into a result and its findings.
func (s *state) judgeSig(raw string, v *msgdkim.Verification, log *keyLog) sigResult {
	tags := sigTags(raw)
	r := sigResult{domain: strings.ToLower(tags["d"]), selector: tags["s"], algo: strings.ToLower(tags["a"]), length: tags["l"]}
	for _, h := range strings.Split(tags["h"], ":") {
		r.headers = append(r.headers, strings.ToLower(strings.TrimSpace(h)))
	}
	keyName := strings.ToLower(r.selector + "._domainkey." + r.domain)
	r.bits = keyBits(log.txts[keyName])
	r.value, r.reason = classify(v.Err)
	if r.value == authres.ResultPass {
		if x, ok := expiry(tags["x"]); ok && s.j.now().After(x) {
			r.value, r.reason = authres.ResultPermError, "expired"
		}
	}
	id := fmt.Sprintf("d=%s s=%s a=%s", clean(r.domain), clean(r.selector), clean(r.algo))
	if r.bits > 0 {
		id += fmt.Sprintf(" (%d-bit key)", r.bits)
	}
	s.sigFindings(r, id, keyName, log, v.Err)
	return r
}

// sigFindings states one signature's result.
func (s *state) sigFindings(r sigResult, id, keyName string, log *keyLog, err error) {
	switch r.value {
	case authres.ResultPass:
		s.add(SpecDKIMPass.New("DKIM signature %s verified.", id))
		if r.bits > 0 && r.bits < 2048 && strings.HasPrefix(r.algo, "rsa") {
			s.add(SpecDKIMWeakKey.New("DKIM signature %s verified with a %d-bit RSA key.", id, r.bits).
				WithFix("Publish a 2048-bit RSA key under a new selector and sign with it (RFC 8301 §3.2)."))
		}
	case authres.ResultTempError:
		s.add(SpecDKIMTempError.New("DKIM signature %s: the key query TXT %s failed: %s.", id, clean(keyName), clean(errText(log, keyName, err))))
	case authres.ResultPolicy:
		s.add(SpecDKIMLength.New("DKIM signature %s has l=%s: it covers only the first %s octets of the body; the verifier does not accept it.", id, clean(r.length), clean(r.length)).
			WithFix("Sign without the l= tag (OpenDKIM: BodyLengths no)."))
	default:
		s.add(SpecDKIMFail.New("DKIM signature %s: %s (%s).", id, r.reason, clean(err2s(err))).WithFix("%s", sigFix(r, keyName)))
	}
}

// errText names why the key query failed.
func errText(log *keyLog, name string, err error) string {
	log.mu.Lock()
	defer log.mu.Unlock()
	if e := log.errs[name]; e != nil {
		return e.Error()
	}
	return err2s(err)
}

// err2s renders a possibly nil error.
func err2s(err error) string {
	if err == nil {
		return "checked against the judge's clock"
	}
	return err.Error()
}

// classify maps go-msgauth's verdict to an RFC 8601 result and the
// reason a finding names.
func classify(err error) (authres.ResultValue, string) {
	if err == nil {
		return authres.ResultPass, ""
	}
	if msgdkim.IsTempFail(err) {
		return authres.ResultTempError, "key lookup failed"
	}
	m := err.Error()
	for _, c := range sigReasons {
		if strings.Contains(m, c.match) {
			return c.value, c.reason
		}
	}
	if msgdkim.IsPermFail(err) {
		return authres.ResultPermError, "malformed signature or key"
	}
	return authres.ResultFail, "did not verify"
}

// sigReasons maps go-msgauth's error texts to reasons.
var sigReasons = []struct {
	match  string
	value  authres.ResultValue
	reason string
}{
	{"body hash did not verify", authres.ResultFail, "body hash mismatch"},
	{"signature did not verify", authres.ResultFail, "bad signature"},
	{"no key for signature", authres.ResultPermError, "key not found"},
	{"no valid key found", authres.ResultPermError, "key not found"},
	{"key revoked", authres.ResultPermError, "key revoked"},
	{"hash algorithm too weak", authres.ResultPermError, "rsa-sha1 (RFC 8301 forbids it)"},
	{"key is too short", authres.ResultPermError, "key under 1024 bits (RFC 8301)"},
	{"signature has expired", authres.ResultPermError, "expired"},
	{"insecure body length tag", authres.ResultPolicy, "l= tag"},
	{"From field not signed", authres.ResultPermError, "From not signed"},
}

// sigFix is the fix for a failed signature.
func sigFix(r sigResult, keyName string) string {
	switch r.reason {
	case "key not found":
		return "Publish the selector's key as a TXT record at " + clean(keyName) + ", or sign with a selector that is published."
	case "key revoked":
		return "Sign with a selector whose key is published; " + clean(keyName) + " has an empty p= (revoked)."
	case "rsa-sha1 (RFC 8301 forbids it)":
		return "Sign with rsa-sha256 (or ed25519-sha256)."
	case "key under 1024 bits (RFC 8301)":
		return "Publish a 2048-bit RSA key under a new selector and sign with it."
	case "expired":
		return "Sign with an x= far enough after the time of sending, or without x=."
	case "body hash mismatch":
		return "Something changed the body after signing (a footer, a line-ending or encoding conversion): sign last, after every change."
	case "bad signature":
		return "The private key does not match the published key, or a signed header changed after signing: check the key pair and sign last."
	}
	return "Sign with a well-formed DKIM-Signature (RFC 6376 §3.5)."
}

// sigTags parses a DKIM-Signature's tag list; a broken list gives none.
func sigTags(raw string) map[string]string {
	m := map[string]string{}
	tags, _, err := dkim.ParseTags(unfold(raw))
	if err != nil {
		return m
	}
	for _, t := range tags {
		m[t.Name] = t.Value
	}
	return m
}

// keyBits measures the key record found, 0 when there is none usable.
func keyBits(txts []string) int {
	if len(txts) != 1 {
		return 0
	}
	rec, err := dkim.Parse(txts[0])
	if err != nil {
		return 0
	}
	k, err := rec.Key()
	if err != nil {
		return 0
	}
	return k.Bits
}

// expiry parses x= (seconds since the epoch).
func expiry(x string) (time.Time, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
	if err != nil || x == "" {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}
