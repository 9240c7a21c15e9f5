package resolve

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

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
// A-labels. It rejects invalid UTF-8, empty labels, labels over 63
// octets, names over 253 octets, characters that cannot appear in a host
// name, and A-labels ("xn--") that do not decode to a valid U-label. The
// result is a fixed point: ParseName(n.ASCII) and ParseName(n.Unicode)
// both return n.
func ParseName(input string) (Name, error) {
	s := strings.TrimSpace(input)
	if s == "" {
		return Name{}, fmt.Errorf("%w: empty name", ErrBadName)
	}
	if len(s) > 1024 { // no name of 253 octets in A-labels is this long in any form
		return Name{}, fmt.Errorf("%w: %d octets, the limit is 253", ErrBadName, len(s))
	}
	if !utf8.ValidString(s) {
		return Name{}, fmt.Errorf("%w %q: not valid UTF-8", ErrBadName, input)
	}
	if strings.Contains(s, "@") {
		return Name{}, fmt.Errorf("%w %q: give a domain, not an e-mail address", ErrBadName, input)
	}
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return Name{}, fmt.Errorf("%w %q: the root is not a mail domain", ErrBadName, input)
	}
	if err := checkLabels(input, s); err != nil {
		return Name{}, err
	}
	ascii, err := idnaProfile.ToASCII(s)
	if err != nil {
		return Name{}, fmt.Errorf("%w %q: %v", ErrBadName, input, err)
	}
	ascii = strings.ToLower(ascii)
	if err := checkASCII(input, ascii); err != nil {
		return Name{}, err
	}
	uni, err := idnaProfile.ToUnicode(ascii)
	if back, err2 := idnaProfile.ToASCII(uni); err != nil || err2 != nil || back != ascii {
		return Name{}, fmt.Errorf("%w %q: its A-labels and U-labels do not convert into each other", ErrBadName, input)
	}
	return Name{ASCII: ascii, Unicode: uni}, nil
}

// checkLabels rejects empty labels and "xn--" labels that do not decode
// to a non-empty, valid U-label.
func checkLabels(input, s string) error {
	for i, l := range strings.Split(s, ".") {
		if l == "" {
			return fmt.Errorf("%w %q: empty label at position %d", ErrBadName, input, i+1)
		}
		if len(l) >= 4 && strings.EqualFold(l[:4], "xn--") {
			u, err := idnaProfile.ToUnicode(strings.ToLower(l))
			if err != nil || u == "" || strings.EqualFold(u, l) || !utf8.ValidString(u) {
				return fmt.Errorf("%w %q: label %q is not a valid A-label (\"xn--\" must encode a Unicode label)", ErrBadName, input, shorten(l))
			}
		}
	}
	return nil
}

// checkASCII validates the A-label form: lengths, letters, digits,
// hyphens and underscores, and the labels as checkLabels does.
func checkASCII(input, ascii string) error {
	if len(ascii) > 253 {
		return fmt.Errorf("%w %q: %d octets, the limit is 253", ErrBadName, input, len(ascii))
	}
	if err := checkLabels(input, ascii); err != nil {
		return err
	}
	for _, l := range strings.Split(ascii, ".") {
		if len(l) > 63 {
			return fmt.Errorf("%w %q: label %q is %d octets, the limit is 63", ErrBadName, input, shorten(l), len(l))
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("%w %q: character %q is not allowed in a domain name", ErrBadName, input, c)
			}
		}
		if strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return fmt.Errorf("%w %q: label %q starts or ends with a hyphen", ErrBadName, input, shorten(l))
		}
	}
	return nil
}

// ParseDomain validates the domain a user asks to audit: ParseName, and
// neither an IP address nor a single label.
func ParseDomain(input string) (Name, error) {
	s := strings.TrimSpace(input)
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return Name{}, fmt.Errorf("%w: %s is an IP address; give a domain name", ErrBadName, ip)
	}
	n, err := ParseName(s)
	if err != nil {
		return Name{}, err
	}
	if !strings.Contains(n.ASCII, ".") {
		return Name{}, fmt.Errorf("%w %q: a single label; give a domain name such as example.org", ErrBadName, input)
	}
	return n, nil
}

func shorten(s string) string {
	if len(s) > 20 {
		return s[:17] + "..."
	}
	return s
}
