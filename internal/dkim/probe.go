package dkim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/gopool"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// Lookup is the outcome of asking for one selector's key record.
type Lookup struct {
	Selector string
	Name     string // <selector>._domainkey.<domain>, no trailing dot
	Answer   *resolve.Answer
	Err      error    // the lookup failed (SERVFAIL, timeout...): unknown
	TXT      []string // the TXT records, each record's strings joined
	// Wildcard is set when the answer is identical to the answer for a
	// random selector: it comes from a wildcard, not from a real key.
	Wildcard bool
}

// Exists reports whether the selector has TXT records of its own (not a
// wildcard's).
func (l *Lookup) Exists() bool { return l.Err == nil && len(l.TXT) > 0 && !l.Wildcard }

// Chain returns the CNAME chain that led to the records, without the
// trailing dots.
func (l *Lookup) Chain() []string {
	var out []string
	for _, c := range l.Answer.Chain() {
		out = append(out, strings.TrimSuffix(c, "."))
	}
	return out
}

// Evidence returns the answer's records in presentation format: the CNAME
// chain first, then the TXT records.
func (l *Lookup) Evidence() []string {
	if l.Answer == nil {
		return nil
	}
	return append(l.Answer.Strings(dns.TypeCNAME), l.Answer.Strings(dns.TypeTXT)...)
}

// ProbeResult is what probing a domain's selectors found.
type ProbeResult struct {
	Domain  string
	Lookups []Lookup // one per selector, in the order asked
	// Random is the lookup of a selector that no one publishes: if
	// it has records, the domain has a wildcard under _domainkey.
	Random Lookup
	// Cut, when set, is the NXDOMAIN answer for _domainkey.<domain> that
	// made ProbeCut skip the sweep: no name exists beneath a name that
	// does not exist (RFC 8020), so the skipped selectors and Random carry
	// a synthesized NXDOMAIN instead of an answer of their own.
	Cut *resolve.Answer
}

// HasWildcard reports whether the unpublished selector got TXT records.
func (p *ProbeResult) HasWildcard() bool { return p.Random.Err == nil && len(p.Random.TXT) > 0 }

// Failed returns the lookups that got no usable answer.
func (p *ProbeResult) Failed() []*Lookup {
	var out []*Lookup
	for i := range p.Lookups {
		if p.Lookups[i].Err != nil {
			out = append(out, &p.Lookups[i])
		}
	}
	return out
}

// Found returns the lookups that have records of their own.
func (p *ProbeResult) Found() []*Lookup {
	var out []*Lookup
	for i := range p.Lookups {
		if p.Lookups[i].Exists() {
			out = append(out, &p.Lookups[i])
		}
	}
	return out
}

// Selectors merges the user's selectors (first, validated, lower-cased)
// with the built-in list, without duplicates. Invalid user selectors are
// returned as errors and left out.
func Selectors(user []string, builtin bool) (list []string, bad []error) {
	seen := map[string]bool{}
	for _, s := range user {
		c, err := CheckSelector(s)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		if !seen[c] {
			seen[c] = true
			list = append(list, c)
		}
	}
	if builtin {
		for _, s := range Builtin {
			if !seen[s.Name] {
				seen[s.Name] = true
				list = append(list, s.Name)
			}
		}
	}
	return list, bad
}

// DefaultParallel is how many selector lookups Probe keeps in flight:
// the built-in list and the random selector in one round trip.
const DefaultParallel = 32

// WildcardSelector returns the selector name the wildcard test asks for:
// a fixed prefix and 80 bits of a SHA-256 of the domain. No one publishes
// it, and it is the same for the same domain in every run, so two runs
// against the same data report the same text (issue 15: deterministic
// reports).
func WildcardSelector(domain string) string {
	sum := sha256.Sum256([]byte("mailcheck wildcard probe\x00" + strings.ToLower(strings.TrimSuffix(domain, "."))))
	return "mailcheck-" + hex.EncodeToString(sum[:10])
}

// Probe looks up the key record of every selector of domain (A-label form,
// no trailing dot) through r, at most parallel at a time, together with a
// random selector to detect wildcards. Answers identical to the random
// selector's are marked Wildcard. Every lookup honours ctx.
func Probe(ctx context.Context, r resolve.Resolver, domain string, selectors []string, parallel int) *ProbeResult {
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	res := &ProbeResult{Domain: domain, Lookups: make([]Lookup, len(selectors))}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	do := func(l *Lookup, sel string) {
		defer wg.Done()
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
		case <-ctx.Done():
		}
		*l = lookupSelector(ctx, r, domain, sel)
	}
	wg.Add(1 + len(selectors))
	wild := WildcardSelector(domain)
	gopool.Go(ctx, func() { do(&res.Random, wild) })
	for i, sel := range selectors {
		gopool.Go(ctx, func() { do(&res.Lookups[i], sel) })
	}
	wg.Wait()
	if res.HasWildcard() {
		want := sortedCopy(res.Random.TXT)
		for i := range res.Lookups {
			l := &res.Lookups[i]
			if l.Err == nil && len(l.TXT) > 0 && slices.Equal(sortedCopy(l.TXT), want) {
				l.Wildcard = true
			}
		}
	}
	return res
}

// ProbeCut is Probe with the sweep cut by evidence: it first asks for
// _domainkey.<domain>, and when that name does not exist (NXDOMAIN, not
// through a CNAME) no selector can exist beneath it on a server that
// follows RFC 8020, so only the first always selectors (the user's own,
// which a server that wrongly denies empty non-terminals would otherwise
// hide) are asked; the others and the random selector get a synthesized
// NXDOMAIN and the result's Cut is set. Any other answer, or a failure,
// leads to the full Probe.
func ProbeCut(ctx context.Context, r resolve.Resolver, domain string, selectors []string, always, parallel int) *ProbeResult {
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	ans, err := r.Query(ctx, "_domainkey."+domain+".", dns.TypeTXT)
	if err != nil || !ans.NXDomain() || len(ans.Chain()) > 0 {
		return Probe(ctx, r, domain, selectors, parallel)
	}
	always = min(max(always, 0), len(selectors))
	res := &ProbeResult{Domain: domain}
	if always > 0 {
		res = Probe(ctx, r, domain, selectors[:always], parallel)
		if res.HasWildcard() || len(res.Failed()) > 0 {
			return Probe(ctx, r, domain, selectors, parallel) // not what NXDOMAIN promised
		}
	}
	res.Cut = ans
	res.Random = deniedLookup(domain, WildcardSelector(domain))
	for _, sel := range selectors[always:] {
		res.Lookups = append(res.Lookups, deniedLookup(domain, sel))
	}
	return res
}

// deniedLookup is the lookup of sel under a _domainkey that does not
// exist: an NXDOMAIN answer, synthesized.
func deniedLookup(domain, sel string) Lookup {
	l := Lookup{Selector: sel, Name: sel + "._domainkey." + domain}
	l.Answer = &resolve.Answer{Name: l.Name + ".", Qtype: dns.TypeTXT, Rcode: dns.RcodeNameError, Server: "cut"}
	return l
}

func lookupSelector(ctx context.Context, r resolve.Resolver, domain, sel string) Lookup {
	l := Lookup{Selector: sel, Name: sel + "._domainkey." + domain}
	if err := resolve.ContextError(ctx, l.Name+".", dns.TypeTXT); err != nil {
		l.Err = err
		return l
	}
	l.TXT, l.Answer, l.Err = resolve.TXT(ctx, r, l.Name+".")
	return l
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
