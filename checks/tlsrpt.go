package checks

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/dmarc"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/tlsrpt"
)

// tlsrptCatalog declares the finding IDs of the tlsrpt check, each once (findings.Catalog).
var tlsrptCatalog findings.Catalog

// Finding IDs of the tlsrpt check.
var (
	SpecTLSRPTOK            = tlsrptCatalog.Add(Spec{ID: "tlsrpt.ok", Severity: Pass, RFC: "RFC 8460 §3", Summary: "a valid TLS-RPT record; says where senders report failed TLS connections"})
	SpecTLSRPTMissing       = tlsrptCatalog.Add(Spec{ID: "tlsrpt.missing", Severity: Info, RFC: "RFC 8460 §3", Summary: "no TLS-RPT record: senders report no failed TLS connections (warn when the domain publishes MTA-STS or DANE, whose failures then go unseen)"})
	SpecTLSRPTMultiple      = tlsrptCatalog.Add(Spec{ID: "tlsrpt.multiple", Severity: Fail, RFC: "RFC 8460 §3", Summary: "more than one TLS-RPT record at _smtp._tls: senders use none of them"})
	SpecTLSRPTSyntax        = tlsrptCatalog.Add(Spec{ID: "tlsrpt.syntax", Severity: Fail, RFC: "RFC 8460 §3", Summary: "the record breaks the grammar (which tag or URI, and what is wrong): senders ignore it"})
	SpecTLSRPTBareAddress   = tlsrptCatalog.Add(Spec{ID: "tlsrpt.bare-address", Severity: Fail, RFC: "RFC 8460 §3", Summary: "a rua entry is an e-mail address without mailto:, not a URI: senders ignore the record"})
	SpecTLSRPTHTTPSInvalid  = tlsrptCatalog.Add(Spec{ID: "tlsrpt.https-invalid", Severity: Fail, RFC: "RFC 8460 §3", Summary: "an https: rua entry is not a valid URL: senders ignore the record"})
	SpecTLSRPTUndeliverable = tlsrptCatalog.Add(Spec{ID: "tlsrpt.mailto-undeliverable", Severity: Fail, RFC: "RFC 8460 §3, RFC 5321 §5.1", Summary: "a mailto: destination's domain cannot receive mail (null MX, NXDOMAIN, or no MX and no address)"})
	SpecTLSRPTTemperror     = tlsrptCatalog.Add(Spec{ID: "tlsrpt.temperror", Severity: Error, Summary: "the TLS-RPT lookup, or a lookup the check depends on (destination, MTA-STS, TLSA), failed: not evaluated, never reported as missing"})
)

// TLSRPT audits the domain's SMTP TLS Reporting policy (RFC 8460): the
// TXT record at _smtp._tls.<domain>, its grammar, and whether its mailto:
// destinations can receive mail. The engine is internal/tlsrpt.
type TLSRPT struct{}

var _ Check = TLSRPT{}

// Meta implements Check.
func (TLSRPT) Meta() Meta {
	return Meta{Name: "tlsrpt", Title: "TLS reporting (TLS-RPT)", Weight: 1, Findings: tlsrptCatalog.Specs()}
}

// tlsrptData is the check's structured result.
type tlsrptData struct {
	Lookup       *tlsrpt.Result      `json:"lookup"`       // the name, its TXT records, the selected record parsed with its URIs
	Destinations []dmarc.Destination `json:"destinations"` // whether each mailto: domain can receive mail
	// Protections are the transport policies found when no record is
	// published (MTA-STS, DANE on an MX host): what the missing reports
	// would have covered.
	Protections []string `json:"protections,omitempty"`
	Recommended string   `json:"recommended"` // the record the fixes propose
}

// Run implements Check.
func (TLSRPT) Run(ctx context.Context, env *Env) Result {
	d := env.Domain.ASCII
	res, err := tlsrpt.Lookup(ctx, env.Resolver, d)
	data := &tlsrptData{Lookup: res, Destinations: []dmarc.Destination{}}
	if err != nil {
		return Result{Findings: []Finding{SpecTLSRPTTemperror.New("could not look up the TLS-RPT record of %s: %s (not evaluated: a failed lookup is not a missing record)", d, resolve.Describe(nil, err))}, Data: data}
	}
	switch len(res.Selected) {
	case 0:
		return Result{Findings: tlsrptMissing(ctx, env, res, data), Data: data}
	case 1:
		return Result{Findings: tlsrptFound(ctx, env, res, data), Data: data}
	}
	data.Recommended = tlsrpt.Recommend(d, bestTLSRPT(res.Selected), nil)
	return Result{Findings: []Finding{SpecTLSRPTMultiple.New("%s has %d TXT records starting with %s: senders use none of them (RFC 8460 §3), so no TLS failures are reported for %s", res.Name, len(res.Selected), tlsrpt.Version, d).
		WithRecords(res.Evidence()...).
		WithFix("delete all but one; publish only %s", tlsrpt.TXTRecord(d, data.Recommended))}, Data: data}
}

// bestTLSRPT returns the first valid record among several, else the first.
func bestTLSRPT(texts []string) *tlsrpt.Record {
	for _, t := range texts {
		if r := tlsrpt.Parse(t); r.Valid() {
			return r
		}
	}
	return tlsrpt.Parse(texts[0])
}

// tlsrptMissing reports a name without a TLS-RPT record: the records
// meant as one that senders discard, or the absence, weighed by the
// transport policies whose failures go unreported.
func tlsrptMissing(ctx context.Context, env *Env, res *tlsrpt.Result, data *tlsrptData) []Finding {
	d := env.Domain.ASCII
	if near := res.NearMisses(); len(near) > 0 {
		var fs []Finding
		for _, t := range near {
			data.Recommended = tlsrpt.Recommend(d, tlsrpt.Parse(t), nil)
			fs = append(fs, SpecTLSRPTSyntax.New("the TXT record %q at %s does not start with %s, in that case and with nothing before it: senders discard it (RFC 8460 §3)", t, res.Name, tlsrpt.Version).
				WithRecords(res.Evidence()...).WithFix("replace it with %s", tlsrpt.TXTRecord(d, data.Recommended)))
		}
		return fs
	}
	data.Recommended = tlsrpt.Recommend(d, nil, nil)
	pol := transportPolicies(ctx, env)
	data.Protections = pol.found
	fix := fmt.Sprintf("publish %s (create that mailbox, or use your report service's address)", tlsrpt.TXTRecord(d, data.Recommended))
	f := SpecTLSRPTMissing.New("no TLS-RPT record at %s: sending servers report no failed TLS connections to %s", res.Name, d)
	if len(pol.found) > 0 {
		f = SpecTLSRPTMissing.As(Warn, "no TLS-RPT record at %s, while %s publishes %s: mail that senders cannot deliver under that policy is never reported to %s", res.Name, d, strings.Join(pol.found, " and "), d)
	}
	fs := []Finding{f.WithRecords(append(res.Evidence(), pol.records...)...).WithFix("%s", fix)}
	for _, e := range pol.failed {
		fs = append(fs, SpecTLSRPTTemperror.New("could not tell whether %s publishes MTA-STS or DANE, which decides how much the missing record matters: %s", d, e))
	}
	return fs
}

// tlsPolicies is what transportPolicies found.
type tlsPolicies struct {
	found   []string // "MTA-STS (_mta-sts.example.org)", "DANE (TLSA at _25._tcp.mail.example.org)"
	records []string // their records, for evidence
	failed  []string // lookups that failed, described
}

// transportPolicies looks for MTA-STS (a TXT record starting v=STSv1 at
// _mta-sts.<domain>, RFC 8461 §3.1) and DANE (a TLSA record at
// _25._tcp.<MX host>, RFC 7672 §2.2), each name asked once; DANE only
// when MTA-STS is absent.
func transportPolicies(ctx context.Context, env *Env) tlsPolicies {
	var p tlsPolicies
	name := "_mta-sts." + env.Domain.ASCII
	texts, ans, err := resolve.TXT(ctx, env.Resolver, dns.Fqdn(name))
	if err != nil {
		p.failed = append(p.failed, resolve.Describe(nil, err))
	}
	for i, t := range texts {
		if strings.HasPrefix(t, "v=STSv1") {
			p.found = append(p.found, fmt.Sprintf("MTA-STS (%s)", name))
			p.records = append(p.records, ans.Of(dns.TypeTXT)[i].String())
			return p
		}
	}
	set := env.MX(ctx)
	if set.Err != nil {
		p.failed = append(p.failed, fmt.Sprintf("the MX set, whose hosts would carry DANE records, could not be looked up: %s", resolve.Describe(nil, set.Err)))
		return p
	}
	var asked []string
	for _, h := range set.Hosts {
		tlsa := "_25._tcp." + h.Name
		if h.IPLiteral || slices.Contains(asked, tlsa) {
			continue
		}
		asked = append(asked, tlsa)
		a, err := env.Resolver.Query(ctx, dns.Fqdn(tlsa), dns.TypeTLSA)
		switch {
		case err != nil:
			p.failed = append(p.failed, resolve.Describe(nil, err))
		case len(a.Of(dns.TypeTLSA)) > 0:
			p.found = append(p.found, fmt.Sprintf("DANE (TLSA at %s)", tlsa))
			p.records = append(p.records, a.Strings(dns.TypeTLSA)...)
		}
	}
	return p
}

// tlsrptFound judges the one TLS-RPT record at the name.
func tlsrptFound(ctx context.Context, env *Env, res *tlsrpt.Result, data *tlsrptData) []Finding {
	d := env.Domain.ASCII
	rec := res.Record
	evidence := res.Evidence()
	dests, drop := tlsrptDestinations(ctx, env, rec)
	data.Destinations = dests
	data.Recommended = tlsrpt.Recommend(d, rec, drop)
	record := tlsrpt.TXTRecord(d, data.Recommended)
	var fs []Finding
	for _, p := range rec.Problems {
		fs = append(fs, tlsrptProblem(res.Name, p, evidence, record))
	}
	for _, dst := range dests {
		switch {
		case dst.Err != nil:
			fs = append(fs, SpecTLSRPTTemperror.New("could not check whether report destination %s can receive mail: %s", dst.Host, resolve.Describe(nil, dst.Err)))
		case !dst.OK:
			fs = append(fs, SpecTLSRPTUndeliverable.New("%s sends reports to addresses at %s, but %s", res.Name, dst.Host, dst.Why).
				WithRecords(dst.Records...).WithFix("publish %s", record))
		}
	}
	var live []string
	for _, u := range rec.RUA {
		if u.OK && !slices.Contains(drop, u.Raw) {
			live = append(live, u.Raw)
		}
	}
	if rec.Valid() && len(live) > 0 {
		ok := SpecTLSRPTOK.New("TLS-RPT record at %s: senders report failed TLS connections to %s", res.Name, strings.Join(live, ", ")).
			WithRecords(evidence...).WithData(rec)
		fs = append([]Finding{ok}, fs...)
	}
	return fs
}

// tlsrptProblem turns one problem of the record into a finding.
func tlsrptProblem(name string, p tlsrpt.Problem, evidence []string, record string) Finding {
	spec := SpecTLSRPTSyntax
	switch p.Kind {
	case tlsrpt.KindBareAddress:
		spec = SpecTLSRPTBareAddress
	case tlsrpt.KindHTTPS:
		spec = SpecTLSRPTHTTPSInvalid
	}
	f := spec.New("%s: %s; senders ignore a record with a syntax error (RFC 8460 §3)", name, p.Message).
		WithRecords(evidence...).WithData(p)
	if p.Repaired != "" {
		return f.WithFix("write %s instead of %s: publish %s", p.Repaired, p.URI, record)
	}
	return f.WithFix("publish %s", record)
}

// tlsrptDestinations checks each domain of the record's usable mailto:
// URIs (repaired ones included) for a way to receive mail, each domain
// once, and lists the URIs that lead to a domain that cannot.
func tlsrptDestinations(ctx context.Context, env *Env, rec *tlsrpt.Record) ([]dmarc.Destination, []string) {
	dests := []dmarc.Destination{}
	var drop []string
	byHost := map[string]dmarc.Destination{}
	for _, u := range rec.Usable() {
		for _, host := range u.Domains {
			dst, ok := byHost[host]
			if !ok {
				dst = mailDestination(ctx, env.Resolver, host)
				byHost[host] = dst
				dests = append(dests, dst)
			}
			if !dst.OK && dst.Err == nil && !slices.Contains(drop, u.Raw) {
				drop = append(drop, u.Raw)
			}
		}
	}
	return dests, drop
}

// mailDestination says whether host can receive mail (an MX other than a
// null MX, or no MX and an address: RFC 5321 §5.1, RFC 7505), by the
// rule the DMARC engine applies to its report destinations.
func mailDestination(ctx context.Context, r resolve.Resolver, host string) dmarc.Destination {
	u := dmarc.ReportURI{Tag: "rua", Raw: "mailto:postmaster@" + host, Scheme: "mailto", Host: host}
	dst := dmarc.Destinations(ctx, r, []dmarc.ReportURI{u})[0]
	if dst.Records == nil {
		dst.Records = []string{} // an array in the JSON report, never null
	}
	return dst
}
