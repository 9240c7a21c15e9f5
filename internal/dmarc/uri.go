package dmarc

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/mailcheck/mailcheck/internal/resolve"
)

// ReportURI is one entry of a rua or ruf tag (RFC 7489 §6.2, §6.4:
// URI [ "!" size ]).
type ReportURI struct {
	Tag     string `json:"tag"`               // "rua" or "ruf"
	Raw     string `json:"raw"`               // as written, trimmed
	Scheme  string `json:"scheme,omitempty"`  // lower case
	Address string `json:"address,omitempty"` // mailto: the decoded address
	Host    string `json:"host,omitempty"`    // mailto: the address's domain, A-label, lower case
	Limit   string `json:"limit,omitempty"`   // the size limit as written, without "!"
	// Err says why receivers cannot use the URI; "" when they can.
	Err string `json:"error,omitempty"`
	// Repaired is, for an invalid URI with an obvious repair, the URI to
	// write instead ("mailto:" added, "//" removed, A-label domain).
	Repaired string `json:"repaired,omitempty"`
}

// Valid reports whether receivers can send reports to the URI.
func (u ReportURI) Valid() bool { return u.Err == "" }

// parseURIList splits a rua/ruf value at commas (RFC 7489 §6.4:
// *WSP "," *WSP) and validates each URI.
func parseURIList(value string) []ReportURI {
	var out []ReportURI
	for _, part := range strings.Split(value, ",") {
		out = append(out, ParseReportURI(strings.Trim(part, wsp)))
	}
	return out
}

// ParseReportURI validates one DMARC report URI.
func ParseReportURI(raw string) ReportURI {
	return parseReportURI(raw)
}

func parseOne(raw string) ReportURI {
	u := ReportURI{Raw: raw}
	if raw == "" {
		u.Err = "empty entry (a stray comma or an empty tag)"
		return u
	}
	uri := raw
	if i := strings.LastIndexByte(raw, '!'); i >= 0 {
		limit := raw[i+1:]
		if validLimit(limit) {
			uri, u.Limit = raw[:i], limit
		} else if !strings.Contains(limit, "@") {
			u.Err = fmt.Sprintf("size limit %q after \"!\" must be a number with an optional unit k, m, g or t (e.g. !10m)", limit)
			return u
		}
	}
	if strings.ContainsAny(uri, " \t\r\n") {
		u.Err = "the URI contains white space"
		return u
	}
	scheme, rest, ok := strings.Cut(uri, ":")
	if !ok || strings.Contains(scheme, "@") {
		u.Err = "not a URI: the mailto: scheme is missing"
		if addr, host, err := checkAddress(uri); err == "" {
			u.Repaired = "mailto:" + addr + limitSuffix(u.Limit)
			_ = host
		}
		return u
	}
	if !validScheme(scheme) {
		u.Err = fmt.Sprintf("%q is not a valid URI scheme", shorten(scheme, 20))
		return u
	}
	u.Scheme = strings.ToLower(scheme)
	if u.Scheme != "mailto" {
		u.Err = fmt.Sprintf("receivers send DMARC reports by mail only: %s: URIs are not supported (RFC 7489 §6.2 requires only mailto:)", u.Scheme)
		return u
	}
	addrPart, _, _ := strings.Cut(rest, "?") // header fields (?subject=) are allowed
	if strings.HasPrefix(addrPart, "//") {
		u.Err = "mailto: is followed directly by the address, without \"//\""
		if addr, _, err := checkAddress(strings.TrimPrefix(addrPart, "//")); err == "" {
			u.Repaired = "mailto:" + addr + limitSuffix(u.Limit)
		}
		return u
	}
	dec, err := url.PathUnescape(addrPart)
	if err != nil {
		u.Err = fmt.Sprintf("bad percent-encoding in %q", shorten(addrPart, 40))
		return u
	}
	if strings.Contains(dec, ",") {
		u.Err = "one address per URI: list several URIs separated by commas, each with its own mailto:"
		return u
	}
	addr, host, msg := checkAddress(dec)
	if msg != "" {
		u.Err = msg
		if host != "" && addr != "" {
			u.Repaired = "mailto:" + addr + limitSuffix(u.Limit)
		}
		return u
	}
	u.Address, u.Host = addr, host
	return u
}

// ParseReportURI with the repair checked: a repair that would itself be
// invalid is no repair.
func parseReportURI(raw string) ReportURI {
	u := parseOne(raw)
	if u.Repaired != "" && !parseOne(u.Repaired).Valid() {
		u.Repaired = ""
	}
	return u
}

func limitSuffix(l string) string {
	if l == "" {
		return ""
	}
	return "!" + l
}

func validLimit(s string) bool {
	if s == "" {
		return false
	}
	n := s
	switch s[len(s)-1] {
	case 'k', 'm', 'g', 't', 'K', 'M', 'G', 'T':
		n = s[:len(s)-1]
	}
	return allDigits(n)
}

func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// checkAddress validates a mail address (dot-atom local part, domain
// name). It returns the address with the domain in A-labels and the
// domain; msg is non-empty when the address is unusable as written (addr
// and host are then still set when the only problem is a U-label domain,
// so the caller can offer the A-label form).
func checkAddress(s string) (addr, host, msg string) {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "", "", fmt.Sprintf("%q is not a mail address (no \"@\")", shorten(s, 40))
	}
	local, domain := s[:at], s[at+1:]
	if local == "" {
		return "", "", "the mail address has an empty local part"
	}
	if !dotAtom(local) {
		return "", "", fmt.Sprintf("%q is not a valid local part of a mail address", shorten(local, 40))
	}
	if domain == "" {
		return "", "", "the mail address has no domain"
	}
	if !utf8.ValidString(domain) {
		return "", "", "the domain of the address is not valid UTF-8"
	}
	n, err := resolve.ParseName(domain)
	if err != nil {
		return "", "", fmt.Sprintf("the domain of the address is invalid: %v", err)
	}
	if !strings.Contains(n.ASCII, ".") {
		return "", "", fmt.Sprintf("%q is not a fully qualified domain", domain)
	}
	addr, host = local+"@"+n.ASCII, n.ASCII
	for _, c := range domain {
		if c > 0x7e {
			if _, err := resolve.ParseName(n.ASCII); err != nil {
				return "", "", fmt.Sprintf("the domain of the address is invalid: %v", err)
			}
			return addr, host, fmt.Sprintf("a URI cannot contain non-ASCII characters: write the domain as %s", n.ASCII)
		}
	}
	return addr, host, ""
}

// dotAtom reports whether s is an RFC 5322 dot-atom.
func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune("!#$%&'*+-/=?^_`{|}~.", c):
		default:
			return false
		}
	}
	return true
}
