package message

import (
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/authres"
	msgdmarc "github.com/emersion/go-msgauth/dmarc"

	"github.com/mailcheck/mailcheck/internal/dmarc"
	"github.com/mailcheck/mailcheck/internal/orgdomain"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/spf"
)

// dmarc evaluates DMARC for the From domain (RFC 7489 §6.6): the
// policy record, then whether an aligned SPF or DKIM identifier passed.
func (s *state) dmarc() {
	res := &authres.DMARCResult{From: authValue(s.fromDomain)}
	s.results = append(s.results, res)
	defer func() { s.dmarcRes, s.data.DMARC = res.Value, string(res.Value) }()
	if s.fromBad {
		res.Value, res.Reason = authres.ResultPermError, "no single From domain"
		return
	}
	look, err := dmarc.Lookup(s.ctx, s.j.Resolver, s.fromDomain)
	if err != nil || look.Status == dmarc.StatusTemperror {
		res.Value = authres.ResultTempError
		s.add(SpecDMARCTempError.New("The DMARC lookup for %s failed: %s.", clean(s.fromDomain), clean(fmt.Sprint(err))))
		return
	}
	if look.Status != dmarc.StatusFound || look.Record == nil || look.Record.Policy == nil {
		res.Value = authres.ResultNone
		s.add(SpecDMARCNone.New("%s publishes no DMARC record receivers apply (%s, at %s).", clean(s.fromDomain), look.Status, clean(dmarc.RecordName(s.fromDomain))).
			WithFix("Publish a DMARC record at %s, e.g. \"v=DMARC1; p=none; rua=mailto:dmarc-reports@%s\" (mailcheck audit recommends one).",
				clean(dmarc.RecordName(s.fromDomain)), clean(s.fromDomain)))
		return
	}
	s.judgeDMARC(res, look)
}

// judgeDMARC decides pass or fail from the aligned identifiers.
func (s *state) judgeDMARC(res *authres.DMARCResult, look *dmarc.Result) {
	pol := look.Record.Policy
	applied := appliedPolicy(s.fromDomain, look)
	s.data.DMARCPolicy = applied
	var ok []string
	if s.spfRes == spf.Pass && aligned(s.spfDomain, s.fromDomain, pol.SPFAlignment) {
		ok = append(ok, "SPF ("+clean(s.spfDomain)+")")
	}
	for _, d := range s.dkims {
		if d.value == authres.ResultPass && aligned(d.domain, s.fromDomain, pol.DKIMAlignment) {
			ok = append(ok, "DKIM (d="+clean(d.domain)+")")
		}
	}
	if len(ok) > 0 {
		res.Value = authres.ResultPass
		s.add(SpecDMARCPass.New("DMARC pass for %s: aligned %s; the policy is %s.", clean(s.fromDomain), strings.Join(ok, " and "), applied))
		return
	}
	res.Value = authres.ResultFail
	s.add(SpecDMARCFail.New("DMARC fail for %s: %s; receivers would apply %s.", clean(s.fromDomain), s.unaligned(pol), applied).
		WithFix("Sign with DKIM at d=%s (or a domain aligned with it), or send with a MAIL FROM at that domain from an address its SPF allows.", clean(s.fromDomain)))
}

// unaligned says why no identifier counted.
func (s *state) unaligned(pol *msgdmarc.Record) string {
	spfPart := fmt.Sprintf("SPF %s for %s", s.spfRes, clean(s.spfDomain))
	if s.spfRes == spf.Pass {
		spfPart += " (not aligned, aspf=" + mode(pol.SPFAlignment) + ")"
	}
	var dk []string
	for _, d := range s.dkims {
		part := fmt.Sprintf("DKIM %s for d=%s", d.value, clean(d.domain))
		if d.value == authres.ResultPass {
			part += " (not aligned, adkim=" + mode(pol.DKIMAlignment) + ")"
		}
		dk = append(dk, part)
	}
	if len(dk) == 0 {
		dk = append(dk, "no DKIM signature")
	}
	return spfPart + ", " + strings.Join(dk, ", ")
}

// mode renders an alignment mode, relaxed by default.
func mode(m msgdmarc.AlignmentMode) string {
	if m == msgdmarc.AlignmentStrict {
		return "s"
	}
	return "r"
}

// aligned compares an authenticated domain with the From domain (RFC
// 7489 §3.1): equal in strict mode, same organizational domain in
// relaxed mode.
func aligned(id, from string, m msgdmarc.AlignmentMode) bool {
	id = strings.ToLower(strings.TrimSuffix(id, "."))
	if id == "" {
		return false
	}
	if m == msgdmarc.AlignmentStrict {
		a, errA := resolve.ParseName(id)
		b, errB := resolve.ParseName(from)
		return errA == nil && errB == nil && a.ASCII == b.ASCII
	}
	return orgdomain.Same(id, from)
}

// appliedPolicy renders the policy receivers apply to failing mail from
// domain: sp for a subdomain covered by its organizational domain's
// record, p otherwise, with pct and testing mode.
func appliedPolicy(domain string, look *dmarc.Result) string {
	pol := look.Record.Policy
	p, tag := string(pol.Policy), "p"
	if look.Inherited && pol.SubdomainPolicy != "" {
		p, tag = string(pol.SubdomainPolicy), "sp"
	}
	out := tag + "=" + p + " of " + look.PolicyDomain
	if pol.Percent != nil && *pol.Percent < 100 {
		out += fmt.Sprintf(", to %d%% of failing mail (pct=%d)", *pol.Percent, *pol.Percent)
	}
	if look.Record.Testing() == "y" {
		out += ", in testing mode (t=y): applied as " + dmarc.Demoted(p)
	}
	return out
}
