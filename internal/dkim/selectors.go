package dkim

import (
	"fmt"
	"strings"
)

// Selector names a key: <selector>._domainkey.<domain> (RFC 6376 §3.1).
// DNS cannot list the selectors a domain uses, so the probe asks for the
// names that mail software and providers use by default. docs/checks/dkim.md
// documents this list; a test keeps the two in step.
type Selector struct {
	Name string
	Who  string // who uses it by default
}

// Builtin is the list of common selectors probed when none is given.
var Builtin = []Selector{
	{"default", "cPanel, Plesk, DirectAdmin, rspamd and many self-hosted setups"},
	{"dkim", "generic; many hosting panels"},
	{"dkim1", "generic; numbered rotation schemes"},
	{"mail", "generic; OpenDKIM and amavis examples"},
	{"email", "generic"},
	{"smtp", "Mailgun (older domains), generic"},
	{"mx", "Mailgun, generic"},
	{"dk", "generic; older DomainKeys-era setups"},
	{"key1", "generic; numbered rotation schemes"},
	{"key2", "generic; numbered rotation schemes"},
	{"selector1", "Microsoft 365 / Exchange Online"},
	{"selector2", "Microsoft 365 / Exchange Online (the rotation partner)"},
	{"google", "Google Workspace"},
	{"k1", "Mailchimp / Mandrill"},
	{"k2", "Mailchimp / Mandrill"},
	{"k3", "Mailchimp / Mandrill"},
	{"mandrill", "Mandrill (older setups)"},
	{"s1", "SendGrid"},
	{"s2", "SendGrid"},
	{"s1024", "Yahoo and older 1024-bit setups"},
	{"s2048", "Yahoo and other 2048-bit setups"},
	{"sig1", "iCloud Mail custom domains"},
	{"fm1", "Fastmail"},
	{"fm2", "Fastmail"},
	{"fm3", "Fastmail"},
	{"protonmail", "Proton Mail"},
	{"protonmail2", "Proton Mail"},
	{"protonmail3", "Proton Mail"},
	{"mailjet", "Mailjet"},
}

// BuiltinNames returns the names of Builtin, in order.
func BuiltinNames() []string {
	out := make([]string, len(Builtin))
	for i, s := range Builtin {
		out[i] = s.Name
	}
	return out
}

// CheckSelector validates a selector given by a user: one or more
// dot-separated labels of letters, digits, hyphens and underscores
// (RFC 6376 §3.1 makes it a sub-domain; underscores appear in practice),
// at most 63 octets per label and short enough to fit under _domainkey.
// It returns the selector in lower case.
func CheckSelector(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", fmt.Errorf("empty selector")
	}
	if len(s) > 180 {
		return "", fmt.Errorf("selector %q is %d octets long; selectors are short DNS labels", shorten(s), len(s))
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" {
			return "", fmt.Errorf("selector %q has an empty label", s)
		}
		if len(l) > 63 {
			return "", fmt.Errorf("selector %q has a label over 63 octets", shorten(s))
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("selector %q: character %q is not allowed (letters, digits, '-', '_' and '.')", shorten(s), c)
			}
		}
	}
	return s, nil
}
