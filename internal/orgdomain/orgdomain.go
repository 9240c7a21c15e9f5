// Package orgdomain finds the Organizational Domain of a name (RFC 7489
// §3.2): the registrable domain one label below the longest public suffix,
// as given by the Public Suffix List embedded in
// golang.org/x/net/publicsuffix (ICANN and private sections, wildcard and
// exception rules, unlisted TLDs under the implicit "*" rule).
//
// Names may be given in U-label (Unicode) or A-label form, in any case,
// with or without a trailing dot; results are always A-labels in lower
// case without a trailing dot, so they compare with ==.
package orgdomain

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// Errors; test with errors.Is.
var (
	// ErrInvalid: the input is not a domain name (empty, empty label,
	// leading dot, or a label IDNA rejects).
	ErrInvalid = errors.New("orgdomain: invalid domain name")
	// ErrPublicSuffix: the name is itself a public suffix ("com", "co.uk",
	// "c.mm" under "*.mm") and so has no organizational domain.
	ErrPublicSuffix = errors.New("orgdomain: name is a public suffix")
)

// profile maps U-labels for lookup (RFC 5891 §5) but, unlike idna.Lookup,
// lets underscore labels through: callers pass names such as
// "_report._dmarc.example.org" or DKIM d= domains.
var profile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.StrictDomainName(false),
	idna.VerifyDNSLength(false),
)

// ASCII returns name in the canonical form Lookup uses: A-labels, lower
// case, no trailing dot. A leading dot or an empty label is an error.
func ASCII(name string) (string, error) {
	s := strings.TrimSpace(name)
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "", fmt.Errorf("%w: empty name", ErrInvalid)
	}
	if strings.HasPrefix(s, ".") || strings.Contains(s, "..") {
		return "", fmt.Errorf("%w %q: empty label", ErrInvalid, name)
	}
	a, err := profile.ToASCII(s)
	if err != nil {
		return "", fmt.Errorf("%w %q: %v", ErrInvalid, name, err)
	}
	a = strings.ToLower(a)
	for _, l := range strings.Split(a, ".") {
		if l == "" {
			return "", fmt.Errorf("%w %q: empty label", ErrInvalid, name)
		}
		if len(l) > 63 {
			return "", fmt.Errorf("%w %q: label of %d octets (limit 63)", ErrInvalid, name, len(l))
		}
	}
	return a, nil
}

// Lookup returns the organizational domain of name: "example.co.uk" for
// "www.Example.CO.UK", "xn--85x722f.xn--fiqs8s" for "www.食狮.中国". A name
// that is a public suffix yields ErrPublicSuffix; a malformed one
// ErrInvalid.
func Lookup(name string) (string, error) {
	a, err := ASCII(name)
	if err != nil {
		return "", err
	}
	org, err := publicsuffix.EffectiveTLDPlusOne(a)
	if err != nil {
		// EffectiveTLDPlusOne fails only when a is a suffix itself (or
		// has an empty label, excluded above).
		return "", fmt.Errorf("%w: %s", ErrPublicSuffix, a)
	}
	return org, nil
}

// Same reports whether a and b have the same organizational domain. Names
// without one (public suffixes, invalid names) are the same only when
// they are equal in canonical form.
func Same(a, b string) bool {
	oa, erra := Lookup(a)
	ob, errb := Lookup(b)
	if erra == nil && errb == nil {
		return oa == ob
	}
	ca, err1 := ASCII(a)
	cb, err2 := ASCII(b)
	return err1 == nil && err2 == nil && ca == cb
}

// IsOrg reports whether name is its own organizational domain.
func IsOrg(name string) bool {
	a, err := ASCII(name)
	if err != nil {
		return false
	}
	org, err := Lookup(a)
	return err == nil && org == a
}
