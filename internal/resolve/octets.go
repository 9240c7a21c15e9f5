package resolve

import (
	"strings"

	"github.com/miekg/dns"
)

// DNS data is octets (RFC 1035 §3.3.14, RFC 2181 §11), but miekg/dns keeps
// names and character-strings in presentation form: a tab in TXT data is
// the four characters `\009`, an "@" in a label is `\@`. The helpers here
// convert at the boundary, once, so consumers see octets and compare names
// in one canonical form.

// Canonical returns name in the one form in which mailcheck compares
// names: fully qualified, ASCII letters in lower case, and every octet
// that needs it escaped the way miekg/dns writes a name read from the
// wire (`strong-bad\@email.example.com.`, `\195\188.example.`). Names that
// cannot be encoded (over 255 octets, empty labels) are only lower-cased
// and made fully qualified.
func Canonical(name string) string {
	if plain(name) {
		return name // already canonical: the common case, without a copy
	}
	var buf [256]byte
	off, err := dns.PackDomainName(dns.Fqdn(name), buf[:], 0, nil, false)
	if err != nil {
		return asciiLower(dns.Fqdn(name))
	}
	s, _, err := dns.UnpackDomainName(buf[:off], 0)
	if err != nil {
		return asciiLower(dns.Fqdn(name))
	}
	return asciiLower(s)
}

// plain reports a fully qualified name of lower-case letters, digits,
// hyphens and underscores only, which Canonical leaves as it is.
func plain(s string) bool {
	if len(s) == 0 || s[len(s)-1] != '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// EscapeName turns a name made of raw octets, labels separated by dots
// (an SPF macro expansion such as "strong-bad@email.example.com"), into
// the presentation form Resolver.Query takes: a backslash in the data is
// escaped so it is not read as an escape. Other octets need no escaping.
func EscapeName(raw string) string {
	return Canonical(strings.ReplaceAll(raw, `\`, `\\`))
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// TXTData returns the data of a TXT record as octets: its
// character-strings decoded from presentation form (`\009` is a tab, `\"`
// a quote, `\195\188` the UTF-8 of ü) and joined without separator, as
// RFC 7208 §3.3 and RFC 6376 §3.6.2.2 require. It is the only place where
// mailcheck reads dns.TXT.Txt.
func TXTData(rr *dns.TXT) string {
	if len(rr.Txt) == 1 {
		return unescapeString(rr.Txt[0])
	}
	var b strings.Builder
	for _, s := range rr.Txt {
		b.WriteString(unescapeString(s))
	}
	return b.String()
}

// unescapeString decodes a character-string in miekg/dns presentation
// form: `\DDD` is the octet DDD, `\X` is X.
func unescapeString(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b = append(b, c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			if v := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0'); v <= 255 {
				b = append(b, byte(v))
				i += 3
				continue
			}
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// NewTXT builds a TXT record for owner whose data is the octets of data,
// split into character-strings of at most 255 octets and escaped as
// miekg/dns expects. TXTData(NewTXT(o, d)) == d.
func NewTXT(owner, data string) *dns.TXT {
	rr := &dns.TXT{Hdr: dns.RR_Header{Name: dns.Fqdn(owner), Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 300}}
	for {
		n := min(len(data), 255)
		rr.Txt = append(rr.Txt, escapeString(data[:n]))
		data = data[n:]
		if data == "" {
			return rr
		}
	}
}

func escapeString(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			b.WriteByte('\\')
			b.WriteByte('0' + c/100)
			b.WriteByte('0' + c/10%10)
			b.WriteByte('0' + c%10)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
