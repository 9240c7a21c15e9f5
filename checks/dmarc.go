package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/dmarc"
	"github.com/mailcheck/mailcheck/internal/future"
)

// dmarcCatalog declares the finding IDs of the dmarc check, each once (findings.Catalog).
var dmarcCatalog findings.Catalog

// Finding IDs of the dmarc check.
var (
	SpecDMARCOK              = dmarcCatalog.Add(Spec{ID: "dmarc.ok", Severity: Pass, RFC: "RFC 7489 §6.3", Summary: "a valid DMARC record with an enforcing policy; says where it was found and the effective policy"})
	SpecDMARCMissing         = dmarcCatalog.Add(Spec{ID: "dmarc.missing", Severity: Fail, RFC: "RFC 7489 §6.6.3", Summary: "no DMARC record at the domain or its organizational domain: receivers cannot reject forged mail"})
	SpecDMARCMultiple        = dmarcCatalog.Add(Spec{ID: "dmarc.multiple", Severity: Fail, RFC: "RFC 7489 §6.6.3", Summary: "more than one DMARC record at one name: receivers apply none of them"})
	SpecDMARCSyntax          = dmarcCatalog.Add(Spec{ID: "dmarc.syntax", Severity: Fail, RFC: "RFC 7489 §6.4", Summary: "a malformed tag or record: which tag, what is wrong and what receivers do (fail when the record or policy is lost, warn when a tag falls back to its default, info for spellings the grammar allows but some receivers mishandle)"})
	SpecDMARCUnknownTag      = dmarcCatalog.Add(Spec{ID: "dmarc.unknown-tag", Severity: Warn, RFC: "RFC 7489 §6.3", Summary: "a tag DMARC does not define (often a typo); receivers ignore it"})
	SpecDMARCPolicyNone      = dmarcCatalog.Add(Spec{ID: "dmarc.policy-none", Severity: Warn, RFC: "RFC 7489 §6.3", Summary: "the effective policy is none: monitoring only, no protection against spoofing"})
	SpecDMARCPctPartial      = dmarcCatalog.Add(Spec{ID: "dmarc.pct-partial", Severity: Warn, RFC: "RFC 7489 §6.6.4", Summary: "pct below 100: the policy applies to only part of the failing mail"})
	SpecDMARCSubdomainWeaker = dmarcCatalog.Add(Spec{ID: "dmarc.subdomain-weaker", Severity: Warn, RFC: "RFC 7489 §6.3", Summary: "sp is weaker than p: subdomains are easier to spoof than the domain"})
	SpecDMARCNoRUA           = dmarcCatalog.Add(Spec{ID: "dmarc.no-rua", Severity: Warn, RFC: "RFC 7489 §7.2", Summary: "no usable aggregate report address (rua): nobody sees who sends mail as the domain"})
	SpecDMARCRUAInvalid      = dmarcCatalog.Add(Spec{ID: "dmarc.rua-invalid", Severity: Warn, RFC: "RFC 7489 §6.4", Summary: "a rua URI is malformed or not mailto:; receivers skip it"})
	SpecDMARCRUAUnauthorized = dmarcCatalog.Add(Spec{ID: "dmarc.rua-unauthorized", Severity: Warn, RFC: "RFC 7489 §7.1", Summary: "an external rua destination lacks the `<domain>._report._dmarc.<destination>` record: its reports will never arrive"})
	SpecDMARCRUFInvalid      = dmarcCatalog.Add(Spec{ID: "dmarc.ruf-invalid", Severity: Warn, RFC: "RFC 7489 §6.4", Summary: "a ruf URI is malformed or not mailto:; receivers skip it"})
	SpecDMARCRUFUnauthorized = dmarcCatalog.Add(Spec{ID: "dmarc.ruf-unauthorized", Severity: Warn, RFC: "RFC 7489 §7.1", Summary: "an external ruf destination lacks the `<domain>._report._dmarc.<destination>` record: its failure reports will never arrive"})
	SpecDMARCInherited       = dmarcCatalog.Add(Spec{ID: "dmarc.inherited", Severity: Info, RFC: "RFC 7489 §6.6.3", Summary: "no record at the domain: the organizational domain's record applies, with its subdomain policy"})
	SpecDMARCTemperror       = dmarcCatalog.Add(Spec{ID: "dmarc.temperror", Severity: Error, Summary: "a DMARC or report authorization lookup failed (timeout, SERVFAIL): not evaluated, never reported as missing"})
	SpecDMARCPolicyOrder     = dmarcCatalog.Add(Spec{ID: "dmarc.p-not-second", Severity: Warn, RFC: "RFC 7489 §6.3, §6.4", Summary: "p is not the tag right after v=DMARC1, the order the grammar fixes: strict receivers may discard the record"})
	SpecDMARCTesting         = dmarcCatalog.Add(Spec{ID: "dmarc.testing", Severity: Warn, RFC: "RFC 9989", Summary: "t=y (DMARCbis testing mode): receivers apply the policy one level lower (reject as quarantine, quarantine as none)"})
	SpecDMARCTooManyURIs     = dmarcCatalog.Add(Spec{ID: "dmarc.too-many-uris", Severity: Warn, RFC: "RFC 7489 §6.2", Summary: "more than two rua or ruf destinations: receivers need only send to the first two"})
	SpecDMARCUndeliverable   = dmarcCatalog.Add(Spec{ID: "dmarc.report-undeliverable", Severity: Warn, RFC: "RFC 7489 §7.1, RFC 5321 §5.1", Summary: "a report destination's domain cannot receive mail (null MX, NXDOMAIN, or no MX and no address)"})
	SpecDMARCNXDomain        = dmarcCatalog.Add(Spec{ID: "dmarc.nxdomain", Severity: Error, RFC: "RFC 7489 §6.6.3", Summary: "the domain does not exist (NXDOMAIN): no DMARC policy is evaluated, and none is inherited from its parent"})
)

// DMARC audits the domain's DMARC policy (RFC 7489): discovery with the
// organizational-domain fallback, tag-level syntax, policy strength,
// reporting URIs and external report authorization. The engine is
// internal/dmarc.
type DMARC struct{}

var _ Check = DMARC{}

// Meta implements Check.
func (DMARC) Meta() Meta {
	return Meta{Name: "dmarc", Title: "DMARC policy", Weight: 3, Findings: dmarcCatalog.Specs()}
}

// dmarcData is the check's structured result.
type dmarcData struct {
	Lookup *dmarc.Result `json:"lookup"`
	// EffectivePolicy is what receivers apply to mail from the domain
	// itself: p, or the organizational domain's sp when inherited; ""
	// when no policy applies.
	EffectivePolicy string                `json:"effective_policy"`
	Percent         int                   `json:"pct"`
	Authorizations  []dmarc.Authorization `json:"authorizations"`
	Destinations    []dmarc.Destination   `json:"destinations"`
	Recommended     string                `json:"recommended"` // the record the fixes propose
}

// Run implements Check. Its phases: the domain's existence, the lookup
// (dmarc.Lookup), the TXT records receivers discard (ignoredFindings),
// then the judgement by what the lookup found: nothing (dmarcMissing),
// several records (dmarcMultiple) or one (dmarcFound).
func (DMARC) Run(ctx context.Context, env *Env) Result {
	d := env.Domain.ASCII
	// The record does not depend on the MX set that says whether the
	// domain exists: both are looked up at once.
	lookup := future.Go(ctx, func() dmarcLookup {
		res, err := dmarc.Lookup(ctx, env.Resolver, d)
		return dmarcLookup{res, err}
	})
	if nx := nxDomainAnswer(ctx, env); nx != "" {
		lookup()
		return Result{Findings: []Finding{SpecDMARCNXDomain.New("%s does not exist (%s): no DMARC policy applies to it, and the record of its organizational domain is not evaluated for it", d, nx).
			WithFix("check the spelling of the domain, or register it and publish its DNS")}}
	}
	l := lookup()
	res, err := l.res, l.err
	data := &dmarcData{Lookup: res, Authorizations: []dmarc.Authorization{}, Destinations: []dmarc.Destination{}}
	if err != nil {
		return Result{Findings: []Finding{SpecDMARCTemperror.New("could not look up the DMARC record of %s: %v (not evaluated: a failed lookup is not a missing record)", d, unwrapLookup(err)).
			WithRecords(queryLines(res)...)}, Data: data}
	}
	opt := dmarc.RecommendOptions{}
	if set := env.MX(ctx); set != nil && set.Err == nil && set.Null && len(set.Hosts) == 0 {
		opt.NoMail = true
	}
	fs := ignoredFindings(res, opt)
	switch res.Status {
	case dmarc.StatusNone:
		return Result{Findings: dmarcMissing(res, d, opt, data, fs), Data: data}
	case dmarc.StatusMultiple:
		return Result{Findings: append(fs, dmarcMultiple(res, d, opt, data)), Data: data}
	}
	return Result{Findings: dmarcFound(ctx, env, res, opt, data, fs), Data: data}
}

// dmarcLookup is the outcome of dmarc.Lookup.
type dmarcLookup struct {
	res *dmarc.Result
	err error
}

// ignoredFindings reports the TXT records at _dmarc names that receivers
// discard, with the repaired record as the fix when there is one.
func ignoredFindings(res *dmarc.Result, opt dmarc.RecommendOptions) []Finding {
	var fs []Finding
	for _, ig := range res.Ignored {
		fix := ""
		if ig.Record.Repaired != nil {
			owner := strings.TrimPrefix(ig.Name, "_dmarc.")
			fix = "replace it with " + dmarc.TXTRecord(owner, dmarc.Recommend(owner, ig.Record, opt))
		}
		for _, p := range ig.Record.Problems {
			fs = append(fs, SpecDMARCSyntax.New("the TXT record at %s is not a DMARC record: %s", ig.Name, p.Message).
				WithRecords(fmt.Sprintf("%s. IN TXT %q", ig.Name, ig.Text)).WithFix("%s", fix))
		}
	}
	return fs
}

// dmarcMissing judges a domain without a DMARC record. fs holds the
// findings on discarded records; when there are any, they already say
// what to publish.
func dmarcMissing(res *dmarc.Result, d string, opt dmarc.RecommendOptions, data *dmarcData, fs []Finding) []Finding {
	rec := dmarc.Recommend(d, nil, opt)
	data.Recommended = rec
	if len(res.Ignored) > 0 {
		// Already said, with the repaired record as the fix.
		return fs
	}
	where := dmarc.RecordName(d)
	if res.OrgDomain != "" && res.OrgDomain != d {
		where += " nor at " + dmarc.RecordName(res.OrgDomain) + " (its organizational domain)"
	}
	fix := dmarc.TXTRecord(d, rec)
	if !opt.NoMail {
		fix += " — start with p=none and read the aggregate reports, then move to p=quarantine and p=reject once all legitimate mail passes"
	}
	return append(fs, SpecDMARCMissing.New("no DMARC record at %s: receivers cannot tell forged mail from %s's own, and anyone can send mail as %s", where, d, d).
		WithRecords(queryLines(res)...).WithFix("%s", fix))
}

// dmarcMultiple judges several DMARC records at one name: the fix keeps
// the strongest.
func dmarcMultiple(res *dmarc.Result, d string, opt dmarc.RecommendOptions, data *dmarcData) Finding {
	rec := dmarc.Recommend(res.PolicyDomain, bestOf(res.Texts), opt)
	data.Recommended = rec
	return SpecDMARCMultiple.New("%s has %d DMARC records: receivers apply none of them (RFC 7489 §6.6.3), so %s has no DMARC policy", dmarc.RecordName(res.PolicyDomain), len(res.Texts), d).
		WithRecords(queryLines(res)...).
		WithFix("delete all but one; publish only %s", dmarc.TXTRecord(res.PolicyDomain, rec))
}

// dmarcPolicy is what one record makes receivers apply.
type dmarcPolicy struct {
	p, sp, subEffective, effective string
	pct                            int
	lost                           bool // p or sp invalid: receivers fall back to p=none
}

// policyOf works out what the found record makes receivers apply.
func policyOf(res *dmarc.Result) dmarcPolicy {
	pol := res.Record.Policy
	x := dmarcPolicy{p: string(pol.Policy), sp: string(pol.SubdomainPolicy), pct: 100}
	x.subEffective, x.effective = x.p, x.p
	if x.sp != "" {
		x.subEffective = x.sp
	}
	if res.Inherited {
		x.effective = x.subEffective
	}
	if pol.Percent != nil {
		x.pct = *pol.Percent
	}
	for _, pr := range res.Record.Problems {
		x.lost = x.lost || pr.Effect == dmarc.PolicyIgnored
	}
	return x
}

// dmarcFound judges the one DMARC record found.
// fs holds the findings so far (ignored records); the pass finding goes
// before them.
func dmarcFound(ctx context.Context, env *Env, res *dmarc.Result, opt dmarc.RecommendOptions, data *dmarcData, fs []Finding) []Finding {
	d := env.Domain.ASCII
	rec := res.Record
	pd := res.PolicyDomain
	recName := dmarc.RecordName(pd)
	uris := append(append([]dmarc.ReportURI{}, rec.RUA...), rec.RUF...)
	// Whether the destinations authorize the reports and whether they
	// can receive mail are asked at once.
	authorize := future.Go(ctx, func() []dmarc.Authorization { return dmarc.Authorize(ctx, env.Resolver, pd, uris) })
	dests := dmarc.Destinations(ctx, env.Resolver, uris)
	auths := authorize()
	data.Authorizations, data.Destinations = auths, dests
	// The fix never keeps a destination another finding calls unusable.
	opt.Drop = droppedURIs(uris, auths, dests)
	recommended := dmarc.Recommend(pd, rec, opt)
	data.Recommended = recommended
	fix := dmarc.TXTRecord(pd, recommended)
	evidence := foundLines(res)

	if res.Inherited {
		fs = append(fs, SpecDMARCInherited.New("%s has no DMARC record of its own; the record of its organizational domain %s applies (found at %s)", d, pd, recName).
			WithRecords(queryLines(res)...))
	}
	fs = append(fs, syntaxFindings(rec, recName, evidence, fix)...)
	if rec.Policy == nil {
		// Syntax findings above say why no policy applies.
		return fs
	}
	x := policyOf(res)
	data.EffectivePolicy, data.Percent = x.effective, x.pct
	fs = append(fs, policyFindings(res, x, d, evidence, fix)...)
	fs = append(fs, reportFindings(res, x, opt, auths, dests, evidence, fix)...)
	if x.effective != "none" {
		fs = append([]Finding{dmarcOK(res, x, d, auths, evidence)}, fs...)
	}
	return fs
}

// droppedURIs lists the URIs (as written) whose destination does not
// authorize the reports or cannot receive mail.
func droppedURIs(uris []dmarc.ReportURI, auths []dmarc.Authorization, dests []dmarc.Destination) []string {
	bad := map[string]bool{}
	for _, a := range auths {
		if a.External && !a.Authorized && a.Err == nil {
			bad[a.URI.Raw] = true
		}
	}
	badHost := map[string]bool{}
	for _, dst := range dests {
		if !dst.OK && dst.Err == nil {
			badHost[dst.Host] = true
		}
	}
	var out []string
	for _, u := range uris {
		if bad[u.Raw] || badHost[u.Host] && u.Host != "" {
			out = append(out, u.Raw)
		}
	}
	return out
}

// syntaxFindings is the phase for the record's syntax: its problems,
// unknown tags, and a p that is not the second tag.
func syntaxFindings(rec *dmarc.Record, recName string, evidence []string, fix string) []Finding {
	var fs []Finding
	for _, p := range rec.Problems {
		sev := Warn
		switch p.Effect {
		case dmarc.PolicyIgnored, dmarc.RecordIgnored:
			sev = Fail
		case dmarc.Cosmetic:
			// Valid per RFC 7489's grammar (upper-case tag names and
			// keywords, a line break): a hint, not a defect to score.
			sev = Info
		}
		what := "the record"
		if p.Tag != "" {
			what = "tag " + p.Tag
		}
		msg := p.Message
		if p.Effect == dmarc.PolicyIgnored && rec.Policy != nil && p.Tag != "" {
			msg += "; as the record has a valid rua, receivers act as if p=none: no protection"
		}
		fs = append(fs, SpecDMARCSyntax.As(sev, "%s at %s: %s: %s", what, recName, quoteTag(p), msg).
			WithRecords(evidence...).WithFix("%s", fix).WithData(p))
	}
	for i, t := range rec.Unknown {
		msg := fmt.Sprintf("%s has the tag %s=%q, which DMARC does not define; receivers ignore it", recName, t.Raw, t.Value)
		if s := rec.Suggest[i]; s != "" {
			msg += fmt.Sprintf(" (did you mean %s=?)", s)
		}
		fs = append(fs, SpecDMARCUnknownTag.New("%s", msg).WithRecords(evidence...).WithFix("%s", fix))
	}
	if rec.Policy != nil && rec.PolicyOutOfPlace() {
		owner := strings.TrimPrefix(recName, "_dmarc.")
		fs = append(fs, SpecDMARCPolicyOrder.New("p is not the tag right after v=DMARC1 at %s: the grammar of RFC 7489 §6.4 fixes that order (v, then p), and receivers that parse strictly may discard the record, leaving the domain without DMARC", recName).
			WithRecords(evidence...).WithFix("%s", dmarc.TXTRecord(owner, rec.PolicySecond())))
	}
	return fs
}

// policyFindings is the phase for the policy's strength: p=none, a
// weaker sp, a partial pct, testing mode.
func policyFindings(res *dmarc.Result, x dmarcPolicy, d string, evidence []string, fix string) []Finding {
	var fs []Finding
	recName := dmarc.RecordName(res.PolicyDomain)
	switch {
	case x.lost:
		// The syntax finding says receivers fall back to p=none.
	case x.effective == "none" && res.Inherited && x.sp == "none":
		fs = append(fs, SpecDMARCPolicyNone.New("the policy for %s is none: it inherits sp=none from %s (whose own p=%s), so receivers take no action on mail that fails DMARC and anyone can send mail as %s", d, recName, x.p, d).
			WithRecords(evidence...).WithFix("%s", fix))
	case x.effective == "none":
		fs = append(fs, SpecDMARCPolicyNone.New("the policy at %s is p=none: receivers only report on mail that fails DMARC and deliver it anyway; anyone can send mail as %s", recName, d).
			WithRecords(evidence...).WithFix("%s (once the aggregate reports show that all legitimate mail passes; then p=reject)", fix))
	}
	if x.sp != "" && dmarc.Strength(x.sp) < dmarc.Strength(x.p) && !(res.Inherited && x.effective == "none") {
		msg := fmt.Sprintf("the subdomain policy sp=%s at %s is weaker than p=%s: forged mail from any subdomain of %s gets only %s", x.sp, recName, x.p, res.PolicyDomain, x.sp)
		if res.Inherited {
			msg += fmt.Sprintf(", and that is the policy %s gets", d)
		}
		fs = append(fs, SpecDMARCSubdomainWeaker.New("%s", msg).WithRecords(evidence...).WithFix("%s", fix))
	}
	if x.pct < 100 && x.effective != "none" {
		fs = append(fs, SpecDMARCPctPartial.New("pct=%d at %s: p=%s applies to only %d%% of the mail that fails DMARC; receivers give the other %d%% %s", x.pct, recName, x.effective, x.pct, 100-x.pct, lowerPolicy(x.effective)).
			WithRecords(evidence...).WithFix("%s", fix))
	}
	if res.Record.Testing() == "y" && x.effective != "none" && !x.lost {
		fs = append(fs, SpecDMARCTesting.New("t=y at %s puts the policy in testing mode: receivers implementing DMARCbis (RFC 9989) apply p=%s as %s to mail from %s that fails DMARC (receivers implementing only RFC 7489 ignore t)", recName, x.effective, dmarc.Demoted(x.effective), d).
			WithRecords(evidence...).WithFix("%s (once the reports show that all legitimate mail passes)", fix))
	}
	return fs
}

// reportFindings is the phase for the reporting destinations: malformed
// or too many URIs, no aggregate reports, destinations that cannot receive
// mail or do not authorize the reports.
func reportFindings(res *dmarc.Result, x dmarcPolicy, opt dmarc.RecommendOptions, auths []dmarc.Authorization, dests []dmarc.Destination, evidence []string, fix string) []Finding {
	rec, pd := res.Record, res.PolicyDomain
	recName := dmarc.RecordName(pd)
	var fs []Finding
	fs = append(fs, uriFindings(rec.RUA, SpecDMARCRUAInvalid, recName, evidence, fix)...)
	fs = append(fs, uriFindings(rec.RUF, SpecDMARCRUFInvalid, recName, evidence, fix)...)
	for _, uris := range [][]dmarc.ReportURI{rec.RUA, rec.RUF} {
		if len(uris) > dmarc.MaxReportURIs {
			fs = append(fs, SpecDMARCTooManyURIs.New("%s lists %d %s destinations: receivers need only support %d (RFC 7489 §6.2) and may send to the first two only, so %s may get no reports", recName, len(uris), uris[0].Tag, dmarc.MaxReportURIs, uriRaws(uris[dmarc.MaxReportURIs:])).
				WithRecords(evidence...).WithFix("%s", fix))
		}
	}
	fs = append(fs, noRUAFindings(res, x, opt, evidence, fix)...)
	for _, dst := range dests {
		switch {
		case dst.Err != nil:
			fs = append(fs, SpecDMARCTemperror.New("could not check whether report destination %s can receive mail: %v", dst.Host, dst.Err))
		case !dst.OK:
			fs = append(fs, SpecDMARCUndeliverable.New("reports for %s go to addresses at %s, but %s: receivers cannot deliver them", pd, dst.Host, dst.Why).
				WithRecords(dst.Records...).WithFix("%s", fix))
		}
	}
	return append(fs, authFindings(pd, auths, fix)...)
}

// noRUAFindings reports a record without a usable rua URI (not one of a
// domain that sends no mail and rejects all mail claiming to be from it).
func noRUAFindings(res *dmarc.Result, x dmarcPolicy, opt dmarc.RecommendOptions, evidence []string, fix string) []Finding {
	rec := res.Record
	for _, u := range rec.RUA {
		if u.Valid() {
			return nil
		}
	}
	if opt.NoMail && x.effective == "reject" {
		return nil
	}
	why := "has no rua tag"
	if len(rec.RUA) > 0 {
		why = "has no usable rua URI"
	}
	// Protection is complete with quarantine or reject; only the
	// visibility is missing.
	sev := Info
	if x.effective == "none" || x.lost {
		sev = Warn
	}
	return []Finding{SpecDMARCNoRUA.As(sev, "%s %s: receivers send no aggregate reports, so nobody sees who sends mail as %s or whether legitimate mail fails DMARC", dmarc.RecordName(res.PolicyDomain), why, res.PolicyDomain).
		WithRecords(evidence...).WithFix("%s (create that mailbox, or use your DMARC report service's address)", fix)}
}

// uriRaws lists the URIs as written.
func uriRaws(uris []dmarc.ReportURI) string {
	var out []string
	for _, u := range uris {
		out = append(out, u.Raw)
	}
	return strings.Join(out, ", ")
}

// authFindings reports the external destinations that do not authorize
// the reports (RFC 7489 §7.1), or whose authorization could not be checked.
func authFindings(pd string, auths []dmarc.Authorization, fix string) []Finding {
	var fs []Finding
	for _, a := range auths {
		if !a.External || a.Authorized {
			continue
		}
		spec := SpecDMARCRUAUnauthorized
		kind := "aggregate"
		if a.URI.Tag == "ruf" {
			spec, kind = SpecDMARCRUFUnauthorized, "failure"
		}
		if a.Err != nil {
			fs = append(fs, SpecDMARCTemperror.New("could not check whether %s accepts %s reports for %s: %v", a.URI.Host, kind, pd, a.Err))
			continue
		}
		fs = append(fs, spec.New("%s=%s sends %s reports to %s, outside %s, but %s has no DMARC authorization record (%s): receivers will not send these reports", a.URI.Tag, a.URI.Raw, kind, a.URI.Host, pd, a.Name, a.Answer).
			WithRecords(a.Records...).
			WithFix("the operator of %s must publish %s. IN TXT \"v=DMARC1\" (report services do this when you register %s with them); otherwise publish %s", a.URI.Host, a.Name, pd, fix))
	}
	return fs
}

// dmarcOK is the pass finding: the effective policy and where it comes
// from (okPolicyText), the alignment modes, and where the aggregate
// reports go (okReportText).
func dmarcOK(res *dmarc.Result, x dmarcPolicy, d string, auths []dmarc.Authorization, evidence []string) Finding {
	rec := res.Record
	recName := dmarc.RecordName(res.PolicyDomain)
	msg := okPolicyText(res, x, d) +
		fmt.Sprintf("; alignment DKIM %s, SPF %s", alignName(string(rec.Policy.DKIMAlignment)), alignName(string(rec.Policy.SPFAlignment))) +
		okReportText(rec, auths)
	return SpecDMARCOK.New("%s", msg).WithRecords(evidence...).WithData(map[string]any{
		"policy_domain": res.PolicyDomain, "record_name": recName, "inherited": res.Inherited,
		"p": x.p, "sp": x.subEffective, "effective": x.effective, "pct": x.pct,
	})
}

// okPolicyText says which policy applies to d, on how much of its mail,
// and where it was found.
func okPolicyText(res *dmarc.Result, x dmarcPolicy, d string) string {
	recName := dmarc.RecordName(res.PolicyDomain)
	msg := fmt.Sprintf("DMARC policy for %s: %s", d, x.effective)
	if x.pct < 100 {
		msg += fmt.Sprintf(" on %d%% of failing mail", x.pct)
	}
	if res.Inherited {
		msg += fmt.Sprintf(" (inherited from %s", recName)
		if x.sp != "" {
			msg += fmt.Sprintf(" through sp=%s", x.sp)
		}
		return msg + ")"
	}
	msg += fmt.Sprintf(" (found at %s", recName)
	if x.sp != "" && x.sp != x.p {
		msg += fmt.Sprintf("; subdomains: %s", x.sp)
	}
	return msg + ")"
}

// okReportText says how many addresses get the aggregate reports; those
// whose destination does not authorize the reports receive none.
func okReportText(rec *dmarc.Record, auths []dmarc.Authorization) string {
	validRUA := 0
	for _, u := range rec.RUA {
		if u.Valid() {
			validRUA++
		}
	}
	refused := 0
	for _, a := range auths {
		if a.URI.Tag == "rua" && a.External && !a.Authorized && a.Err == nil {
			refused++
		}
	}
	switch {
	case validRUA-refused > 0 && refused > 0:
		return fmt.Sprintf("; aggregate reports to %d address(es) (%d more not authorized)", validRUA-refused, refused)
	case validRUA-refused > 0:
		return fmt.Sprintf("; aggregate reports to %d address(es)", validRUA)
	case refused > 0:
		return "; no aggregate report address authorizes the reports"
	}
	return ""
}

// uriFindings reports the unusable URIs of one tag (rua or ruf).
func uriFindings(uris []dmarc.ReportURI, spec Spec, recName string, evidence []string, fix string) []Finding {
	var fs []Finding
	for _, u := range uris {
		if u.Valid() {
			continue
		}
		msg := fmt.Sprintf("%s entry %q at %s is unusable: %s; receivers skip it", u.Tag, u.Raw, recName, u.Err)
		if u.Repaired != "" {
			msg += fmt.Sprintf(" (write %s)", u.Repaired)
		}
		fs = append(fs, spec.New("%s", msg).WithRecords(evidence...).WithFix("%s", fix))
	}
	return fs
}

// bestOf returns the strongest usable record among several published at
// one name, as the basis of the one to keep.
func bestOf(texts []string) *dmarc.Record {
	var best *dmarc.Record
	for _, t := range texts {
		r := dmarc.Parse(t)
		if best == nil || best.Policy == nil && r.Policy != nil ||
			r.Policy != nil && best.Policy != nil && dmarc.Strength(string(r.Policy.Policy)) > dmarc.Strength(string(best.Policy.Policy)) {
			best = r
		}
	}
	return best
}

// quoteTag renders a problem's tag as written, for messages.
func quoteTag(p dmarc.Problem) string {
	if p.Tag == "" {
		return "record"
	}
	return fmt.Sprintf("%s=%q", p.Tag, p.Value)
}

// lowerPolicy says what receivers give the mail pct leaves out.
func lowerPolicy(p string) string {
	if p == "reject" {
		return "quarantine (RFC 7489 §6.6.4)"
	}
	return "no action (RFC 7489 §6.6.4)"
}

// alignName spells an alignment mode out.
func alignName(a string) string {
	if a == "s" {
		return "strict"
	}
	return "relaxed"
}

// queryLines renders what discovery asked and got, for evidence.
func queryLines(res *dmarc.Result) []string {
	if res == nil {
		return nil
	}
	var out []string
	for _, q := range res.Queries {
		if len(q.Records) > 0 {
			out = append(out, q.Records...)
			continue
		}
		out = append(out, fmt.Sprintf("%s TXT: %s", q.Name, q.Answer))
	}
	return out
}

// foundLines returns the records at the name the policy was found at.
func foundLines(res *dmarc.Result) []string {
	if len(res.Queries) == 0 {
		return nil
	}
	return res.Queries[len(res.Queries)-1].Records
}

// unwrapLookup drops the dmarc package's prefix from a lookup error.
func unwrapLookup(err error) string {
	return strings.TrimPrefix(err.Error(), dmarc.ErrLookup.Error()+": ")
}
