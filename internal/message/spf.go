package message

import (
	"strings"

	"github.com/emersion/go-msgauth/authres"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/spf"
)

// spf evaluates SPF for the MAIL FROM identity (postmaster@HELO for the
// null sender, RFC 7208 §2.4) and for the HELO identity (§2.3) with the
// project's own engine.
func (s *state) spf() {
	if !s.env.ClientIP.IsValid() {
		return
	}
	c := &spf.Checker{Resolver: s.j.Resolver, Receiver: s.j.Hostname, Now: s.j.Now}
	heloOK := badHelo(strings.TrimSuffix(s.env.Helo, ".")) == ""
	var helo *spf.Outcome
	if heloOK {
		helo = c.CheckHost(s.ctx, spf.Request{IP: s.env.ClientIP.Unmap(), Helo: s.env.Helo})
		s.data.SPFHelo = string(helo.Result)
	}
	main := helo
	if s.env.MailFrom != "" || main == nil {
		main = c.CheckHost(s.ctx, spf.Request{IP: s.env.ClientIP.Unmap(), Sender: s.env.MailFrom, Helo: s.env.Helo})
	}
	s.spfRes, s.spfDomain = main.Result, strings.ToLower(strings.TrimSuffix(main.Domain, "."))
	s.data.SPF, s.data.SPFDomain = string(main.Result), clean(s.spfDomain)
	s.results = append(s.results, &authres.SPFResult{Value: authres.ResultValue(main.Result),
		From: authValue(s.spfSender()), Helo: authValue(s.env.Helo)})
	s.add(spfFinding(main, s.env.MailFrom == ""))
	if helo != nil && s.env.MailFrom != "" {
		s.add(heloFinding(helo))
	}
}

// spfSender is the identity the MAIL FROM check used.
func (s *state) spfSender() string {
	if s.env.MailFrom != "" {
		return s.env.MailFrom
	}
	return "postmaster@" + s.env.Helo
}

// spfFinding states the MAIL FROM result.
func spfFinding(o *spf.Outcome, null bool) findings.Finding {
	id := "MAIL FROM domain " + clean(o.Domain)
	if null {
		id = "null sender: postmaster@" + clean(o.Domain)
	}
	why := clean(o.Reason)
	fix := "Add the sending server's address to the SPF record of " + clean(o.Domain) + " (an ip4:/ip6: term or an include of the provider that sends)."
	switch o.Result {
	case spf.Pass:
		return SpecSPFPass.New("SPF pass for %s, client %s (%s).", id, clean(o.IP), why)
	case spf.Fail:
		return SpecSPFFail.New("SPF fail for %s, client %s (%s).", id, clean(o.IP), why).WithFix("%s", fix)
	case spf.SoftFail:
		return SpecSPFSoftFail.New("SPF softfail for %s, client %s (%s).", id, clean(o.IP), why).WithFix("%s", fix)
	case spf.Neutral:
		return SpecSPFNeutral.New("SPF neutral for %s, client %s (%s).", id, clean(o.IP), why).WithFix("%s", fix)
	case spf.TempError:
		return SpecSPFTempError.New("SPF for %s could not be evaluated: %s.", id, why)
	case spf.PermError:
		return SpecSPFPermError.New("SPF permerror for %s: %s.", id, why).
			WithFix("Repair the SPF record of %s (mailcheck audit %s shows what is wrong).", clean(o.Domain), clean(o.Domain))
	}
	return SpecSPFNone.New("SPF none for %s (%s).", id, why).
		WithFix("Publish an SPF record for the MAIL FROM domain naming the servers that send its mail.")
}

// heloFinding states the HELO identity's result.
func heloFinding(o *spf.Outcome) findings.Finding {
	sev := findings.Info
	switch o.Result {
	case spf.Pass:
		sev = findings.Pass
	case spf.Fail, spf.SoftFail:
		sev = findings.Warn
	case spf.TempError:
		sev = findings.Error
	}
	return SpecSPFHelo.As(sev, "SPF %s for the HELO identity %s, client %s (%s).", o.Result, clean(o.Domain), clean(o.IP), clean(o.Reason))
}
