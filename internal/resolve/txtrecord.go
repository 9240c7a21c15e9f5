package resolve

import (
	"context"
	"fmt"

	"github.com/miekg/dns"
)

// TXTRecords is the lookup of a policy record published as TXT at a
// name (MTA-STS, TLS-RPT): every record there, and the ones a selector
// says count.
type TXTRecords struct {
	Name     string   // without trailing dot
	Texts    []string // every TXT record at the name (after any CNAME)
	Selected []string // the ones that count
	Answer   *Answer  // nil when the lookup failed
}

// LookupTXTRecords fetches the TXT records at name (no trailing dot; the
// resolver follows a CNAME) and keeps those selected says count. A failed
// lookup is an error, never an absent record.
func LookupTXTRecords(ctx context.Context, r Resolver, name string, selected func(string) bool) (TXTRecords, error) {
	res := TXTRecords{Name: name, Texts: []string{}, Selected: []string{}}
	texts, ans, err := TXT(ctx, r, dns.Fqdn(name))
	if err != nil {
		return res, err
	}
	res.Answer = ans
	res.Texts = append(res.Texts, texts...)
	for _, t := range texts {
		if selected(t) {
			res.Selected = append(res.Selected, t)
		}
	}
	return res, nil
}

// TXTEvidence renders an answer's records (the CNAME chain, then the TXT
// records) in presentation format, or what the answer said about name
// when it holds none; nothing when the lookup failed (ans nil).
func TXTEvidence(name string, ans *Answer) []string {
	if ans == nil {
		return []string{}
	}
	out := append(ans.Strings(dns.TypeCNAME), ans.Strings(dns.TypeTXT)...)
	if len(ans.Of(dns.TypeTXT)) == 0 {
		out = append(out, fmt.Sprintf("%s TXT: %s", name, Describe(ans, nil)))
	}
	return out
}
