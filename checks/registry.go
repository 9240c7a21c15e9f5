package checks

import "slices"

// Registry returns every check in report order. A new check is one file
// in this package plus one line here.
func Registry() []Check {
	return []Check{
		MX{},
		PTR{},
		SPF{},
		DMARC{},
		DKIM{},
		DNSBL{},
		DNSSEC{},
		DANE{},
		SMTP{},
		TLS{},
		TLSRPT{},
		MTASTS{},
		IMAP{},
		POP3{},
		Delivery{}, // last: it sums up the checks above
	}
}

// Catalogue returns every finding spec of the given checks, the runner's
// own findings last.
func Catalogue(list []Check) []Spec {
	var out []Spec
	for _, c := range list {
		out = append(out, c.Meta().Findings...)
	}
	return append(out, RunnerSpecs...)
}

// Essential names the checks without which a report gets no grade: the
// MX set, SPF and DMARC decide whether mail arrives and whether the
// domain can be spoofed.
var Essential = []string{"mx", "spf", "dmarc"}

// IsEssential reports whether the named check is essential.
func IsEssential(name string) bool { return slices.Contains(Essential, name) }
