package checks

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/mtasts"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// mtastsCatalog declares the finding IDs of the mtasts check, each once (findings.Catalog).
var mtastsCatalog findings.Catalog

// Finding IDs of the mtasts check.
var (
	SpecMTASTSOK               = mtastsCatalog.Add(Spec{ID: "mtasts.ok", Severity: Pass, RFC: "RFC 8461 §3, §4", Summary: "a valid record and policy; every MX host matches a pattern and, in enforce mode, offers valid TLS"})
	SpecMTASTSMissing          = mtastsCatalog.Add(Spec{ID: "mtasts.missing", Severity: Info, RFC: "RFC 8461 §3.1", Summary: "no TXT record starting v=STSv1 at _mta-sts.<domain>: the domain publishes no MTA-STS policy"})
	SpecMTASTSMultiple         = mtastsCatalog.Add(Spec{ID: "mtasts.multiple", Severity: Fail, RFC: "RFC 8461 §3.1", Summary: "more than one record starts with v=STSv1: senders assume there is no policy"})
	SpecMTASTSRecordSyntax     = mtastsCatalog.Add(Spec{ID: "mtasts.record-syntax", Severity: Fail, RFC: "RFC 8461 §3.1", Summary: "the TXT record breaks the grammar (id missing or not 1-32 letters and digits, a malformed field): senders ignore it"})
	SpecMTASTSPolicyHost       = mtastsCatalog.Add(Spec{ID: "mtasts.policy-host-missing", Severity: Fail, RFC: "RFC 8461 §3.3", Summary: "mta-sts.<domain> has no address: the policy cannot be fetched"})
	SpecMTASTSFetchTLS         = mtastsCatalog.Add(Spec{ID: "mtasts.fetch-tls", Severity: Fail, RFC: "RFC 8461 §3.3", Summary: "the policy host's certificate is not valid for mta-sts.<domain> (name, expiry, trust) or the handshake failed"})
	SpecMTASTSFetchStatus      = mtastsCatalog.Add(Spec{ID: "mtasts.fetch-status", Severity: Fail, RFC: "RFC 8461 §3.3", Summary: "the policy URL answered a status other than 200"})
	SpecMTASTSFetchRedirect    = mtastsCatalog.Add(Spec{ID: "mtasts.fetch-redirect", Severity: Fail, RFC: "RFC 8461 §3.3", Summary: "the policy URL answered a redirect, which senders do not follow"})
	SpecMTASTSFetchSize        = mtastsCatalog.Add(Spec{ID: "mtasts.fetch-size", Severity: Fail, RFC: "RFC 8461 §3.3", Summary: "the policy file is larger than 64 KiB"})
	SpecMTASTSFetchContentType = mtastsCatalog.Add(Spec{ID: "mtasts.fetch-content-type", Severity: Fail, RFC: "RFC 8461 §3.2", Summary: "the policy is not served as text/plain"})
	SpecMTASTSFetchTimeout     = mtastsCatalog.Add(Spec{ID: "mtasts.fetch-timeout", Severity: Error, Summary: "the policy host did not answer in time (names the URL and address): not evaluated"})
	SpecMTASTSFetchNetwork     = mtastsCatalog.Add(Spec{ID: "mtasts.fetch-network", Severity: Error, Summary: "the policy host could not be looked up or reached, or its address is private (names the URL and address): not evaluated, never missing"})
	SpecMTASTSPolicySyntax     = mtastsCatalog.Add(Spec{ID: "mtasts.policy-syntax", Severity: Fail, RFC: "RFC 8461 §3.2", Summary: "the policy file breaks the grammar (version, mode, max_age, mx; an IP address as mx): senders ignore it"})
	SpecMTASTSModeNone         = mtastsCatalog.Add(Spec{ID: "mtasts.mode-none", Severity: Info, RFC: "RFC 8461 §5", Summary: "the policy is in mode none: the domain has withdrawn MTA-STS"})
	SpecMTASTSMXUnmatched      = mtastsCatalog.Add(Spec{ID: "mtasts.mx-unmatched", Severity: Fail, RFC: "RFC 8461 §4.1", Summary: "an MX host matches no mx pattern of the policy (fail in enforce mode, warn in testing)"})
	SpecMTASTSMXTLS            = mtastsCatalog.Add(Spec{ID: "mtasts.mx-tls", Severity: Fail, RFC: "RFC 8461 §4.2", Summary: "in enforce mode, an MX host offers no STARTTLS, or no WebPKI-valid certificate for its MX name, or TLS older than 1.2"})
	SpecMTASTSTemperror        = mtastsCatalog.Add(Spec{ID: "mtasts.temperror", Severity: Error, Summary: "the _mta-sts TXT lookup or the MX lookup failed: not evaluated, never reported as missing"})
	SpecMTASTSNotEvaluated     = mtastsCatalog.Add(Spec{ID: "mtasts.not-evaluated", Severity: Error, Summary: "--offline (no lookup, no fetch), or an MX session could not be inspected: says what was not evaluated"})
)

// DefaultMaxAge is the max_age the fixes propose (one week).
const DefaultMaxAge = 604800

// MTASTS audits the domain's MTA-STS policy (RFC 8461): the TXT record
// at _mta-sts.<domain>, the policy file fetched as a sender fetches it,
// the MX hosts against its patterns and, in enforce mode, their TLS as
// the smtp sessions showed it. The engine is internal/mtasts.
type MTASTS struct{}

var _ Check = MTASTS{}

// Meta implements Check.
func (MTASTS) Meta() Meta {
	return Meta{Name: "mtasts", Title: "MTA-STS", Weight: 2, Findings: mtastsCatalog.Specs()}
}

// mtastsFact is the domain's MTA-STS state, once per audit
// (Env.mtastsPolicy): the record and the policy fetched for it.
type mtastsFact struct {
	Lookup *mtasts.Lookup      // nil when offline
	Err    error               // the TXT lookup failed
	Fetch  *mtasts.FetchResult // nil when no record was selected (or offline)
}

// loadMTASTS looks up the record and, when one or more records are
// selected, fetches the policy (through the audit's dialer, resolver,
// roots and address policy).
func loadMTASTS(ctx context.Context, e *Env) *mtastsFact {
	f := &mtastsFact{}
	if e.Options.Offline {
		return f
	}
	f.Lookup, f.Err = mtasts.LookupRecord(ctx, e.Resolver, e.Domain.ASCII)
	if f.Err != nil || len(f.Lookup.Selected) == 0 {
		return f
	}
	f.Fetch = mtasts.Fetch(ctx, mtasts.FetchConfig{
		Domain: e.Domain.ASCII, Dialer: e.Dialer, RootCAs: e.RootCAs, Timeout: e.probeTimeout(),
		Lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			r := resolve.Addrs(ctx, e.Resolver, host+".")
			if len(r.Addrs) == 0 && r.Err != nil {
				return nil, fmt.Errorf("%s", resolve.Describe(nil, r.Err))
			}
			return r.Addrs, nil
		},
		Refuse: func(a netip.Addr) string {
			if kind, skip := e.addrPolicy(a); skip {
				return kind
			}
			return ""
		},
	})
	return f
}

// enforced returns the policy senders enforce: one valid record and a
// valid policy in enforce mode; nil otherwise.
func (f *mtastsFact) enforced() *mtasts.Policy {
	if f.Lookup == nil || f.Lookup.Record == nil || !f.Lookup.Record.Valid() || f.Fetch == nil {
		return nil
	}
	if p := f.Fetch.Policy; p != nil && p.Valid() && p.Mode == mtasts.ModeEnforce {
		return p
	}
	return nil
}

// mtastsData is the check's structured result.
type mtastsData struct {
	Record      *mtasts.Lookup      `json:"record"`           // the name, its TXT records, the selected record parsed
	Policy      *mtasts.FetchResult `json:"policy,omitempty"` // the fetch: URL, addresses, status, body, parsed policy or error
	MX          []mtastsMX          `json:"mx"`               // each MX host against the patterns
	Recommended string              `json:"recommended,omitempty"`
}

// mtastsMX is one MX host against the policy.
type mtastsMX struct {
	Host    string `json:"host"`
	Pattern string `json:"pattern,omitempty"` // the pattern it matches
	Matched bool   `json:"matched"`
	TLS     string `json:"tls,omitempty"` // enforce mode: "valid", or why not
}

// Run implements Check.
func (MTASTS) Run(ctx context.Context, env *Env) Result {
	d := env.Domain.ASCII
	if env.Options.Offline {
		return Result{Findings: []Finding{SpecMTASTSNotEvaluated.New("--offline: the MTA-STS record of %s was not looked up and no policy was fetched from %s", d, mtasts.URL(d))}}
	}
	f := env.mtastsPolicy(ctx)
	data := &mtastsData{Record: f.Lookup, Policy: f.Fetch, MX: []mtastsMX{}}
	if f.Err != nil {
		return Result{Findings: []Finding{SpecMTASTSTemperror.New("could not look up the MTA-STS record of %s: %s (not evaluated: a failed lookup is not a missing record)", d, resolve.Describe(nil, f.Err))}, Data: data}
	}
	if len(f.Lookup.Selected) == 0 {
		return Result{Findings: []Finding{SpecMTASTSMissing.New("no MTA-STS record at %s: %s publishes no MTA-STS policy, so senders fall back to opportunistic TLS", f.Lookup.Name, d).
			WithRecords(f.Lookup.Evidence()...)}, Data: data}
	}
	fs := mtastsRecordFindings(env, f)
	if f.Fetch.Err != nil {
		return Result{Findings: append(fs, mtastsFetchFinding(env, f.Fetch.Err)), Data: data}
	}
	pol := f.Fetch.Policy
	if !pol.Valid() {
		data.Recommended = mtastsRecommend(ctx, env, pol)
		for _, p := range pol.Problems {
			fs = append(fs, SpecMTASTSPolicySyntax.New("%s: %s; senders ignore a policy with a syntax error", f.Fetch.URL, p.Message).
				WithRecords(strings.Split(strings.TrimRight(f.Fetch.Body, "\r\n"), "\n")...).WithData(p).
				WithFix("%s", mtastsFix(env, data.Recommended)))
		}
		return Result{Findings: fs, Data: data}
	}
	mxfs, ok := mtastsMXFindings(ctx, env, pol, data)
	fs = append(fs, mxfs...)
	if ok && len(fs) == 0 {
		fs = append(fs, mtastsOK(f, pol))
	}
	return Result{Findings: fs, Data: data}
}

// mtastsOK is the pass finding of a sound record and policy.
func mtastsOK(f *mtastsFact, pol *mtasts.Policy) Finding {
	what := map[string]string{
		mtasts.ModeEnforce: "senders that support MTA-STS deliver only over valid TLS to these MX hosts",
		mtasts.ModeTesting: "senders report TLS failures (TLS-RPT) but still deliver; switch to mode enforce once the reports are clean",
	}[pol.Mode]
	if pol.Mode == mtasts.ModeNone {
		return SpecMTASTSModeNone.New("the MTA-STS policy at %s is in mode none: senders drop any policy they cached, and none is enforced", f.Fetch.URL).
			WithRecords(f.Lookup.Evidence()...)
	}
	return SpecMTASTSOK.New("MTA-STS policy (id %s) in mode %s, max_age %d, mx %s: %s", f.Lookup.Record.ID, pol.Mode, pol.MaxAge, strings.Join(pol.MX, ", "), what).
		WithRecords(append(f.Lookup.Evidence(), strings.Split(strings.TrimRight(f.Fetch.Body, "\r\n"), "\n")...)...).WithData(pol)
}

// mtastsRecordFindings judges the selected records: more than one, or
// the one's grammar.
func mtastsRecordFindings(env *Env, f *mtastsFact) []Finding {
	l := f.Lookup
	fix := fmt.Sprintf("publish only %s", mtasts.TXTRecord(env.Domain.ASCII, mtastsNewID(env)))
	if len(l.Selected) > 1 {
		return []Finding{SpecMTASTSMultiple.New("%s has %d TXT records starting with %s: senders assume %s has no MTA-STS policy (RFC 8461 §3.1)", l.Name, len(l.Selected), mtasts.Version, env.Domain.ASCII).
			WithRecords(l.Evidence()...).WithFix("%s", fix)}
	}
	var fs []Finding
	for _, p := range l.Record.Problems {
		fs = append(fs, SpecMTASTSRecordSyntax.New("%s: %s; senders ignore the record, and with it the policy", l.Name, p.Message).
			WithRecords(l.Evidence()...).WithData(p).WithFix("%s", fix))
	}
	return fs
}

// mtastsFetchFinding turns a failed fetch into its finding.
func mtastsFetchFinding(env *Env, e *mtasts.FetchError) Finding {
	host := mtasts.Host(env.Domain.ASCII)
	spec, fix := SpecMTASTSFetchNetwork, ""
	switch e.Kind {
	case mtasts.FailNoHost:
		spec, fix = SpecMTASTSPolicyHost, fmt.Sprintf("publish an address for %s (A/AAAA, or a CNAME to your web host) and serve the policy there over HTTPS", host)
	case mtasts.FailTLS:
		spec, fix = SpecMTASTSFetchTLS, fmt.Sprintf("serve %s with a certificate from a public CA that includes %s (e.g. certbot certonly -d %s) and its full chain", mtasts.WellKnown, host, host)
	case mtasts.FailStatus:
		spec, fix = SpecMTASTSFetchStatus, fmt.Sprintf("serve the policy file at %s with status 200", mtasts.URL(env.Domain.ASCII))
	case mtasts.FailRedirect:
		spec, fix = SpecMTASTSFetchRedirect, fmt.Sprintf("serve the policy file directly at %s, without a redirect (no http-to-https or www redirect on that path)", mtasts.URL(env.Domain.ASCII))
	case mtasts.FailSize:
		spec, fix = SpecMTASTSFetchSize, "serve only the policy file (a few lines: version, mode, mx, max_age)"
	case mtasts.FailContentType:
		spec, fix = SpecMTASTSFetchContentType, fmt.Sprintf("serve %s as text/plain (nginx: location = %s { default_type text/plain; })", mtasts.WellKnown, mtasts.WellKnown)
	case mtasts.FailTimeout:
		spec = SpecMTASTSFetchTimeout
	}
	f := spec.New("the MTA-STS policy could not be fetched: %s", e.Message)
	if spec.Severity == Error {
		return f.WithFix("not evaluated: a fetch that failed here is not a missing policy; retry, or check from another network")
	}
	return f.WithFix("%s; senders that find no policy fall back to opportunistic TLS", fix)
}

// mtastsNewID is a new policy id from the audit's clock:
// YYYYMMDDhhmmss.
func mtastsNewID(env *Env) string { return env.Now().UTC().Format("20060102150405") }

// mtastsFix is the fix that publishes a corrected policy and a new id.
func mtastsFix(env *Env, policy string) string {
	d := env.Domain.ASCII
	return fmt.Sprintf("serve at %s:\n%s\nthen publish %s so that senders fetch it again",
		mtasts.URL(d), strings.ReplaceAll(strings.TrimRight(policy, "\r\n"), "\r\n", "\n"), mtasts.TXTRecord(d, mtastsNewID(env)))
}

// mtastsRecommend is the corrected policy: the valid patterns that
// match an MX host, the unmatched MX hosts by name, the mode (testing
// when it is not valid) and max_age (one week when not valid).
func mtastsRecommend(ctx context.Context, env *Env, pol *mtasts.Policy) string {
	mode := pol.Mode
	if !slices.Contains([]string{mtasts.ModeEnforce, mtasts.ModeTesting, mtasts.ModeNone}, mode) {
		mode = mtasts.ModeTesting
	}
	maxAge := pol.MaxAge
	if maxAge <= 0 || maxAge > mtasts.MaxAgeLimit {
		maxAge = DefaultMaxAge
	}
	var mx []string
	set := env.MX(ctx)
	for _, h := range set.Hosts {
		if h.IPLiteral {
			continue
		}
		p := mtasts.Matching(validPatterns(pol.MX), h.Name)
		if p == "" {
			p = h.Name
		}
		if !slices.Contains(mx, p) {
			mx = append(mx, p)
		}
	}
	return mtasts.Render(mode, maxAge, mx)
}

// validPatterns returns the patterns without a problem.
func validPatterns(mx []string) []string {
	var out []string
	for _, m := range mx {
		if mtasts.ParsePolicy("version: STSv1\nmode: none\nmax_age: 1\nmx: " + m + "\n").Valid() {
			out = append(out, m)
		}
	}
	return out
}

// mtastsMXFindings matches every MX host against the policy and, in
// enforce mode, judges their TLS. ok is false when something could not
// be evaluated or failed.
func mtastsMXFindings(ctx context.Context, env *Env, pol *mtasts.Policy, data *mtastsData) ([]Finding, bool) {
	set := env.MX(ctx)
	if set.Err != nil {
		return []Finding{SpecMTASTSTemperror.New("the MX set of %s could not be looked up, so its hosts were not matched against the MTA-STS policy: %s", env.Domain.ASCII, resolve.Describe(nil, set.Err))}, false
	}
	if pol.Mode == mtasts.ModeNone {
		return nil, true
	}
	var fs []Finding
	var matched []string
	for _, h := range set.Hosts {
		p := mtasts.Matching(pol.MX, h.Name)
		data.MX = append(data.MX, mtastsMX{Host: h.Name, Pattern: p, Matched: p != ""})
		if p != "" {
			matched = append(matched, h.Name)
			continue
		}
		sev, why := Fail, "senders enforcing MTA-STS will not deliver to it"
		if pol.Mode == mtasts.ModeTesting {
			sev, why = Warn, "in enforce mode senders would not deliver to it; now they report it"
		}
		data.Recommended = mtastsRecommend(ctx, env, pol)
		fs = append(fs, SpecMTASTSMXUnmatched.As(sev, "MX host %s matches no mx pattern of the policy (%s): %s", h.Name, strings.Join(pol.MX, ", "), why).
			WithFix("%s", mtastsFix(env, data.Recommended)))
	}
	if pol.Mode != mtasts.ModeEnforce {
		return fs, len(fs) == 0
	}
	tfs := mtastsTLSFindings(ctx, env, pol, matched, data)
	fs = append(fs, tfs...)
	return fs, len(fs) == 0
}

// mtastsTLSFindings judges, in enforce mode, the port-25 sessions of the
// matched MX hosts (the smtp check's, shared through Env.probe): STARTTLS
// with a WebPKI-valid certificate for the MX name and TLS 1.2 or newer.
func mtastsTLSFindings(ctx context.Context, env *Env, pol *mtasts.Policy, hosts []string, data *mtastsData) []Finding {
	plan := env.servicePlan(ctx)
	results := probeAll(ctx, env, plan.MX)
	var fs []Finding
	probed := map[string]bool{}
	for i, t := range plan.MX {
		if !slices.Contains(hosts, t.Host) {
			continue
		}
		probed[t.Host] = true
		s := env.smtpTLSSession(ctx, t, results[i])
		verdict, evaluated := mtastsTLSVerdict(s)
		mtastsNoteTLS(data, t.Host, verdict)
		switch {
		case !evaluated:
			fs = append(fs, SpecMTASTSNotEvaluated.New("%s: %s; whether senders enforcing MTA-STS can deliver there was not evaluated", s.Label, verdict).WithRecords(s.Transcript...))
		case verdict != "valid":
			rec := mtasts.Render(mtasts.ModeTesting, pol.MaxAge, pol.MX)
			fs = append(fs, SpecMTASTSMXTLS.New("MX %s: %s: %s, so senders enforcing MTA-STS will not deliver to it", s.Label, verdict, "the policy is in enforce mode").
				WithRecords(s.Transcript...).
				WithFix("give %s a certificate from a public CA for %s, STARTTLS and TLS 1.2 or newer (see the tls check); until then, %s", t.Host, t.Host, mtastsFix(env, rec)))
		}
	}
	for _, h := range hosts {
		if !probed[h] {
			mtastsNoteTLS(data, h, "not probed")
			fs = append(fs, SpecMTASTSNotEvaluated.New("MX %s had no session to inspect (no usable address, see the smtp check): its TLS under the enforce policy was not evaluated", h))
		}
	}
	return fs
}

// mtastsNoteTLS records a host's TLS verdict in the data (the first
// failing one wins over "valid").
func mtastsNoteTLS(data *mtastsData, host, verdict string) {
	for i := range data.MX {
		if data.MX[i].Host == host && (data.MX[i].TLS == "" || data.MX[i].TLS == "valid") {
			data.MX[i].TLS = verdict
		}
	}
}

// mtastsTLSVerdict says whether a session meets MTA-STS (RFC 8461 §4.2):
// "valid", or why not; evaluated is false when the session says nothing
// about the server.
func mtastsTLSVerdict(s tlsSession) (verdict string, evaluated bool) {
	switch {
	case s.Info != nil:
		info := s.Info
		var why []string
		if !info.Trusted {
			why = append(why, "the certificate does not verify ("+info.TrustError+")")
		}
		if !info.NameOK {
			why = append(why, info.NameError)
		}
		if info.VersionID < tls.VersionTLS12 {
			why = append(why, "it negotiated "+info.Version)
		}
		if len(why) == 0 {
			return "valid", true
		}
		return strings.Join(why, "; "), true
	case s.TLSError != "" && !s.Cut && !s.Inconclusive:
		return "the TLS handshake failed: " + s.TLSError, true
	case s.Plain != "":
		return "it offers no STARTTLS", true
	case s.TLSError != "":
		return s.TLSError, false
	}
	return s.Stopped, false
}
