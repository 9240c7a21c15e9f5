package spf

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// MacroString is a parsed macro-string (RFC 7208 §7.1): literal text and
// macro expansions, in order.
type MacroString struct {
	Raw   string
	Parts []MacroPart
}

// MacroPart is one piece of a macro-string: a literal (Letter == 0) or a
// macro expansion such as %{ir.}.
type MacroPart struct {
	Literal string
	Letter  byte   // lower case macro letter; 0 for a literal
	Upper   bool   // written in upper case: URL-escape the value
	Digits  int    // keep the rightmost Digits parts; 0: all
	Reverse bool   // the "r" transformer
	Delims  string // split delimiters; empty: "."
}

// Macros reports whether the string contains at least one %{x} expansion.
func (m *MacroString) Macros() bool {
	if m == nil {
		return false
	}
	for _, p := range m.Parts {
		if p.Letter != 0 {
			return true
		}
	}
	return false
}

// Letters returns the distinct macro letters used, in order of first use.
func (m *MacroString) Letters() string {
	if m == nil {
		return ""
	}
	var b []byte
	for _, p := range m.Parts {
		if p.Letter != 0 && strings.IndexByte(string(b), p.Letter) < 0 {
			b = append(b, p.Letter)
		}
	}
	return string(b)
}

func (m *MacroString) String() string {
	if m == nil {
		return ""
	}
	return m.Raw
}

const (
	domainLetters = "slodiphv"    // letters allowed in domain-specs
	expLetters    = "slodiphvcrt" // letters allowed in explanation strings
	delimiters    = ".-+,/_="     // RFC 7208 §7.1 delimiter
	maxExpansion  = 8 << 10       // bytes one macro-string may expand to
	maxDigits     = 128           // more parts than a domain name can have
	unknownDomain = "unknown"     // %{p} when no validated name exists
	defaultLocal  = "postmaster"  // local-part of an empty sender
	hexUpper      = "0123456789ABCDEF"
)

// parseMacroString parses s as a macro-string; letters are the macro
// letters allowed in this position. Errors name the offending offset
// within s.
func parseMacroString(s, letters string) (*MacroString, error) {
	m := &MacroString{Raw: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			m.Parts = append(m.Parts, MacroPart{Literal: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			if c < 0x21 || c > 0x7e {
				return nil, fmt.Errorf("character %q at offset %d is not allowed (printable ASCII only)", rune(c), i)
			}
			lit.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return nil, fmt.Errorf("%q at the end: a %% must be followed by {, %%, _ or -", "%")
		}
		switch s[i+1] {
		case '%':
			lit.WriteByte('%')
			i++
			continue
		case '_':
			lit.WriteByte(' ')
			i++
			continue
		case '-':
			lit.WriteString("%20")
			i++
			continue
		case '{':
		default:
			return nil, fmt.Errorf("%q at offset %d: a %% must be followed by {, %%, _ or - (write %%%% for a literal %%)", s[i:i+2], i)
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("macro at offset %d is not closed with }", i)
		}
		body := s[i+2 : i+end]
		p, err := parseMacro(body, letters)
		if err != nil {
			return nil, fmt.Errorf("macro %q at offset %d: %v", s[i:i+end+1], i, err)
		}
		flush()
		m.Parts = append(m.Parts, p)
		i += end
	}
	flush()
	return m, nil
}

func parseMacro(body, letters string) (MacroPart, error) {
	if body == "" {
		return MacroPart{}, fmt.Errorf("no macro letter")
	}
	c := body[0]
	p := MacroPart{Letter: c | 0x20, Upper: c >= 'A' && c <= 'Z'}
	if !(c|0x20 >= 'a' && c|0x20 <= 'z') || strings.IndexByte(letters, c|0x20) < 0 {
		if strings.IndexByte(expLetters, c|0x20) >= 0 {
			return p, fmt.Errorf("%q is only allowed in an explanation (exp) text", string(c))
		}
		return p, fmt.Errorf("unknown macro letter %q (valid: %s)", string(c), letters)
	}
	rest := body[1:]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	if j > 0 {
		n, err := strconv.Atoi(rest[:j])
		if err != nil || n == 0 {
			return p, fmt.Errorf("digit transformer %q must be a positive number", rest[:j])
		}
		if n > maxDigits {
			n = maxDigits
		}
		p.Digits = n
	}
	rest = rest[j:]
	if rest != "" && (rest[0] == 'r' || rest[0] == 'R') {
		p.Reverse = true
		rest = rest[1:]
	}
	for k := 0; k < len(rest); k++ {
		if strings.IndexByte(delimiters, rest[k]) < 0 {
			return p, fmt.Errorf("%q is not a delimiter (valid: %s)", string(rest[k]), delimiters)
		}
	}
	p.Delims = rest
	return p, nil
}

// macroEnv is what macros expand from.
type macroEnv struct {
	sender string // full sender, local-part@domain
	local  string
	domain string // domain of the sender (o)
	cur    string // current domain (d)
	ip     netip.Addr
	helo   string
	recv   string // receiving host (r)
	now    int64  // t
	ptr    func() string
}

func (e *macroEnv) value(letter byte) string {
	switch letter {
	case 's':
		return e.sender
	case 'l':
		return e.local
	case 'o':
		return e.domain
	case 'd':
		return e.cur
	case 'i':
		return dottedIP(e.ip)
	case 'p':
		if e.ptr == nil {
			return unknownDomain
		}
		return e.ptr()
	case 'v':
		if e.ip.Is4() {
			return "in-addr"
		}
		return "ip6"
	case 'h':
		return e.helo
	case 'c':
		return e.ip.String()
	case 'r':
		if e.recv == "" {
			return unknownDomain
		}
		return e.recv
	case 't':
		return strconv.FormatInt(e.now, 10)
	}
	return ""
}

// dottedIP renders ip the way %{i} does: dotted quad for IPv4, dotted
// nibbles for IPv6 (upper case, as in the RFC 7208 §7.4 examples).
func dottedIP(ip netip.Addr) string {
	if ip.Is4() {
		return ip.String()
	}
	b := ip.As16()
	out := make([]byte, 0, 63)
	for i, x := range b {
		if i > 0 {
			out = append(out, '.')
		}
		out = append(out, hexUpper[x>>4], '.', hexUpper[x&0xf])
	}
	return string(out)
}

// expand expands m (RFC 7208 §7.3). The output is capped at maxExpansion
// bytes: a record whose macros explode is an error, not an allocation.
func (m *MacroString) expand(e *macroEnv) (string, error) {
	var b strings.Builder
	for _, p := range m.Parts {
		if p.Letter == 0 {
			b.WriteString(p.Literal)
		} else {
			b.WriteString(expandOne(p, e.value(p.Letter)))
		}
		if b.Len() > maxExpansion {
			return "", fmt.Errorf("macro expansion of %q exceeds %d bytes", shorten(m.Raw, 60), maxExpansion)
		}
	}
	return b.String(), nil
}

func expandOne(p MacroPart, v string) string {
	if p.Digits > 0 || p.Reverse || p.Delims != "" {
		delims := p.Delims
		if delims == "" {
			delims = "."
		}
		parts := splitAny(v, delims)
		if p.Reverse {
			for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
				parts[i], parts[j] = parts[j], parts[i]
			}
		}
		if p.Digits > 0 && p.Digits < len(parts) {
			parts = parts[len(parts)-p.Digits:]
		}
		v = strings.Join(parts, ".")
	}
	if p.Upper {
		v = escape(v)
	}
	return v
}

func splitAny(s, delims string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(delims, s[i]) >= 0 {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// escape URL-escapes every character outside RFC 3986's unreserved set.
func escape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func shorten(s string, n int) string {
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}
