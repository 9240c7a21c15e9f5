package checks

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/dnssec"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// dnssecCatalog declares the finding IDs of the dnssec check, each once (findings.Catalog).
var dnssecCatalog findings.Catalog

// Finding IDs of the dnssec check.
var (
	SpecDNSSECSecure        = dnssecCatalog.Add(Spec{ID: "dnssec.secure", Severity: Pass, RFC: "RFC 4035 §4.3", Summary: "the name validates from the trust anchor down"})
	SpecDNSSECInsecure      = dnssecCatalog.Add(Spec{ID: "dnssec.insecure", Severity: Info, RFC: "RFC 4035 §4.3", Summary: "no DNSSEC: a delegation on the way has no DS record (proven by NSEC/NSEC3)"})
	SpecDNSSECBogus         = dnssecCatalog.Add(Spec{ID: "dnssec.bogus", Severity: Fail, RFC: "RFC 4035 §5.5", Summary: "the chain of trust is broken: validating resolvers answer SERVFAIL for the name"})
	SpecDNSSECIndeterminate = dnssecCatalog.Add(Spec{ID: "dnssec.indeterminate", Severity: Info, RFC: "RFC 4035 §4.3", Summary: "no verdict: no trust anchor covers the name"})
	SpecDNSSECLookup        = dnssecCatalog.Add(Spec{ID: "dnssec.lookup-failed", Severity: Error, Summary: "a DNSSEC question failed: the name could not be evaluated"})
	SpecDNSSECNotValidating = dnssecCatalog.Add(Spec{ID: "dnssec.resolver-not-validating", Severity: Info, RFC: "RFC 6840 §5.8", Summary: "the resolver does not show that it validates: its AD bit is not used"})
	SpecDNSSECResolverBogus = dnssecCatalog.Add(Spec{ID: "dnssec.resolver-bogus", Severity: Fail, RFC: "RFC 8914", Summary: "the validating resolver answers SERVFAIL, and data with CD=1: it finds the name bogus"})
	SpecDNSSECWeakAlgorithm = dnssecCatalog.Add(Spec{ID: "dnssec.weak-algorithm", Severity: Warn, RFC: "RFC 8624 §3.1", Summary: "a zone is signed with a deprecated algorithm (RSAMD5, DSA, RSASHA1, GOST)"})
	SpecDNSSECWeakDigest    = dnssecCatalog.Add(Spec{ID: "dnssec.weak-digest", Severity: Warn, RFC: "RFC 8624 §3.3", Summary: "a DS record uses a deprecated digest (SHA-1, GOST)"})
	SpecDNSSECNSEC3Iter     = dnssecCatalog.Add(Spec{ID: "dnssec.nsec3-iterations", Severity: Warn, RFC: "RFC 9276 §3.1", Summary: "NSEC3 with extra iterations (use 0)"})
	SpecDNSSECExpiring      = dnssecCatalog.Add(Spec{ID: "dnssec.expiring", Severity: Warn, RFC: "RFC 4034 §3.1.5", Summary: "a signature expires within 7 days"})
	SpecDNSSECNotEvaluated  = dnssecCatalog.Add(Spec{ID: "dnssec.not-evaluated", Severity: Error, Summary: "DNSSEC not evaluated: offline (zone files carry no signatures) or a resolver that cannot ask DNSSEC questions"})
	dnssecNoteSpecs         = map[dnssec.NoteKind]Spec{dnssec.WeakAlgorithm: SpecDNSSECWeakAlgorithm, dnssec.WeakDigest: SpecDNSSECWeakDigest, dnssec.NSEC3Iterations: SpecDNSSECNSEC3Iter, dnssec.Expiring: SpecDNSSECExpiring}
)

// DNSSEC audits the DNSSEC state of the names mail depends on: the
// domain, _dmarc, _mta-sts, each MX host and the TLSA name of each MX
// host that publishes TLSA records (RFC 4035 §4.3, RFC 7672 §2.2).
type DNSSEC struct{}

var _ Check = DNSSEC{}

// Meta implements Check.
func (DNSSEC) Meta() Meta {
	return Meta{Name: "dnssec", Title: "DNSSEC", Weight: 2, Findings: dnssecCatalog.Specs()}
}

// dnssecTarget is one name and the type whose RRset is validated.
type dnssecTarget struct {
	name   string
	qtype  uint16
	mxHost bool // an MX host: its TLSA name is stated too
}

// Run implements Check: the resolver path (AD, SERVFAIL vs CD=1) first,
// then the verdict of the validator from the trust anchor for each name.
func (DNSSEC) Run(ctx context.Context, env *Env) Result {
	dr, ok := env.Resolver.(resolve.DNSSECResolver)
	if env.Options.Offline || !ok {
		return Result{Findings: []Finding{SpecDNSSECNotEvaluated.New("DNSSEC was not evaluated: %s", notEvaluatedWhy(env.Options.Offline))}}
	}
	targets := dnssecTargets(ctx, env)
	v := env.dnssecValidator()
	fs := resolverPath(ctx, dr, v.Anchors, targets)
	var notes []dnssec.Note
	for _, t := range targets {
		r := v.Validate(ctx, t.name, t.qtype)
		if errors.Is(r.Err, resolve.ErrOffline) {
			return Result{Findings: []Finding{SpecDNSSECNotEvaluated.New("DNSSEC was not evaluated: %s", notEvaluatedWhy(true))}}
		}
		fs = append(fs, stateFinding(r))
		notes = append(notes, r.Notes...)
		if tr, ok := tlsaVerdict(ctx, env, t); ok {
			fs = append(fs, stateFinding(tr))
			notes = append(notes, tr.Notes...)
		}
	}
	return Result{Findings: append(fs, noteFindings(notes)...)}
}

// tlsaVerdict returns the verdict on the TLSA RRset of an MX host target
// (_25._tcp.<TLSA base>) from the shared fact Env.tlsa, which the dane
// check and the delivery verdict use too: no question is asked twice. It
// reports false for the other targets, and for a host without TLSA
// records or whose TLSA question failed (the dane check reports that).
func tlsaVerdict(ctx context.Context, env *Env, t dnssecTarget) (dnssec.Result, bool) {
	if !t.mxHost {
		return dnssec.Result{}, false
	}
	s := env.tlsa(ctx, t.name)
	if s == nil || s.NotEvaluated != "" || s.Err != nil || len(s.Records) == 0 {
		return dnssec.Result{}, false
	}
	return s.Verdict, true
}

func notEvaluatedWhy(offline bool) string {
	if offline {
		return "offline, the zones come from files that carry no signatures and the chain from the root cannot be followed"
	}
	return "the resolver cannot ask DNSSEC questions"
}

// dnssecTargets lists the names that matter, each once: the domain (MX),
// _dmarc and _mta-sts (TXT), and each MX host (A), marked as MX hosts.
func dnssecTargets(ctx context.Context, env *Env) []dnssecTarget {
	d := env.Domain.FQDN()
	out := []dnssecTarget{{name: d, qtype: dns.TypeMX}, {name: "_dmarc." + d, qtype: dns.TypeTXT}, {name: "_mta-sts." + d, qtype: dns.TypeTXT}}
	seen := map[string]bool{d: true}
	if set := env.MX(ctx); set != nil && !set.Implicit {
		for _, h := range set.Hosts {
			n := resolve.Canonical(h.Name)
			switch {
			case h.IPLiteral:
			case n == d:
				out[0].mxHost = true
			case !seen[n]:
				seen[n] = true
				out = append(out, dnssecTarget{n, dns.TypeA, true})
			}
		}
	}
	return out
}

// stateFinding turns a verdict into its finding.
func stateFinding(r dnssec.Result) Finding {
	name := strings.TrimSuffix(r.Name, ".")
	q := dns.TypeToString[r.Qtype] + " " + name
	switch r.State {
	case dnssec.Secure:
		return SpecDNSSECSecure.New("%s is secure: %s", q, r.Reason)
	case dnssec.Insecure:
		if r.Iterations > 0 { // signed, but with proofs validators refuse to compute
			return SpecDNSSECInsecure.As(Warn, "%s is insecure although %s is signed: %s; validators that cap NSEC3 iterations (RFC 9276 §3.2) treat its answers as unsigned, and DANE for it does not work", q, strings.TrimSuffix(r.Zone, "."), r.Reason).
				WithFix("re-sign %s with NSEC3 iterations 0 and an empty salt (RFC 9276 §3.1), or use NSEC", strings.TrimSuffix(r.Zone, "."))
		}
		return SpecDNSSECInsecure.New("%s is insecure (no DNSSEC): %s", q, r.Reason).
			WithFix("sign the zone %s and publish its DS record at the parent (through the registrar)", strings.TrimSuffix(r.Zone, "."))
	case dnssec.Bogus:
		return SpecDNSSECBogus.New("%s is bogus: %s; validating resolvers answer SERVFAIL for it, and mail to or checks of it fail", q, r.Reason).
			WithFix("re-sign the zone %s, or make the DS at its parent match a key the zone publishes (or remove the DS to turn DNSSEC off cleanly)", strings.TrimSuffix(r.Zone, "."))
	}
	if r.Err != nil {
		return SpecDNSSECLookup.New("could not evaluate DNSSEC for %s: %s", q, r.Reason)
	}
	return SpecDNSSECIndeterminate.New("no DNSSEC verdict for %s: %s", q, r.Reason)
}

// noteFindings reports each distinct note once.
func noteFindings(notes []dnssec.Note) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, n := range notes {
		if seen[n.Detail] {
			continue
		}
		seen[n.Detail] = true
		f := dnssecNoteSpecs[n.Kind].New("%s", n.Detail)
		out = append(out, f.WithFix("%s", noteFix(n)))
	}
	return out
}

func noteFix(n dnssec.Note) string {
	z := strings.TrimSuffix(n.Zone, ".")
	switch n.Kind {
	case dnssec.WeakAlgorithm:
		return fmt.Sprintf("roll the keys of %s to algorithm 13 (ECDSAP256SHA256) or 8 (RSASHA256)", z)
	case dnssec.WeakDigest:
		return fmt.Sprintf("publish a SHA-256 DS (digest type 2) for %s and remove the SHA-1 one", z)
	case dnssec.NSEC3Iterations:
		return fmt.Sprintf("re-sign %s with NSEC3 iterations 0 and an empty salt (or use NSEC)", z)
	}
	return fmt.Sprintf("re-sign %s before the signatures expire (check the signer's refresh)", z)
}

// resolverPath asks the resolver itself. Its AD bit counts only when it
// shows it validates (the trust anchor's DNSKEY comes back with AD);
// then a SERVFAIL that turns into data with CD=1 is the resolver finding
// the name bogus, named with its Extended DNS Error.
func resolverPath(ctx context.Context, dr resolve.DNSSECResolver, anchors []dns.RR, targets []dnssecTarget) []Finding {
	probe := "."
	if len(anchors) > 0 {
		probe = resolve.Canonical(anchors[0].Header().Name)
	}
	a, err := dr.QueryDNSSEC(ctx, probe, dns.TypeDNSKEY, false)
	if err != nil || !a.Authentic {
		why := ""
		if err != nil {
			why = err.Error()
		} else {
			why = fmt.Sprintf("DNSKEY %s came back from %s without the AD bit", probe, a.Server)
		}
		return []Finding{SpecDNSSECNotValidating.New("the resolver does not show that it validates DNSSEC (%s): its AD bit is not used; the verdicts come from mailcheck's own validation", why)}
	}
	var fs []Finding
	for _, t := range targets {
		_, err := dr.QueryDNSSEC(ctx, t.name, t.qtype, false)
		if !errors.Is(err, resolve.ErrServFail) {
			continue
		}
		if _, err2 := dr.QueryDNSSEC(ctx, t.name, t.qtype, true); err2 != nil {
			continue
		}
		fs = append(fs, SpecDNSSECResolverBogus.New("the validating resolver answers %v, but data when asked again with CD=1: it finds %s %s bogus%s",
			err, dns.TypeToString[t.qtype], strings.TrimSuffix(t.name, "."), edeText(err)))
	}
	return fs
}

// edeText renders the Extended DNS Errors of a failed question.
func edeText(err error) string {
	var qe *resolve.QueryError
	if !errors.As(err, &qe) || len(qe.EDE) == 0 {
		return " (no Extended DNS Error given)"
	}
	var parts []string
	for _, e := range qe.EDE {
		s := fmt.Sprintf("Extended DNS Error %d (%s)", e.InfoCode, dns.ExtendedErrorCodeToString[e.InfoCode])
		if e.ExtraText != "" {
			s += ": " + e.ExtraText
		}
		parts = append(parts, s)
	}
	return " (" + strings.Join(parts, "; ") + ")"
}
