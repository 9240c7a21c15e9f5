package resolve

import (
	"fmt"
	"strings"

	"golang.org/x/net/idna"
)

// Name is a validated domain name.
type Name struct {
	ASCII   string // A-label form, lower case, no trailing dot: "xn--bcher-kva.example"
	Unicode string // U-label form: "bücher.example"
}

// FQDN returns the A-label form with the trailing dot.
func (n Name) FQDN() string { return n.ASCII + "." }

var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.StrictDomainName(false), // underscores appear in _dmarc etc.
	idna.VerifyDNSLength(false),  // checked below, with a clearer message
)

// ParseName validates a domain name given by a user and converts IDNs to
// A-labels. It rejects empty labels, labels over 63 octets, names over 253
// octets, and characters that cannot appear in a host name.
func ParseName(input string) (Name, error) {
	s := strings.TrimSpace(input)
	if s == "" {
		return Name{}, fmt.Errorf("%w: empty name", ErrBadName)
	}
	if strings.Contains(s, "@") {
		return Name{}, fmt.Errorf("%w %q: give a domain, not an e-mail address", ErrBadName, input)
	}
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return Name{}, fmt.Errorf("%w %q: the root is not a mail domain", ErrBadName, input)
	}
	for i, l := range strings.Split(s, ".") {
		if l == "" {
			return Name{}, fmt.Errorf("%w %q: empty label at position %d", ErrBadName, input, i+1)
		}
	}
	ascii, err := idnaProfile.ToASCII(s)
	if err != nil {
		return Name{}, fmt.Errorf("%w %q: %v", ErrBadName, input, err)
	}
	ascii = strings.ToLower(ascii)
	if len(ascii) > 253 {
		return Name{}, fmt.Errorf("%w %q: %d octets, the limit is 253", ErrBadName, input, len(ascii))
	}
	for _, l := range strings.Split(ascii, ".") {
		if len(l) > 63 {
			return Name{}, fmt.Errorf("%w %q: label %q is %d octets, the limit is 63", ErrBadName, input, shorten(l), len(l))
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return Name{}, fmt.Errorf("%w %q: character %q is not allowed in a domain name", ErrBadName, input, c)
			}
		}
		if strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return Name{}, fmt.Errorf("%w %q: label %q starts or ends with a hyphen", ErrBadName, input, l)
		}
	}
	uni, err := idnaProfile.ToUnicode(ascii)
	if err != nil {
		uni = ascii
	}
	return Name{ASCII: ascii, Unicode: uni}, nil
}

func shorten(s string) string {
	if len(s) > 20 {
		return s[:17] + "..."
	}
	return s
}
