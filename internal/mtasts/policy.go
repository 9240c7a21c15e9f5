package mtasts

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/mailcheck/mailcheck/internal/resolve"
)

// The policy modes (RFC 8461 §5).
const (
	ModeEnforce = "enforce" // senders deliver only over valid TLS to a matching MX
	ModeTesting = "testing" // senders report failures (TLS-RPT) but deliver anyway
	ModeNone    = "none"    // the domain withdraws its policy
)

// MaxAgeLimit is the largest max_age RFC 8461 §3.2 allows (about a year).
const MaxAgeLimit = 31557600

// PolicyVersion is the policy file's version value.
const PolicyVersion = "STSv1"

// Policy is a parsed policy file (RFC 8461 §3.2).
type Policy struct {
	Version  string    `json:"version"`
	Mode     string    `json:"mode"`
	MaxAge   int64     `json:"max_age"`
	MX       []string  `json:"mx"`       // the patterns, as written
	Unknown  []string  `json:"unknown"`  // keys RFC 8461 does not define: ignored
	Problems []Problem `json:"problems"` // every deviation
}

// Valid reports whether senders use the policy.
func (p *Policy) Valid() bool { return len(p.Problems) == 0 }

// ParsePolicy parses a policy file: lines ending in LF or CRLF, each
// "key: value" (white space after the colon), the keys version, mode,
// max_age (once each) and mx (one or more, not needed in mode none);
// unknown keys are ignored.
func ParsePolicy(text string) *Policy {
	p := &Policy{MX: []string{}, Unknown: []string{}, Problems: []Problem{}}
	seen := map[string]bool{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.Trim(line, wsp) == "" {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		value = strings.Trim(value, wsp)
		if !ok || key == "" || strings.ContainsAny(key, wsp) {
			p.problem(KindField, "", "line %d (%q) is not \"key: value\"", i+1, shorten(line, 40))
			continue
		}
		if key != "mx" && seen[key] && isKnown(key) {
			p.problem(KindDuplicate, key, "%s appears more than once (line %d)", key, i+1)
			continue
		}
		seen[key] = true
		p.field(key, value)
	}
	p.finish(seen)
	return p
}

func isKnown(key string) bool {
	return key == "version" || key == "mode" || key == "max_age" || key == "mx"
}

// field reads one key and its value.
func (p *Policy) field(key, value string) {
	switch key {
	case "version":
		p.Version = value
		if value != PolicyVersion {
			p.problem(KindVersion, key, "version is %q; it must be %s", shorten(value, 24), PolicyVersion)
		}
	case "mode":
		p.Mode = value
		if value != ModeEnforce && value != ModeTesting && value != ModeNone {
			p.problem(KindMode, key, "mode is %q; it must be enforce, testing or none (in lower case)", shorten(value, 24))
		}
	case "max_age":
		n, err := strconv.ParseInt(value, 10, 64)
		switch {
		case err != nil || len(value) > 10 || strings.TrimLeft(value, "0123456789") != "":
			p.problem(KindMaxAge, key, "max_age %q is not a number of seconds (1 to 10 digits)", shorten(value, 24))
		case n > MaxAgeLimit:
			p.MaxAge = n
			p.problem(KindMaxAge, key, "max_age %d is above the limit of %d seconds (RFC 8461 §3.2)", n, MaxAgeLimit)
		default:
			p.MaxAge = n
		}
	case "mx":
		p.MX = append(p.MX, value)
		if msg := checkPattern(value); msg != "" {
			kind := KindMX
			if strings.Contains(msg, "IP address") {
				kind = KindMXAddress
			}
			p.problem(kind, key, "%s", msg)
		}
	default:
		p.Unknown = append(p.Unknown, key)
	}
}

// finish reports the required fields that are missing.
func (p *Policy) finish(seen map[string]bool) {
	if !seen["version"] {
		p.problem(KindVersion, "version", "the policy has no \"version: %s\" line", PolicyVersion)
	}
	if !seen["mode"] {
		p.problem(KindMode, "mode", "the policy has no mode line (enforce, testing or none)")
	}
	if !seen["max_age"] {
		p.problem(KindMaxAge, "max_age", "the policy has no max_age line")
	}
	if !seen["mx"] && p.Mode != ModeNone {
		p.problem(KindMX, "mx", "the policy has no mx line: no MX host can match it")
	}
}

// checkPattern says what is wrong with an mx pattern, "" when nothing:
// a host name, optionally "*." and a host name.
func checkPattern(pat string) string {
	host := strings.TrimPrefix(pat, "*.")
	bare := strings.Trim(host, "[]")
	if _, err := netip.ParseAddr(bare); err == nil {
		return fmt.Sprintf("mx %q is an IP address: senders match MX host names only, so no MX matches it", shorten(pat, 40))
	}
	if strings.Contains(host, "*") {
		return fmt.Sprintf("mx %q: a wildcard is allowed only as \"*.\" at the start", shorten(pat, 40))
	}
	if !validHost(strings.TrimSuffix(host, ".")) {
		return fmt.Sprintf("mx %q is not a host name pattern", shorten(pat, 40))
	}
	return ""
}

// validHost reports whether host is a domain name: LDH labels of 1-63
// octets checked here, IDNs (U-labels, xn-- labels) through
// resolve.ParseName.
func validHost(host string) bool {
	if host == "" || len(host) > 253 {
		return false
	}
	for _, l := range strings.Split(host, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range []byte(l) {
			if c >= 0x80 || strings.HasPrefix(l, "xn--") {
				_, err := resolve.ParseName(host)
				return err == nil
			}
			if !isAlnum(c) && c != '-' {
				return false
			}
		}
	}
	return true
}

func (p *Policy) problem(k Kind, field, format string, args ...any) {
	p.Problems = append(p.Problems, Problem{Kind: k, Field: field, Message: fmt.Sprintf(format, args...)})
}

// Match reports whether host matches pattern (RFC 8461 §4.1): equal
// names, case-insensitive and without a trailing dot, or a "*." pattern
// whose wildcard stands for exactly one leftmost label.
func Match(pattern, host string) bool {
	pattern = strings.ToLower(strings.TrimSuffix(pattern, "."))
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if pattern == "" || host == "" {
		return false
	}
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		_, parent, found := strings.Cut(host, ".")
		return found && parent == rest && !strings.HasPrefix(host, ".")
	}
	return pattern == host
}

// Matching returns the first of patterns that host matches, or "".
func Matching(patterns []string, host string) string {
	for _, p := range patterns {
		if Match(p, host) {
			return p
		}
	}
	return ""
}

// Render writes a policy file (CRLF lines, as RFC 8461 §3.2 shows).
func Render(mode string, maxAge int64, mx []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: %s\r\nmode: %s\r\n", PolicyVersion, mode)
	for _, m := range mx {
		fmt.Fprintf(&b, "mx: %s\r\n", m)
	}
	fmt.Fprintf(&b, "max_age: %d\r\n", maxAge)
	return b.String()
}
