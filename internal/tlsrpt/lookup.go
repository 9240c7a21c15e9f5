package tlsrpt

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mailcheck/mailcheck/internal/resolve"
)

// RecordName returns the name a domain's TLS-RPT record is published at.
func RecordName(domain string) string { return "_smtp._tls." + strings.TrimSuffix(domain, ".") }

// Selected reports whether a TXT record counts as a TLS-RPT record: it
// starts with the version field v=TLSRPTv1 (RFC 8460 §3: senders discard
// the other records at the name).
func Selected(txt string) bool {
	rest, ok := strings.CutPrefix(txt, Version)
	return ok && (rest == "" || strings.IndexByte(";"+wsp, rest[0]) >= 0)
}

// Result is what discovery found at a domain's TLS-RPT name.
type Result struct {
	Name     string   `json:"name"`     // _smtp._tls.<domain>
	Texts    []string `json:"texts"`    // every TXT record at the name (after any CNAME)
	Selected []string `json:"selected"` // the ones that count (Selected)
	// Record is the selected record, parsed, when there is exactly one.
	Record *Record `json:"record,omitempty"`
	// Answer is the DNS answer, for evidence; nil when the lookup failed.
	Answer *resolve.Answer `json:"-"`
}

// Lookup fetches and selects the TLS-RPT record of domain (an A-label
// name). The resolver follows a CNAME at the name. A failed lookup is an
// error, never an absent record.
func Lookup(ctx context.Context, r resolve.Resolver, domain string) (*Result, error) {
	txt, err := resolve.LookupTXTRecords(ctx, r, RecordName(domain), Selected)
	res := &Result{Name: txt.Name, Texts: txt.Texts, Selected: txt.Selected, Answer: txt.Answer}
	if err == nil && len(res.Selected) == 1 {
		res.Record = Parse(res.Selected[0])
	}
	return res, err
}

// NearMisses returns the TXT records at the name that senders discard but
// that were meant as TLS-RPT records: they start with v=TLSRPT in another
// case, after white space, or with another version.
func (res *Result) NearMisses() []string {
	var out []string
	for _, t := range res.Texts {
		lead := strings.ToLower(strings.TrimLeft(t, wsp))
		if !Selected(t) && strings.HasPrefix(lead, "v=tlsrpt") {
			out = append(out, t)
		}
	}
	return out
}

// Evidence renders the answer's records (the CNAME chain, then the TXT
// records) in presentation format, or what the answer said when it holds
// none.
func (res *Result) Evidence() []string { return resolve.TXTEvidence(res.Name, res.Answer) }

// Usable returns the URIs senders could use once the record's obvious
// repairs are made: its usable rua entries, the repaired form of the
// others where there is one (a bare address, a DMARC-style size limit),
// and the usable entries of a mis-cased RUA tag; each once.
func (r *Record) Usable() []URI {
	var out []URI
	add := func(u URI) {
		if u.OK && !slices.ContainsFunc(out, func(o URI) bool { return o.Raw == u.Raw }) {
			out = append(out, u)
		}
	}
	repaired := map[string]string{}
	for _, p := range r.Problems {
		if p.URI != "" && p.Repaired != "" {
			repaired[p.URI] = p.Repaired
		}
	}
	for _, u := range r.RUA {
		if !u.OK && repaired[u.Raw] != "" {
			u, _ = parseURI(repaired[u.Raw])
		}
		add(u)
	}
	for _, e := range r.Extensions {
		if strings.EqualFold(e.Name, "rua") {
			for _, u := range Parse(Version + "; rua=" + e.Value).RUA {
				add(u)
			}
		}
	}
	return out
}

// Recommend returns the record to publish for domain: rec's Usable URIs
// minus those in drop, and its other extensions; mailto:tlsrpt@<domain>
// when no URI is left or rec is nil.
func Recommend(domain string, rec *Record, drop []string) string {
	var uris, ext []string
	if rec != nil {
		for _, u := range rec.Usable() {
			if !slices.Contains(drop, u.Raw) {
				uris = append(uris, u.Raw)
			}
		}
		for _, e := range rec.Extensions {
			if !strings.EqualFold(e.Name, "rua") {
				ext = append(ext, e.Name+"="+e.Value)
			}
		}
	}
	if len(uris) == 0 {
		uris = []string{"mailto:tlsrpt@" + strings.TrimSuffix(domain, ".")}
	}
	return strings.Join(append([]string{Version, "rua=" + strings.Join(uris, ",")}, ext...), "; ")
}

// TXTRecord renders the record text as a zone-file line for domain.
func TXTRecord(domain, text string) string {
	return fmt.Sprintf("%s. IN TXT %q", RecordName(domain), text)
}
