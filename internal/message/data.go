package message

import (
	"strings"
)

// Data is the summary of a verdict for the JSON report: the identities
// the message presented and what each check concluded.
type Data struct {
	ClientIP    string     `json:"client_ip"`
	Helo        string     `json:"helo"`
	MailFrom    string     `json:"mail_from"`
	From        string     `json:"from,omitempty"`
	FromDomain  string     `json:"from_domain,omitempty"`
	SPF         string     `json:"spf,omitempty"`
	SPFDomain   string     `json:"spf_domain,omitempty"`
	SPFHelo     string     `json:"spf_helo,omitempty"`
	DKIM        []DKIMData `json:"dkim"`
	DMARC       string     `json:"dmarc,omitempty"`
	DMARCPolicy string     `json:"dmarc_policy,omitempty"`
	Iprev       string     `json:"iprev,omitempty"`
	PTR         []string   `json:"ptr,omitempty"`
	TLS         string     `json:"tls,omitempty"`
	Parts       int        `json:"mime_parts"`
}

// DKIMData is one signature's result.
type DKIMData struct {
	Domain    string `json:"domain"`
	Selector  string `json:"selector"`
	Algorithm string `json:"algorithm"`
	KeyBits   int    `json:"key_bits,omitempty"`
	Result    string `json:"result"`
	Reason    string `json:"reason,omitempty"`
}

// authValue keeps only the octets an Authentication-Results value can
// carry unquoted or plainly quoted: letters, digits and a few marks; any
// other is replaced by "?".
func authValue(s string) string {
	if len(s) > 255 {
		s = s[:255]
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		case strings.ContainsRune(".-_@+:", r):
			return r
		}
		return '?'
	}, s)
}

// authReason keeps the printable ASCII of a reason, less the quote and
// backslash that authres does not escape.
func authReason(s string) string {
	if len(s) > 255 {
		s = s[:255]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, s)
}
