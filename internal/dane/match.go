package dane

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"strings"
)

// Unusable is a record a DANE sender does not use, and why.
type Unusable struct {
	Record Record `json:"record"`
	Why    string `json:"why"`
	// Weaker: a well-formed record ignored because the same usage and
	// selector also has a stronger matching type (RFC 7671 §9).
	Weaker bool `json:"weaker,omitempty"`
}

// Result is the outcome of matching a TLSA RRset against a chain.
type Result struct {
	Matched  *Record    `json:"matched,omitempty"` // the record that matched; nil when none did
	Depth    int        `json:"depth"`             // where in the chain it matched (0: the server certificate)
	Usable   []Record   `json:"usable"`            // the records a DANE sender uses
	Unusable []Unusable `json:"unusable,omitempty"`
	// Why says why no record matched (empty when one did).
	Why string `json:"why,omitempty"`
}

// Sort splits records into those a DANE sender uses and those it does
// not: PKIX usages, unknown parameters, malformed data, and records of a
// usage and selector that also has a stronger matching type (RFC 7671 §9).
func Sort(records []Record) (usable []Record, unusable []Unusable) {
	best := map[[2]uint8]int{}
	var ok []Record
	for _, r := range records {
		if why := r.problem(); why != "" {
			unusable = append(unusable, Unusable{Record: r, Why: why})
			continue
		}
		ok = append(ok, r)
		k := [2]uint8{r.Usage, r.Selector}
		if s, seen := best[k]; !seen || strength(r.MatchingType) > s {
			best[k] = strength(r.MatchingType)
		}
	}
	for _, r := range ok {
		if strength(r.MatchingType) < best[[2]uint8{r.Usage, r.Selector}] {
			unusable = append(unusable, Unusable{Record: r, Weaker: true,
				Why: "ignored: the same usage and selector also have a record with a stronger matching type (RFC 7671 §9)"})
			continue
		}
		usable = append(usable, r)
	}
	return usable, unusable
}

// Match matches records against chain (DER, the server certificate
// first) as an SMTP sender does (RFC 7672 §3.1). names are the reference
// identifiers a DANE-TA(2) match needs in the server certificate: the
// TLSA base domain, and the MX host name when a CNAME expanded it (RFC
// 7672 §3.2.2). The first usable record that matches wins.
func Match(records []Record, chain [][]byte, names ...string) Result {
	res := Result{Depth: -1}
	res.Usable, res.Unusable = Sort(records)
	if len(res.Usable) == 0 {
		res.Why = "no usable TLSA record"
		return res
	}
	if len(chain) == 0 {
		res.Why = "the server presented no certificate"
		return res
	}
	c := newChain(chain)
	taWhy := ""
	for i := range res.Usable {
		r := &res.Usable[i]
		if r.Usage == DANEEE && c.matches(0, r) {
			res.Matched, res.Depth = r, 0
			return res
		}
		if r.Usage != DANETA {
			continue
		}
		depth, why := c.trustAnchor(r, names)
		if depth > 0 {
			res.Matched, res.Depth = r, depth
			return res
		}
		if taWhy == "" {
			taWhy = why
		}
	}
	res.Why = "no TLSA record matches the presented chain"
	if taWhy != "" {
		res.Why += "; " + taWhy
	}
	return res
}

// chain is a presented chain with each certificate parsed once (nil when
// it does not parse: only its full DER can match then).
type chain struct {
	der    [][]byte
	parsed []*x509.Certificate
}

func newChain(der [][]byte) *chain {
	c := &chain{der: der, parsed: make([]*x509.Certificate, len(der))}
	for i, d := range der {
		if x, err := x509.ParseCertificate(d); err == nil {
			c.parsed[i] = x
		}
	}
	return c
}

// matches reports whether the certificate at depth i matches r.
func (c *chain) matches(i int, r *Record) bool {
	sel := c.der[i]
	if r.Selector == SelectorSPKI {
		if c.parsed[i] == nil {
			return false
		}
		sel = c.parsed[i].RawSubjectPublicKeyInfo
	}
	return bytes.Equal(digest(sel, r.MatchingType), r.Data)
}

// digest returns b as a TLSA record of matching type mt holds it.
func digest(b []byte, mt uint8) []byte {
	switch mt {
	case MatchSHA256:
		s := sha256.Sum256(b)
		return s[:]
	case MatchSHA512:
		s := sha512.Sum512(b)
		return s[:]
	}
	return b
}

// trustAnchor finds the issuer certificate r matches (depth ≥ 1), checks
// that it signed its way down to the server certificate and that the
// server certificate carries one of names. It returns the depth, or -1
// and why not.
func (c *chain) trustAnchor(r *Record, names []string) (int, string) {
	for d := 1; d < len(c.der); d++ {
		if !c.matches(d, r) {
			continue
		}
		if !c.issued(d) {
			return -1, "a DANE-TA(2) record matches a certificate of the chain that did not issue the server certificate"
		}
		if !nameMatches(c.parsed[0], names) {
			return -1, "a DANE-TA(2) record matches, but the server certificate names none of " + strings.Join(names, ", ") + " (RFC 7672 §3.2.3)"
		}
		return d, ""
	}
	return -1, ""
}

// issued reports whether each certificate from the server certificate up
// to depth d is signed by the next one (dates are not checked).
func (c *chain) issued(d int) bool {
	for i := 0; i < d; i++ {
		if c.parsed[i] == nil || c.parsed[i+1] == nil || c.parsed[i].CheckSignatureFrom(c.parsed[i+1]) != nil {
			return false
		}
	}
	return true
}

// nameMatches reports whether the certificate carries one of names: its
// DNS subjectAltNames, or its common name when it has none; a "*" as the
// whole left-most label matches one label (RFC 7672 §3.2.3).
func nameMatches(cert *x509.Certificate, names []string) bool {
	if cert == nil {
		return false
	}
	ids := cert.DNSNames
	if len(ids) == 0 && cert.Subject.CommonName != "" {
		ids = []string{cert.Subject.CommonName}
	}
	for _, n := range names {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		for _, id := range ids {
			id = strings.ToLower(strings.TrimSuffix(id, "."))
			if id == n || strings.HasPrefix(id, "*.") && strings.Count(n, ".") > 1 && n[strings.Index(n, ".")+1:] == id[2:] {
				return true
			}
		}
	}
	return false
}

// Recommend returns the record to publish for the server certificate
// leaf (DER): DANE-EE(3) SPKI(1) SHA2-256(1) of its key, which survives
// certificate renewals with the same key (RFC 7671 §5.1).
func Recommend(leaf []byte) (Record, error) {
	c, err := x509.ParseCertificate(leaf)
	if err != nil {
		return Record{}, err
	}
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return Record{Usage: DANEEE, Selector: SelectorSPKI, MatchingType: MatchSHA256, Data: sum[:]}, nil
}
