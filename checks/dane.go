package checks

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/dane"
	"github.com/mailcheck/mailcheck/internal/dnssec"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// daneCatalog declares the finding IDs of the dane check, each once (findings.Catalog).
var daneCatalog findings.Catalog

// Finding IDs of the dane check.
var (
	SpecDANEMatch        = daneCatalog.Add(Spec{ID: "dane.match", Severity: Pass, RFC: "RFC 7672 §3.1", Summary: "a TLSA record matches the certificate chain the server presented: DANE senders deliver"})
	SpecDANEMismatch     = daneCatalog.Add(Spec{ID: "dane.mismatch", Severity: Fail, RFC: "RFC 7672 §3.1", Summary: "no usable TLSA record matches the presented chain: DANE senders do not deliver"})
	SpecDANENoTLS        = daneCatalog.Add(Spec{ID: "dane.no-tls", Severity: Fail, RFC: "RFC 7672 §2.2", Summary: "TLSA records are published, but the server offers no STARTTLS or the handshake fails: DANE senders do not deliver"})
	SpecDANELookup       = daneCatalog.Add(Spec{ID: "dane.lookup-failed", Severity: Fail, RFC: "RFC 7672 §2.2", Summary: "the TLSA lookup fails or is bogus, or the MX host's addresses are bogus: DANE senders defer mail"})
	SpecDANENone         = daneCatalog.Add(Spec{ID: "dane.none", Severity: Info, RFC: "RFC 7672 §2.2", Summary: "no TLSA record for the MX host: DANE is not in use"})
	SpecDANEInsecure     = daneCatalog.Add(Spec{ID: "dane.insecure", Severity: Info, RFC: "RFC 7672 §2.2", Summary: "TLSA records in a zone that is not signed (or a host whose addresses are not): unusable and harmless"})
	SpecDANEPKIX         = daneCatalog.Add(Spec{ID: "dane.pkix-usage", Severity: Warn, RFC: "RFC 7672 §3.1.3", Summary: "a PKIX-TA(0) or PKIX-EE(1) record: SMTP senders do not use it"})
	SpecDANEUnusable     = daneCatalog.Add(Spec{ID: "dane.unusable-record", Severity: Warn, RFC: "RFC 6698 §2.1", Summary: "a record with an unknown usage, selector or matching type, or malformed data: senders ignore it"})
	SpecDANEWeaker       = daneCatalog.Add(Spec{ID: "dane.weaker-digest", Severity: Info, RFC: "RFC 7671 §9", Summary: "a record ignored because the same usage and selector have a stronger matching type"})
	SpecDANENoUsable     = daneCatalog.Add(Spec{ID: "dane.no-usable-record", Severity: Warn, RFC: "RFC 7672 §2.2", Summary: "TLSA records, none usable: DANE senders insist on TLS but authenticate nothing"})
	SpecDANERollover     = daneCatalog.Add(Spec{ID: "dane.rollover", Severity: Warn, RFC: "RFC 7671 §8", Summary: "a single DANE-EE record: the next key change breaks delivery unless its record is published first"})
	SpecDANENotEvaluated = daneCatalog.Add(Spec{ID: "dane.not-evaluated", Severity: Error, Summary: "DANE not evaluated: offline, a resolver that cannot ask DNSSEC questions, or a session that could not be inspected"})
)

// DANE audits DANE for SMTP (RFC 7672): the TLSA records of each MX host
// and whether they match the chain its servers present in the smtp
// check's STARTTLS session (no second connection).
type DANE struct{}

var _ Check = DANE{}

// Meta implements Check.
func (DANE) Meta() Meta {
	return Meta{Name: "dane", Title: "DANE for SMTP", Weight: 2, Findings: daneCatalog.Specs()}
}

// daneHost is one MX host in the JSON report.
type daneHost struct {
	TLSA    *TLSASet     `json:"tlsa"`
	Servers []daneServer `json:"servers"`
}

// daneServer is one MX address: which record matched, or the record to
// publish.
type daneServer struct {
	Server      string       `json:"server"`
	Match       *dane.Result `json:"match,omitempty"`
	Recommended string       `json:"recommended,omitempty"` // "3 1 1 <sha256 of the presented SPKI>"
}

// Run implements Check.
func (DANE) Run(ctx context.Context, env *Env) Result {
	if env.Options.Offline || env.dnssecValidator() == nil {
		return Result{Findings: []Finding{SpecDANENotEvaluated.New("DANE was not evaluated: %s", notEvaluatedWhy(env.Options.Offline))}}
	}
	set := env.MX(ctx)
	if set.Err != nil {
		return Result{Findings: []Finding{SpecDANENotEvaluated.New("the MX set of %s could not be looked up, so no TLSA record was: %s", env.Domain.ASCII, resolve.Describe(nil, set.Err))}}
	}
	var fs []Finding
	data := []daneHost{}
	for _, h := range set.Hosts {
		if h.IPLiteral {
			continue
		}
		f, d := daneHostFindings(ctx, env, h)
		fs, data = append(fs, f...), append(data, d)
	}
	if len(data) == 0 {
		fs = append(fs, SpecDANENone.New("%s has no MX host to publish TLSA records for", env.Domain.ASCII))
	}
	return Result{Findings: fs, Data: data}
}

// daneHostFindings judges one MX host: its TLSA set, then each address.
func daneHostFindings(ctx context.Context, env *Env, h MXHost) ([]Finding, daneHost) {
	ts := env.tlsa(ctx, h.Name)
	d := daneHost{TLSA: ts, Servers: []daneServer{}}
	if f, done := tlsaSetFinding(ts); done {
		return []Finding{f}, d
	}
	fs := recordFindings(ts)
	for _, a := range h.Addrs {
		f, srv := daneServerFinding(ctx, env, ts, a.Unmap())
		fs, d.Servers = append(fs, f), append(d.Servers, srv)
	}
	return fs, d
}

// tlsaSetFinding is the verdict on a set no session is judged against
// (none, unusable, failed lookup); done is false for a usable set.
func tlsaSetFinding(ts *TLSASet) (Finding, bool) {
	ev := ts.Text
	switch {
	case ts.NotEvaluated != "":
		return SpecDANENotEvaluated.New("the TLSA records of %s were not looked up: %s", ts.Host, ts.NotEvaluated), true
	case ts.Err != nil && ts.AddrState == dnssec.Secure:
		return SpecDANELookup.New("the TLSA lookup of %s failed: %s; %s is in a signed zone, so a DANE sender defers mail to it until the lookup succeeds", ts.Name, resolve.Describe(nil, ts.Err), ts.Host).
			WithFix("make the authoritative servers of %s answer TLSA questions for %s (with a signed denial when there is no record)", ts.Base, ts.Name), true
	case ts.State == dnssec.Bogus || ts.AddrState == dnssec.Bogus:
		return SpecDANELookup.New("the TLSA records at %s (from %s) or the addresses of %s are bogus: %s; a DANE sender defers mail", ts.Name, ts.Server, ts.Host, ts.Reason).
			WithRecords(ev...).WithFix("re-sign the zone of %s (see the dnssec check), or fix the DS at its parent", ts.Base), true
	case ts.Err != nil:
		return SpecDANEInsecure.New("the TLSA lookup of %s failed (%s), but %s is not in a signed zone (%s): senders do not look up TLSA for it, so this is harmless", ts.Name, resolve.Describe(nil, ts.Err), ts.Host, ts.Reason), true
	case len(ts.Records) == 0:
		return SpecDANENone.New("no TLSA records at %s: DANE is not in use for %s", ts.Name, ts.Host).
			WithFix("to protect mail to %s against downgrade and impersonation, sign its zone and publish a TLSA record at %s (the dane check prints it once it sees the server's certificate)", ts.Host, ts.Name), true
	case !ts.Usable():
		return SpecDANEInsecure.New("%s publishes %d TLSA record(s), but %s: DANE senders ignore them, so they are unusable and harmless", ts.Name, len(ts.Records), ts.Reason).
			WithRecords(ev...).WithFix("sign the zone of %s (and of %s) and publish the DS at the parent to make the records count", ts.Base, ts.Host), true
	}
	return Finding{}, false
}

// recordFindings flags the records of a usable set that senders do not
// use, and a set that covers a single key.
func recordFindings(ts *TLSASet) []Finding {
	var fs []Finding
	usable, unusable := dane.Sort(ts.Records)
	for _, u := range unusable {
		spec := SpecDANEUnusable
		switch {
		case u.Record.PKIX():
			spec = SpecDANEPKIX
		case u.Weaker:
			spec = SpecDANEWeaker
		}
		fs = append(fs, spec.New("TLSA %s at %s (%s): %s", u.Record, ts.Name, u.Record.Describe(), u.Why).
			WithRecords(ts.Text...).WithFix("remove it, or replace it with a DANE-EE(3) SPKI(1) SHA2-256(1) record (3 1 1)"))
	}
	if len(usable) == 1 && usable[0].Usage == dane.DANEEE {
		fs = append(fs, SpecDANERollover.New("%s has a single usable TLSA record (%s): it covers one key, so replacing the server's key or certificate breaks delivery from DANE senders until the new record is published and its TTL has passed", ts.Name, usable[0]).
			WithRecords(ts.Text...).WithFix("publish the next key's record first: add a second 3 1 1 record for the key you will roll to (or a 2 1 1 record for your CA's intermediate), wait for the TTL, then change the key (RFC 7671 §8)"))
	}
	return fs
}

// daneServerFinding verifies the set against the chain one MX address
// presented in the smtp check's session.
func daneServerFinding(ctx context.Context, env *Env, ts *TLSASet, a netip.Addr) (Finding, daneServer) {
	label := fmt.Sprintf("%s[%s]:25", ts.Host, a)
	srv := daneServer{Server: label}
	t, ok := planTarget(env.servicePlan(ctx), a)
	if !ok {
		return SpecDANENotEvaluated.New("%s was not probed (see the smtp check): the TLSA records of %s were not verified against it", label, ts.Host), srv
	}
	r := env.probe(ctx, t)
	if r.TLS == nil {
		return daneNoTLS(env.smtpTLSSession(ctx, t, r), ts, label), srv
	}
	chain := r.TLS.ChainDER()
	if len(chain) == 0 {
		return SpecDANENotEvaluated.New("%s presented no certificate within the bounds mailcheck keeps: the TLSA records were not verified", label), srv
	}
	m := dane.Match(ts.Records, chain, daneNames(ts)...)
	srv.Match = &m
	if m.Matched != nil {
		return SpecDANEMatch.New("%s: TLSA %s at %s (%s) matches %s: DANE senders deliver", label, m.Matched, ts.Name, m.Matched.Describe(), depthName(m.Depth)).
			WithRecords(ts.Text...), srv
	}
	rec, err := dane.Recommend(chain[0])
	if err != nil {
		return SpecDANENotEvaluated.New("%s presented a certificate that does not parse (%v): no record to recommend", label, err), srv
	}
	srv.Recommended = rec.String()
	spec, what := SpecDANEMismatch, "DANE senders do not deliver"
	if len(m.Usable) == 0 {
		spec, what = SpecDANENoUsable, "DANE senders insist on TLS but authenticate nothing"
	}
	return spec.New("%s: %s at %s; %s", label, m.Why, ts.Name, what).WithRecords(ts.Text...).
		WithFix("publish %s IN TLSA %s (the SHA-256 of the key the server presents) and keep or remove the old records", ts.Name, rec), srv
}

// planTarget finds the port-25 session of an address in the plan.
func planTarget(p *smtpPlan, a netip.Addr) (smtpTarget, bool) {
	for _, t := range p.MX {
		if t.Addr == a {
			return t, true
		}
	}
	return smtpTarget{}, false
}

// daneNoTLS judges a session that reached no TLS: the server offers no
// STARTTLS or the handshake failed (fail), or it says nothing (error).
func daneNoTLS(s tlsSession, ts *TLSASet, label string) Finding {
	switch {
	case s.Plain != "":
		return SpecDANENoTLS.New("%s offers no STARTTLS, while %s publishes TLSA records: DANE senders do not deliver", label, ts.Name).
			WithRecords(s.Transcript...).WithFix("enable STARTTLS with the key the TLSA records name (Postfix: smtpd_tls_security_level = may, smtpd_tls_chain_files)")
	case s.TLSError != "" && !s.Inconclusive && !s.Cut:
		return SpecDANENoTLS.New("%s: %s, while %s publishes TLSA records: DANE senders do not deliver", label, s.TLSError, ts.Name).
			WithRecords(s.Transcript...).WithFix("fix the server's TLS setup; test with: openssl s_client -connect %s %s -dane_tlsa_domain %s", s.Address, opensslArgs(s), ts.Base)
	}
	return SpecDANENotEvaluated.New("%s: %s; the TLSA records of %s were not verified against it", label, s.Stopped, ts.Host).WithRecords(s.Transcript...)
}

// daneNames are the reference identifiers of a DANE-TA(2) match: the TLSA
// base domain, and the MX host name when a CNAME expanded it.
func daneNames(ts *TLSASet) []string {
	if ts.Base != ts.Host {
		return []string{ts.Base, ts.Host}
	}
	return []string{ts.Host}
}

func depthName(d int) string {
	if d == 0 {
		return "the server certificate"
	}
	return fmt.Sprintf("the certificate at depth %d of the presented chain", d)
}
