package tlsrpt

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/mailcheck/mailcheck/internal/resolve"
)

// URI is one entry of the rua tag (RFC 8460 §3: tlsrpt-uri).
type URI struct {
	Raw    string `json:"raw"`              // as written, trimmed
	Scheme string `json:"scheme,omitempty"` // "mailto" or "https", lower case
	// Addresses are a mailto: URI's decoded addresses (RFC 6068 allows
	// several, separated by an encoded comma).
	Addresses []string `json:"addresses,omitempty"`
	// Domains are the addresses' domains, lower-case A-labels, each once.
	Domains []string `json:"domains,omitempty"`
	Host    string   `json:"host,omitempty"` // https: the URL's host
	// OK: senders can use the URI.
	OK bool `json:"ok"`
}

// parseURI validates one rua entry; the problem is nil when senders can
// use it.
func parseURI(raw string) (URI, *Problem) {
	u := URI{Raw: raw}
	bad := func(k Kind, format string, args ...any) (URI, *Problem) {
		return u, &Problem{Kind: k, Tag: "rua", URI: raw, Message: fmt.Sprintf("rua entry %q: ", shorten(raw, 60)) + fmt.Sprintf(format, args...)}
	}
	if raw == "" {
		return bad(KindEmptyURI, "an empty entry (a stray comma): each comma must separate two URIs")
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || !validScheme(scheme) {
		if strings.Contains(raw, "@") {
			return bareAddress(u)
		}
		return bad(KindURI, "not a URI: it has no scheme (write mailto:ADDRESS or https://HOST/PATH)")
	}
	if p := uriChars(u); p != nil {
		return u, p
	}
	u.Scheme = strings.ToLower(scheme)
	switch u.Scheme {
	case "mailto":
		return parseMailto(u, rest)
	case "https":
		return parseHTTPS(u)
	}
	return bad(KindScheme, "senders report only to mailto: and https: URIs (RFC 8460 §3), not %s:", shorten(u.Scheme, 20))
}

// bareAddress reports an address written without mailto:, with the URI
// to write when the address is valid.
func bareAddress(u URI) (URI, *Problem) {
	p := &Problem{Kind: KindBareAddress, Tag: "rua", URI: u.Raw,
		Message: fmt.Sprintf("rua entry %q is an e-mail address, not a URI: senders need mailto: before it", shorten(u.Raw, 60))}
	if fixed, q := parseURI("mailto:" + u.Raw); q == nil {
		p.Repaired = fixed.Raw
	}
	return u, p
}

// uriChars checks that a URI holds only the characters RFC 3986 allows,
// percent-encodings that are complete, and no "!" (RFC 8460 §3 requires
// it encoded).
func uriChars(u URI) *Problem {
	raw := u.Raw
	p := func(k Kind, msg string) *Problem {
		return &Problem{Kind: k, Tag: "rua", URI: raw, Message: fmt.Sprintf("rua entry %q: %s", shorten(raw, 60), msg)}
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '!':
			q := p(KindUnencoded, "\"!\" must be percent-encoded as %21 inside a URI (RFC 8460 §3); TLS-RPT has no size limit suffix such as DMARC's !10m")
			q.Repaired = repairBang(raw)
			return q
		case c == ' ' || c == '\t':
			return p(KindWhitespace, "white space inside a URI: separate URIs with commas")
		case c == '%':
			if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
				return p(KindURI, "\"%\" must start a percent-encoding of two hex digits")
			}
		case c >= 0x80:
			return p(KindURI, "a non-ASCII character: percent-encode it, or write a domain as its A-label (xn--...)")
		case !uriChar(c):
			return p(KindURI, fmt.Sprintf("the character %q is not allowed in a URI (RFC 3986): percent-encode it", string(rune(c))))
		}
	}
	return nil
}

// repairBang returns the URI without a trailing DMARC-style size limit,
// or with "!" percent-encoded, when that makes a usable URI.
func repairBang(raw string) string {
	for _, cand := range []string{raw[:strings.LastIndexByte(raw, '!')], strings.ReplaceAll(raw, "!", "%21")} {
		if fixed, q := parseURI(cand); q == nil {
			return fixed.Raw
		}
	}
	return ""
}

// parseMailto validates a mailto: URI (RFC 6068): one or more addresses,
// then optional header fields after "?".
func parseMailto(u URI, rest string) (URI, *Problem) {
	bad := func(msg string) (URI, *Problem) {
		return u, &Problem{Kind: KindMailto, Tag: "rua", URI: u.Raw, Message: fmt.Sprintf("rua entry %q: %s", shorten(u.Raw, 60), msg)}
	}
	to, _, _ := strings.Cut(rest, "?")
	if strings.HasPrefix(to, "//") {
		return bad("mailto: is followed directly by the address, without \"//\"")
	}
	dec, err := url.PathUnescape(to)
	if err != nil || dec == "" {
		return bad("no address after mailto:")
	}
	seen := map[string]bool{}
	for _, addr := range strings.Split(dec, ",") {
		at := strings.LastIndexByte(addr, '@')
		if at <= 0 {
			return bad(fmt.Sprintf("%q is not an e-mail address (local-part@domain)", shorten(addr, 60)))
		}
		n, err := resolve.ParseName(addr[at+1:])
		if err != nil || strings.TrimSpace(addr[at+1:]) != addr[at+1:] {
			return bad(fmt.Sprintf("the domain of %q is not a valid domain name", shorten(addr, 60)))
		}
		u.Addresses = append(u.Addresses, addr)
		if !seen[n.ASCII] {
			seen[n.ASCII] = true
			u.Domains = append(u.Domains, n.ASCII)
		}
	}
	u.OK = true
	return u, nil
}

// parseHTTPS validates an https: URI: an absolute URL with a host name
// or an IP address.
func parseHTTPS(u URI) (URI, *Problem) {
	bad := func(msg string) (URI, *Problem) {
		return u, &Problem{Kind: KindHTTPS, Tag: "rua", URI: u.Raw, Message: fmt.Sprintf("rua entry %q is not a valid https URL: %s", shorten(u.Raw, 60), msg)}
	}
	pu, err := url.Parse(u.Raw)
	if err != nil {
		return bad(strings.TrimPrefix(err.Error(), fmt.Sprintf("parse %q: ", u.Raw)))
	}
	host := pu.Hostname()
	if host == "" {
		return bad("it has no host (write https://HOST/PATH)")
	}
	if _, err := netip.ParseAddr(host); err != nil {
		n, err := resolve.ParseName(host)
		if err != nil {
			return bad(fmt.Sprintf("%q is not a valid host name", shorten(host, 60)))
		}
		host = n.ASCII
	}
	u.Host, u.OK = host, true
	return u, nil
}

// validScheme matches RFC 3986's scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s string) bool {
	if s == "" || !isAlnum(s[0]) || s[0] <= '9' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// uriChar reports whether c is an RFC 3986 unreserved or reserved
// character.
func uriChar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("-._~:/?#[]@!$&'()*+,;=", c) >= 0
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
