package dmarc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/gopool"
	"github.com/mailcheck/mailcheck/internal/orgdomain"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// Status is the outcome of policy discovery.
type Status string

const (
	// StatusFound: exactly one DMARC record (Result.Record).
	StatusFound Status = "found"
	// StatusNone: no DMARC record at the domain or its organizational
	// domain.
	StatusNone Status = "none"
	// StatusMultiple: more than one DMARC record at one name; receivers
	// apply no DMARC (§6.6.3).
	StatusMultiple Status = "multiple"
	// StatusTemperror: a lookup failed (timeout, SERVFAIL, ...); nothing
	// can be said.
	StatusTemperror Status = "temperror"
)

// ErrLookup wraps every resolver failure Lookup returns; the resolver's
// own error (a *resolve.QueryError, with resolve.ErrServFail etc.) stays
// reachable with errors.Is/As.
var ErrLookup = errors.New("dmarc: lookup failed")

// Query is one question policy discovery asked.
type Query struct {
	Name    string   `json:"name"`   // "_dmarc.example.org"
	Answer  string   `json:"answer"` // "2 TXT records", "NXDOMAIN", "no TXT record", or the error
	Records []string `json:"records"`
}

// Result is the outcome of policy discovery for one domain.
type Result struct {
	Status Status `json:"status"`
	Domain string `json:"domain"` // the domain asked about, A-label
	// OrgDomain is Domain's organizational domain; "" when it has none
	// (the domain is a public suffix).
	OrgDomain string `json:"org_domain"`
	// PolicyDomain is the domain whose record applies: Domain, or
	// OrgDomain when Inherited. Set for StatusFound and StatusMultiple.
	PolicyDomain string `json:"policy_domain,omitempty"`
	Inherited    bool   `json:"inherited"`
	// Texts are the DMARC TXT records at PolicyDomain (one when found).
	Texts []string `json:"texts"`
	// Record is the diagnosed record for StatusFound.
	Record *Record `json:"record,omitempty"`
	// Ignored are TXT records at the _dmarc names asked that look like a
	// botched DMARC record (receivers discard them), with their names.
	Ignored []IgnoredRecord `json:"ignored"`
	Queries []Query         `json:"queries"`
	// Evidence is every record seen, in presentation format (CNAMEs
	// included).
	Evidence []string `json:"-"`
}

// IgnoredRecord is a TXT record at a _dmarc name that receivers discard
// but that was probably meant as the DMARC record.
type IgnoredRecord struct {
	Name   string  `json:"name"`
	Text   string  `json:"text"`
	Record *Record `json:"record"` // its diagnosis (Problems say why it is discarded)
}

// RecordName returns the name a domain's DMARC record lives at.
func RecordName(domain string) string { return "_dmarc." + strings.TrimSuffix(domain, ".") }

// Lookup discovers the DMARC policy for domain (A-label or U-label form)
// as RFC 7489 §6.6.3 describes: the TXT records at _dmarc.<domain> that
// start with v=DMARC1; when there is none (NXDOMAIN, NODATA or only other
// TXT records), the same at _dmarc.<organizational domain>. A resolver
// failure stops discovery: the result has StatusTemperror and the error
// wraps ErrLookup and the resolver's error. It never falls back to the
// organizational domain after a failure, so a timeout is never mistaken
// for a missing record.
func Lookup(ctx context.Context, r resolve.Resolver, domain string) (*Result, error) {
	d, err := orgdomain.ASCII(domain)
	if err != nil {
		return &Result{Status: StatusTemperror, Domain: domain, Texts: []string{}, Ignored: []IgnoredRecord{}, Queries: []Query{}},
			fmt.Errorf("%w: %v", ErrLookup, err)
	}
	res := &Result{Status: StatusNone, Domain: d, Texts: []string{}, Ignored: []IgnoredRecord{}, Queries: []Query{}}
	if org, err := orgdomain.Lookup(d); err == nil {
		res.OrgDomain = org
	}
	names := []string{d}
	if res.OrgDomain != "" && res.OrgDomain != d {
		names = append(names, res.OrgDomain)
	}
	for i, name := range names {
		texts, err := res.ask(ctx, r, name)
		if err != nil {
			res.Status = StatusTemperror
			return res, fmt.Errorf("%w: %w", ErrLookup, err)
		}
		if len(texts) == 0 {
			continue
		}
		res.PolicyDomain, res.Inherited, res.Texts = name, i > 0, texts
		if len(texts) > 1 {
			res.Status = StatusMultiple
			return res, nil
		}
		res.Status = StatusFound
		res.Record = Parse(texts[0])
		return res, nil
	}
	return res, nil
}

func (res *Result) ask(ctx context.Context, r resolve.Resolver, domain string) ([]string, error) {
	name := RecordName(domain)
	txts, ans, err := resolve.TXT(ctx, r, name)
	q := Query{Name: name, Records: []string{}}
	if err != nil {
		q.Answer = err.Error()
		res.Queries = append(res.Queries, q)
		return nil, err
	}
	q.Records = append(append([]string{}, ans.Strings(dns.TypeCNAME)...), ans.Strings(dns.TypeTXT)...)
	res.Evidence = append(res.Evidence, q.Records...)
	switch {
	case ans.NXDomain():
		q.Answer = "NXDOMAIN"
	case len(txts) == 0:
		q.Answer = "no TXT record"
	default:
		q.Answer = fmt.Sprintf("%d TXT record(s)", len(txts))
	}
	res.Queries = append(res.Queries, q)
	var out []string
	for _, t := range txts {
		switch {
		case IsDMARC(t):
			out = append(out, t)
		case LooksLikeDMARC(t):
			res.Ignored = append(res.Ignored, IgnoredRecord{Name: name, Text: t, Record: Parse(t)})
		}
	}
	return out, nil
}

// Authorization is the outcome of the external destination check of RFC
// 7489 §7.1 for one report URI.
type Authorization struct {
	URI ReportURI `json:"uri"`
	// External: the destination's organizational domain differs from the
	// policy domain's, so the destination must authorize the reports.
	External bool `json:"external"`
	// Name is the authorization record's name,
	// <policy domain>._report._dmarc.<destination host>.
	Name       string   `json:"name,omitempty"`
	Authorized bool     `json:"authorized"`
	Records    []string `json:"records"`
	// Answer describes a negative answer ("NXDOMAIN", "no TXT record",
	// "no TXT record starting with v=DMARC1").
	Answer string `json:"answer,omitempty"`
	// Err is set when the lookup failed: nothing can be said.
	Err error `json:"-"`
	// Message renders Err for JSON.
	Error string `json:"error,omitempty"`
}

// MaxAuthorizeParallel bounds the authorization lookups Authorize keeps
// in flight: a hostile record can list hundreds of destinations.
const MaxAuthorizeParallel = 8

// Authorize checks every valid mailto URI of uris against policyDomain
// (the domain whose _dmarc record lists them), at most
// MaxAuthorizeParallel lookups at a time. Internal destinations (same
// organizational domain) need no record and are returned authorized
// without a query; each authorization name is asked once.
func Authorize(ctx context.Context, r resolve.Resolver, policyDomain string, uris []ReportURI) []Authorization {
	out := make([]Authorization, 0, len(uris))
	for _, u := range uris {
		if !u.Valid() || u.Host == "" {
			continue
		}
		a := Authorization{URI: u, Records: []string{}}
		if orgdomain.Same(policyDomain, u.Host) {
			a.Authorized = true
		} else {
			a.External = true
			a.Name = strings.TrimSuffix(policyDomain, ".") + "._report._dmarc." + u.Host
		}
		out = append(out, a)
	}
	answers := map[string]*answer{}
	sem := make(chan struct{}, MaxAuthorizeParallel)
	var wg sync.WaitGroup
	for _, a := range out {
		if !a.External || answers[a.Name] != nil {
			continue
		}
		an := &answer{recs: []string{}}
		answers[a.Name] = an
		wg.Add(1)
		name := a.Name
		gopool.Go(ctx, func() {
			defer wg.Done()
			askAuthorization(ctx, r, name, sem, an)
		})
	}
	wg.Wait()
	for i := range out {
		an := answers[out[i].Name]
		if !out[i].External || an == nil {
			continue
		}
		out[i].Authorized, out[i].Records, out[i].Answer, out[i].Err = an.ok, an.recs, an.neg, an.err
		if an.err != nil {
			out[i].Error = an.err.Error()
		}
	}
	return out
}

// answer is what the lookup of one authorization record found.
type answer struct {
	ok   bool
	recs []string
	neg  string
	err  error
}

// askAuthorization looks up name's authorization record (RFC 7489 §7.1)
// under the semaphore sem and fills an.
func askAuthorization(ctx context.Context, r resolve.Resolver, name string, sem chan struct{}, an *answer) {
	select {
	case sem <- struct{}{}:
		defer func() { <-sem }()
	case <-ctx.Done():
		an.err = resolve.ContextError(ctx, dns.Fqdn(name), dns.TypeTXT)
		return
	}
	if len(name) > 253 {
		an.neg = fmt.Sprintf("the name is %d octets long, over the DNS limit of 253: receivers cannot verify it", len(name))
		return
	}
	txts, ans, err := resolve.TXT(ctx, r, name)
	if err != nil {
		an.err = err
		return
	}
	an.recs = append(append([]string{}, ans.Strings(dns.TypeCNAME)...), ans.Strings(dns.TypeTXT)...)
	junk := false
	for _, t := range txts {
		an.ok = an.ok || IsAuthorization(t)
		junk = junk || IsDMARC(t)
	}
	switch {
	case an.ok:
	case ans.NXDomain():
		an.neg = "NXDOMAIN"
	case len(txts) == 0:
		an.neg = "no TXT record"
	case junk:
		an.neg = "a TXT record starts with v=DMARC1 but is not a list of tag=value pairs, so receivers discard it (RFC 7489 §7.1)"
	default:
		an.neg = "no TXT record starting with v=DMARC1"
	}
}
