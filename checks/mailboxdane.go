package checks

import (
	"context"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/dane"
	"github.com/mailcheck/mailcheck/internal/dnssec"
	"github.com/mailcheck/mailcheck/internal/mailboxprobe"
)

// DANE for the servers mail clients read mail from (RFC 7673): only for
// a host named by an SRV record whose RRset validates as secure, with a
// usable TLSA set at _<port>._tcp.<host>, matched against the chain the
// server presented in the session already made (no second connection).
// Hosts from the flags or the autoconfig document get no DANE finding.

// mailboxDANE are one check's DANE finding specs.
type mailboxDANE struct {
	Match, Mismatch, Unusable Spec
}

// mailboxDANESpecs declares in cat the check's DANE findings.
func mailboxDANESpecs(cat *findings.Catalog, prefix string) *mailboxDANE {
	return &mailboxDANE{
		Match: cat.Add(Spec{ID: prefix + ".dane-match", Severity: Pass, RFC: "RFC 7673 §3, RFC 6698 §2.1",
			Summary: "the SRV record is DNSSEC-secure and a TLSA record of its target matches the chain the server presented"}),
		Mismatch: cat.Add(Spec{ID: prefix + ".dane-mismatch", Severity: Fail, RFC: "RFC 7673 §3, RFC 7671 §5",
			Summary: "the SRV record is DNSSEC-secure, but no usable TLSA record of its target matches the presented chain: DANE clients refuse the server"}),
		Unusable: cat.Add(Spec{ID: prefix + ".dane-unusable", Severity: Warn, RFC: "RFC 7673 §3, RFC 7671 §4",
			Summary: "the SRV record is DNSSEC-secure and its target has TLSA records, none of them DANE-TA(2) or DANE-EE(3) with a known selector and matching type: DANE authenticates nothing"}),
	}
}

// mailboxDANEState memoizes, for one run of a check (its judgement is
// sequential), the DNSSEC verdict on each SRV RRset and the TLSA set of
// each host and port.
type mailboxDANEState struct {
	srv  map[string]bool
	tlsa map[string]*TLSASet
}

// secureSRV reports whether the SRV RRset at name validates as secure.
func (st *mailboxDANEState) secureSRV(ctx context.Context, v *dnssec.Validator, name string) bool {
	if ok, seen := st.srv[name]; seen {
		return ok
	}
	ok := v.Validate(ctx, name, dns.TypeSRV).State == dnssec.Secure
	st.srv[name] = ok
	return ok
}

// set returns the TLSA set of t's host at t's port.
func (st *mailboxDANEState) set(ctx context.Context, env *Env, t mailboxTarget) *TLSASet {
	k := t.address() + " " + t.Host
	if s, seen := st.tlsa[k]; seen {
		return s
	}
	s := lookupTLSAPort(ctx, env, t.Host, t.Port, nil, t.Host)
	st.tlsa[k] = s
	return s
}

// judgeMailboxDANE verifies the TLSA set of an SRV target against the
// chain its server presented in r; nothing when DANE does not apply.
func judgeMailboxDANE(ctx context.Context, env *Env, st *mailboxDANEState, svc *mailboxService, t mailboxTarget, r *mailboxprobe.Result) []Finding {
	v := env.dnssecValidator()
	if t.SRV == "" || r.TLS == nil || v == nil || env.Options.Offline || !st.secureSRV(ctx, v, t.SRV) {
		return nil
	}
	ts := st.set(ctx, env, t)
	chain := r.TLS.ChainDER()
	if !ts.Usable() || len(chain) == 0 {
		return nil
	}
	sp := svc.dane
	m := dane.Match(ts.Records, chain, ts.Host)
	if m.Matched != nil {
		return []Finding{sp.Match.New("%s (%s, DNSSEC-secure): TLSA %s at %s (%s) matches %s", t, t.Source, m.Matched, ts.Name, m.Matched.Describe(), depthName(m.Depth)).WithRecords(ts.Text...)}
	}
	rec, err := dane.Recommend(chain[0])
	if err != nil {
		return nil
	}
	spec, what := sp.Mismatch, "DANE clients refuse the server"
	if len(m.Usable) == 0 {
		spec, what = sp.Unusable, "DANE authenticates nothing"
	}
	return []Finding{spec.New("%s (%s, DNSSEC-secure): %s at %s; %s", t, t.Source, m.Why, ts.Name, what).WithRecords(ts.Text...).
		WithFix("publish %s IN TLSA %s (the SHA-256 of the key the server presents) and keep or remove the old records", ts.Name, rec)}
}
