package dnssec

import (
	"strings"

	"github.com/miekg/dns"
)

// CanonicalCompare orders two domain names as RFC 4034 §6.1 does: label
// by label from the right, each label compared as lower-case octets, a
// name sorting before its subdomains. It returns -1, 0 or +1.
func CanonicalCompare(a, b string) int {
	la := dns.SplitDomainName(strings.ToLower(dns.Fqdn(a)))
	lb := dns.SplitDomainName(strings.ToLower(dns.Fqdn(b)))
	for i, j := len(la)-1, len(lb)-1; i >= 0 && j >= 0; i, j = i-1, j-1 {
		if c := strings.Compare(unescapeLabel(la[i]), unescapeLabel(lb[j])); c != 0 {
			return c
		}
	}
	switch {
	case len(la) < len(lb):
		return -1
	case len(la) > len(lb):
		return 1
	}
	return 0
}

// unescapeLabel turns a label in presentation form (\DDD and \X escapes)
// into its octets.
func unescapeLabel(l string) string {
	if !strings.Contains(l, `\`) {
		return l
	}
	var b strings.Builder
	for i := 0; i < len(l); i++ {
		c := l[i]
		if c == '\\' && i+3 < len(l) && isDigits(l[i+1:i+4]) {
			b.WriteByte((l[i+1]-'0')*100 + (l[i+2]-'0')*10 + (l[i+3] - '0'))
			i += 3
			continue
		}
		if c == '\\' && i+1 < len(l) {
			i++
			c = l[i]
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

// NSECCovers reports whether the NSEC record proves that name does not
// exist: name sorts strictly between the owner and the next name (the
// last NSEC of a zone wraps around to the apex).
func NSECCovers(n *dns.NSEC, name string) bool {
	owner, next := n.Hdr.Name, n.NextDomain
	if CanonicalCompare(owner, next) < 0 {
		return CanonicalCompare(owner, name) < 0 && CanonicalCompare(name, next) < 0
	}
	// Last record of the chain: next is the apex.
	return CanonicalCompare(owner, name) < 0 && dns.IsSubDomain(next, name)
}
