package checks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/dkim"
	"github.com/mailcheck/mailcheck/internal/dmarc"
	"github.com/mailcheck/mailcheck/internal/future"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/spf"
)

// dkimCatalog declares the finding IDs of the dkim check, each once (findings.Catalog).
var dkimCatalog findings.Catalog

// Finding IDs of the dkim check.
var (
	SpecDKIMOK              = dkimCatalog.Add(Spec{ID: "dkim.ok", Severity: Pass, RFC: "RFC 6376 §3.6.1", Summary: "a usable DKIM key at a selector (key type and size)"})
	SpecDKIMNoneFound       = dkimCatalog.Add(Spec{ID: "dkim.none-found", Severity: Warn, RFC: "RFC 6376 §3.1", Summary: "no DKIM key under any probed selector (DNS cannot list selectors: pass yours with --dkim-selector)"})
	SpecDKIMSyntax          = dkimCatalog.Add(Spec{ID: "dkim.syntax", Severity: Fail, RFC: "RFC 6376 §3.6.1", Summary: "a key record is malformed, so verifiers discard it (warn: a defect verifiers tolerate)"})
	SpecDKIMKeyInvalid      = dkimCatalog.Add(Spec{ID: "dkim.key-invalid", Severity: Fail, RFC: "RFC 6376 §3.6.1", Summary: "p= does not decode to a public key of the record's type"})
	SpecDKIMKeyWeak         = dkimCatalog.Add(Spec{ID: "dkim.key-weak", Severity: Fail, RFC: "RFC 8301 §3.2", Summary: "an RSA key under 1024 bits: verifiers must not accept its signatures"})
	SpecDKIMKeyShort        = dkimCatalog.Add(Spec{ID: "dkim.key-short", Severity: Warn, RFC: "RFC 8301 §3.2", Summary: "an RSA key of 1024 to 2047 bits: signers should use 2048 bits"})
	SpecDKIMKeyLarge        = dkimCatalog.Add(Spec{ID: "dkim.key-large", Severity: Warn, RFC: "RFC 8301 §3.2", Summary: "an RSA key over 4096 bits: verifiers are only required to handle up to 4096"})
	SpecDKIMTesting         = dkimCatalog.Add(Spec{ID: "dkim.testing", Severity: Warn, RFC: "RFC 6376 §3.6.1", Summary: "t=y: the domain is testing DKIM, and verifiers treat its mail as unsigned"})
	SpecDKIMRevoked         = dkimCatalog.Add(Spec{ID: "dkim.revoked", Severity: Info, RFC: "RFC 6376 §3.6.1", Summary: "an empty p=: the key of this selector was revoked"})
	SpecDKIMSHA1Only        = dkimCatalog.Add(Spec{ID: "dkim.sha1-only", Severity: Fail, RFC: "RFC 8301 §3.1", Summary: "h= allows only sha1, which verifiers must not accept"})
	SpecDKIMNotEmail        = dkimCatalog.Add(Spec{ID: "dkim.not-email", Severity: Warn, RFC: "RFC 6376 §3.6.1", Summary: "s= excludes email: the key cannot verify mail signatures"})
	SpecDKIMTLSRPTKey       = dkimCatalog.Add(Spec{ID: "dkim.tlsrpt-key", Severity: Info, RFC: "RFC 8460 §3", Summary: "a key for signing TLS-RPT reports only (s=tlsrpt): not a mail key, and not a misconfiguration"})
	SpecDKIMMultiple        = dkimCatalog.Add(Spec{ID: "dkim.multiple", Severity: Fail, RFC: "RFC 6376 §3.6.2.2", Summary: "more than one TXT record at a selector: verification results are undefined"})
	SpecDKIMCNAMEDangling   = dkimCatalog.Add(Spec{ID: "dkim.cname-dangling", Severity: Warn, RFC: "RFC 6376 §3.6.2.2", Summary: "a selector is an alias (CNAME) whose target has no key record: signatures naming it fail"})
	SpecDKIMWildcard        = dkimCatalog.Add(Spec{ID: "dkim.wildcard", Severity: Warn, RFC: "RFC 4592", Summary: "a wildcard answers every selector name; its answer is never reported as a found key"})
	SpecDKIMSelectorInvalid = dkimCatalog.Add(Spec{ID: "dkim.selector-invalid", Severity: Error, RFC: "RFC 6376 §3.1", Summary: "a selector given with --dkim-selector is not a valid DNS name and was not probed"})
	SpecDKIMTemperror       = dkimCatalog.Add(Spec{ID: "dkim.temperror", Severity: Error, RFC: "RFC 6376 §6.1.2", Summary: "selector lookups failed (timeout, SERVFAIL): keys there could not be checked"})
	SpecDKIMNotNeeded       = dkimCatalog.Add(Spec{ID: "dkim.not-needed", Severity: Info, RFC: "RFC 7505, RFC 7208 §5.1, RFC 7489 §6.3", Summary: "no key found, and none is needed: the domain says it sends no mail (null MX, SPF -all, DMARC p=reject)"})
	SpecDKIMNXDomain        = dkimCatalog.Add(Spec{ID: "dkim.nxdomain", Severity: Error, RFC: "RFC 6376 §3.6.2.1", Summary: "the domain does not exist (NXDOMAIN): no selector was probed"})
)

// DKIM probes the domain's DKIM selectors (the built-in list of common ones
// plus --dkim-selector) and judges each key record found: syntax, key type
// and size (RFC 8301), testing mode, revocation, hash and service
// restrictions. A wildcard under _domainkey is detected with a random
// selector and never reported as a found key.
type DKIM struct{}

var _ Check = DKIM{}

// Meta implements Check.
func (DKIM) Meta() Meta {
	return Meta{Name: "dkim", Title: "DKIM keys", Weight: 3, Findings: dkimCatalog.Specs()}
}

// dkimData is the check's structured result.
type dkimData struct {
	Probed    []string           `json:"probed"`             // every selector covered, in order
	Cut       string             `json:"cut,omitempty"`      // why the built-in selectors were not asked (dkim.ProbeCut)
	Wildcard  *dkimSelectorData  `json:"wildcard,omitempty"` // the unpublished selector's answer, when it had one
	Selectors []dkimSelectorData `json:"selectors"`          // selectors with records of their own, or whose lookup failed
}

type dkimSelectorData struct {
	Selector string    `json:"selector"`
	Name     string    `json:"name"`
	Status   string    `json:"status"` // key, revoked, invalid, multiple, dangling, temperror
	Chain    []string  `json:"chain,omitempty"`
	Records  []string  `json:"records,omitempty"`
	Key      *dkim.Key `json:"key,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// Run implements Check. Its phases: the domain's existence, the probe
// of the selectors (dkim.Probe), the wildcard, each selector with records
// (judgeSelector), dangling aliases, failed lookups, and the verdict when
// no key was found.
func (DKIM) Run(ctx context.Context, env *Env) Result {
	d := env.Domain.ASCII
	sels, bad := dkim.Selectors(env.Options.DKIM.Selectors, true)
	probe := startProbe(ctx, env, d, sels)
	if nx := nxDomainAnswer(ctx, env); nx != "" {
		probe(false)
		return Result{Findings: []Finding{SpecDKIMNXDomain.New("%s does not exist (%s): no selector was probed, as no key can be published under a name that does not exist", d, nx).
			WithFix("check the spelling of the domain, or register it and publish its DNS")}}
	}
	var fs []Finding
	for _, err := range bad {
		fs = append(fs, SpecDKIMSelectorInvalid.New("--dkim-selector: %v; it was not probed", err).
			WithFix("give the selector exactly as it appears in the s= tag of a DKIM-Signature header"))
	}
	p := probe(true)
	data := dkimData{Probed: sels, Selectors: []dkimSelectorData{}}
	if p.Cut != nil {
		data.Cut = fmt.Sprintf("_domainkey.%s does not exist (%s): no selector can exist beneath it (RFC 8020), so only the selectors given with --dkim-selector were asked", d, resolve.Describe(p.Cut, nil))
	}

	wildcardMatches := 0
	for _, l := range p.Lookups {
		if l.Wildcard {
			wildcardMatches++
		}
	}
	if p.HasWildcard() {
		fs = append(fs, wildcardFinding(d, &p.Random, wildcardMatches))
		data.Wildcard = &dkimSelectorData{Selector: p.Random.Selector, Name: p.Random.Name, Status: "wildcard", Chain: p.Random.Chain(), Records: p.Random.TXT}
	}

	found := p.Found()
	for _, l := range found {
		sd := dkimSelectorData{Selector: l.Selector, Name: l.Name, Chain: l.Chain(), Records: l.TXT}
		fs = append(fs, judgeSelector(env, l, &sd)...)
		data.Selectors = append(data.Selectors, sd)
	}

	fs = append(fs, danglingFindings(d, p, &data)...)

	failed := p.Failed()
	for _, l := range failed {
		data.Selectors = append(data.Selectors, dkimSelectorData{Selector: l.Selector, Name: l.Name, Status: "temperror", Error: l.Err.Error()})
	}
	if len(failed) > 0 || p.Random.Err != nil {
		fs = append(fs, dkimTemperror(d, p, found, failed))
	}
	if len(found) == 0 && len(failed) == 0 {
		fs = append(fs, noKeyFinding(ctx, env, p, len(sels)))
	}
	return Result{Findings: fs, Data: data}
}

// startProbe starts the probe of the selectors (probeSelectors) beside the
// MX lookup that says whether the domain exists, when the sweep is cut
// by an NXDOMAIN at _domainkey: for a domain that does not exist, that
// costs the _domainkey question and those of the --dkim-selector
// selectors. Without the cut, a sweep would cost every selector's
// question, so the probe starts only once the domain is known to exist.
// The function returned waits for the probe, or, with want false, only
// for a started one to end.
func startProbe(ctx context.Context, env *Env, d string, sels []string) func(want bool) *dkim.ProbeResult {
	if !env.Options.DKIM.Cut {
		return func(want bool) *dkim.ProbeResult {
			if !want {
				return nil
			}
			return probeSelectors(ctx, env, d, sels)
		}
	}
	started := future.Go(ctx, func() *dkim.ProbeResult { return probeSelectors(ctx, env, d, sels) })
	return func(bool) *dkim.ProbeResult { return started() }
}

// probeSelectors asks for the selectors, with the sweep cut by an
// NXDOMAIN at _domainkey when Options.DKIM.Cut is set.
func probeSelectors(ctx context.Context, env *Env, d string, sels []string) *dkim.ProbeResult {
	if !env.Options.DKIM.Cut {
		return dkim.Probe(ctx, env.Resolver, d, sels, dkim.DefaultParallel)
	}
	user, _ := dkim.Selectors(env.Options.DKIM.Selectors, false)
	return dkim.ProbeCut(ctx, env.Resolver, d, sels, len(user), dkim.DefaultParallel)
}

// danglingFindings reports the selectors that are aliases (CNAME) of a
// name without a key record, and lists them in data.
func danglingFindings(d string, p *dkim.ProbeResult, data *dkimData) []Finding {
	var fs []Finding
	for i := range p.Lookups {
		l := &p.Lookups[i]
		if chain := l.Chain(); l.Err == nil && len(l.TXT) == 0 && len(chain) > 0 {
			target := chain[len(chain)-1]
			fs = append(fs, SpecDKIMCNAMEDangling.New("selector %s is an alias for %s, which has no key record (%s): mail signed with this selector fails verification", l.Selector, target, resolve.Describe(l.Answer, nil)).
				WithRecords(l.Evidence()...).
				WithFix("activate DKIM for %s at the mail provider so that %s. is published, or delete the alias %s. if the selector is not used", d, target, l.Name))
			data.Selectors = append(data.Selectors, dkimSelectorData{Selector: l.Selector, Name: l.Name, Status: "dangling", Chain: chain})
		}
	}
	return fs
}

// noKeyFinding reports that no selector of the n probed has a key: not
// needed when the domain says it sends no mail, else how to find or
// publish one.
func noKeyFinding(ctx context.Context, env *Env, p *dkim.ProbeResult, n int) Finding {
	d := env.Domain.ASCII
	if nm := noMailOf(ctx, env); nm.all() {
		return SpecDKIMNotNeeded.New("no DKIM key found for %s under the %d selectors probed, and none is needed: %s", d, n, nm.describe(d)).
			WithRecords(nm.evidence...)
	}
	msg := fmt.Sprintf("no DKIM key found for %s under any of the %d selectors probed", d, n)
	if p.Cut != nil {
		msg += fmt.Sprintf(" (_domainkey.%s does not exist, so no selector exists beneath it: RFC 8020)", d)
	}
	if p.HasWildcard() {
		msg += " (apart from the wildcard's answer)"
	}
	return SpecDKIMNoneFound.New("%s. DNS cannot list a domain's selectors, so a key under a selector not in the list is not seen; if %s signs mail, pass its selector with --dkim-selector", msg, d).
		WithFix("find the selector in the s= tag of the DKIM-Signature header of a message sent from %s and run: mailcheck --dkim-selector SELECTOR %s. If the domain does not sign yet, enable DKIM signing in the mail server or provider and publish its key: SELECTOR._domainkey.%s. IN TXT \"v=DKIM1; k=rsa; p=<base64 of the 2048-bit public key>\"", d, d, d)
}

// noMail is what a domain publishes to say it sends and receives no mail.
type noMail struct {
	nullMX, spfFail, dmarcReject bool
	evidence                     []string
	failed                       []string // lookups that failed: what they would have shown is unknown
}

// all reports whether the domain says all three.
func (n noMail) all() bool { return n.nullMX && n.spfFail && n.dmarcReject }

// describe says what d publishes, for the not-needed finding.
func (n noMail) describe(d string) string {
	return fmt.Sprintf("%s publishes a null MX (RFC 7505), the SPF record \"v=spf1 -all\" and a DMARC policy of reject, so it sends no mail and every message claiming to be from it fails", d)
}

// noMailOf reads the null MX, SPF and DMARC records of the domain (the
// mx, spf and dmarc checks ask the same questions, so the run's cache
// answers them). A failed lookup leaves the matching flag false.
func noMailOf(ctx context.Context, env *Env) noMail {
	var n noMail
	set := env.MX(ctx)
	if set.Err != nil || !set.Null || len(set.Hosts) > 0 {
		return n
	}
	n.nullMX = true
	n.evidence = append(n.evidence, set.Answer.Strings(dns.TypeMX)...)
	d := env.Domain.ASCII
	recs, _, _, err := spf.Lookup(ctx, env.Resolver, d)
	if err != nil {
		n.failed = append(n.failed, fmt.Sprintf("the SPF lookup (%v)", err))
	}
	if err == nil && len(recs) == 1 {
		if r, perr := spf.Parse(recs[0]); perr == nil && len(r.Terms) == 1 && r.All() != nil && r.All().Qualifier == spf.QFail {
			n.spfFail = true
			n.evidence = append(n.evidence, fmt.Sprintf("%s. IN TXT %q", d, recs[0]))
		}
	}
	res, err := dmarc.Lookup(ctx, env.Resolver, d)
	if err != nil {
		n.failed = append(n.failed, fmt.Sprintf("the DMARC lookup (%s)", unwrapLookup(err)))
	}
	if err == nil && res.Status == dmarc.StatusFound && res.Record.Policy != nil {
		pol := res.Record.Policy
		eff := string(pol.Policy)
		if res.Inherited && pol.SubdomainPolicy != "" {
			eff = string(pol.SubdomainPolicy)
		}
		n.dmarcReject = eff == "reject" && (pol.Percent == nil || *pol.Percent == 100) && res.Record.Testing() != "y"
		n.evidence = append(n.evidence, foundLines(res)...)
	}
	return n
}

// wildcardFinding reports a wildcard under _domainkey: a warning when it
// answers with a key, info otherwise.
func wildcardFinding(d string, r *dkim.Lookup, matches int) Finding {
	also := ""
	if matches > 0 {
		also = fmt.Sprintf("; %d probed selector(s) got the same answer and are not reported as keys", matches)
	}
	isKey := false
	if len(r.TXT) == 1 {
		if rec, err := dkim.Parse(r.TXT[0]); err == nil && !rec.Revoked() {
			isKey = true
		}
	}
	fix := fmt.Sprintf("remove the wildcard that covers *._domainkey.%s and publish each selector's key under its own name", d)
	if isKey {
		return SpecDKIMWildcard.New("a selector no one publishes (%s) gets a DKIM key from a wildcard under _domainkey.%s: every selector name answers with this key, so signatures naming any selector verify against it and the real selectors cannot be told apart%s", r.Selector, d, also).
			WithRecords(r.Evidence()...).WithFix("%s", fix)
	}
	return SpecDKIMWildcard.As(Info, "a selector no one publishes (%s) gets a TXT record that is not a DKIM key from a wildcard under _domainkey.%s; no selector is reported for it%s", r.Selector, d, also).
		WithRecords(r.Evidence()...).WithFix("%s", fix)
}

// dkimTemperror reports the selector lookups and the wildcard test that
// failed.
func dkimTemperror(d string, p *dkim.ProbeResult, found []*dkim.Lookup, failed []*dkim.Lookup) Finding {
	var parts []string
	for i, l := range failed {
		if i == 8 {
			parts = append(parts, fmt.Sprintf("and %d more", len(failed)-8))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%v)", l.Selector, l.Err))
	}
	var msg string
	switch {
	case len(failed) == 0:
		msg = fmt.Sprintf("the wildcard test (selector %s, which no one publishes) failed: %v; keys reported for %s may be a wildcard's answer", p.Random.Selector, p.Random.Err, d)
	case len(found) == 0:
		msg = fmt.Sprintf("no DKIM key found among the %d selectors of %s that answered, but %d lookup(s) failed, so a key may exist there and none could be ruled out: %s",
			len(p.Lookups)-len(failed), d, len(failed), strings.Join(parts, "; "))
	default:
		msg = fmt.Sprintf("%d of %d selector lookups for %s failed; keys there could not be checked: %s", len(failed), len(p.Lookups), d, strings.Join(parts, "; "))
	}
	if len(failed) > 0 && p.Random.Err != nil {
		msg += fmt.Sprintf("; the wildcard test failed too (%v)", p.Random.Err)
	}
	return SpecDKIMTemperror.New("%s", msg)
}

// judgeSelector turns one selector's records into findings.
func judgeSelector(env *Env, l *dkim.Lookup, sd *dkimSelectorData) []Finding {
	recs := l.Evidence()
	via := ""
	if chain := l.Chain(); len(chain) > 0 {
		via = fmt.Sprintf(" (via CNAME to %s)", strings.Join(chain, " → "))
	}
	if len(l.TXT) == 1 {
		return judgeRecord(env, l, fmt.Sprintf("selector %s", l.Selector), via, l.TXT[0], recs, sd)
	}
	// Several records: the selector as a whole is unusable, so no record
	// of it gets a pass finding; each one's own defects are still reported,
	// and the multiple finding says which records hold usable keys.
	sd.Status = "multiple"
	var keys []string
	var rest []Finding
	for i, txt := range l.TXT {
		label := fmt.Sprintf("record %d of selector %s", i+1, l.Selector)
		for _, f := range judgeRecord(env, l, label, via, txt, recs, sd) {
			if f.ID == SpecDKIMOK.ID {
				if k, ok := f.Data.(*dkim.Key); ok {
					keys = append(keys, fmt.Sprintf("record %d: %s", i+1, k))
				}
				continue
			}
			rest = append(rest, f)
		}
	}
	parts := []string{fmt.Sprintf("selector %s has %d TXT records at %s%s; RFC 6376 §3.6.2.2 leaves the result undefined and verifiers may pick either or fail its signatures (go-msgauth fails them)", l.Selector, len(l.TXT), l.Name, via)}
	if len(keys) > 0 {
		parts = append(parts, fmt.Sprintf("usable keys: %s", strings.Join(keys, ", ")))
	}
	return append([]Finding{SpecDKIMMultiple.New("%s", strings.Join(parts, "; ")).
		WithRecords(recs...).
		WithFix("keep exactly one key record at %s. (the one whose private key the signer uses) and delete the others", l.Name)}, rest...)
}

// judgeRecord turns one key record of a selector into findings, in
// phases: the record's syntax (syntaxFinding, warnings), its key
// (revoked, keyInvalid) and the limits on its use (restrictions); the
// pass finding goes first when the key is usable. The first status set
// on sd stays.
func judgeRecord(env *Env, l *dkim.Lookup, label, via, txt string, recs []string, sd *dkimSelectorData) []Finding {
	j := &recordJudge{env: env, l: l, label: label, via: via, recs: recs}
	setStatus := func(s string) {
		if sd.Status == "" {
			sd.Status = s
		}
	}
	rec, err := dkim.Parse(txt)
	if err != nil {
		setStatus("invalid")
		return []Finding{j.syntaxFinding(txt, err)}
	}
	j.rec = rec
	fs := j.warnings()
	key, kerr := rec.Key()
	if errors.Is(kerr, dkim.ErrRevoked) {
		setStatus("revoked")
		return append(fs, SpecDKIMRevoked.New("%s has a revoked key (empty p=)%s: signatures naming it fail; this is right for a retired selector", label, via).WithRecords(recs...))
	}
	if kerr != nil {
		setStatus("invalid")
		return append(fs, j.keyInvalid(kerr))
	}
	setStatus("key")
	sd.Key = key
	use, usable := j.restrictions(key)
	fs = append(fs, use...)
	if usable {
		fs = append([]Finding{j.ok(key)}, fs...)
	}
	return fs
}

// recordJudge is what the phases of judgeRecord share.
type recordJudge struct {
	env        *Env
	l          *dkim.Lookup
	label, via string   // how messages name the record, and its CNAME path
	recs       []string // evidence
	rec        *dkim.Record
}

// publish renders tags as the record to publish at the selector.
func (j *recordJudge) publish(tags []dkim.Tag) string {
	return fmt.Sprintf("%s. IN TXT \"%s\"", j.l.Name, dkim.FormatTags(tags))
}

// syntaxFinding reports a record verifiers discard, with the corrected
// record when one can be made.
func (j *recordJudge) syntaxFinding(txt string, err error) Finding {
	fix := fmt.Sprintf("publish a well-formed record: %s. IN TXT \"v=DKIM1; k=rsa; p=<base64 public key>\"", j.l.Name)
	if tags := syntaxFix(txt, err); tags != nil {
		fix = "publish " + j.publish(tags)
	}
	return SpecDKIMSyntax.New("the key record of %s%s is unusable, verifiers discard it: %v", j.label, j.via, err).
		WithRecords(j.recs...).WithFix("%s", fix)
}

// warnings reports the defects of the record that verifiers tolerate.
func (j *recordJudge) warnings() []Finding {
	rec := j.rec
	if len(rec.Warnings) == 0 {
		return nil
	}
	fix := rec.Tags
	if len(fix) > 0 && fix[0].Name != "v" && rec.Version != "" {
		fix = append([]dkim.Tag{{Name: "v", Value: "DKIM1"}}, (&dkim.Record{Tags: fix}).With("v", "", true)...)
	}
	fix = (&dkim.Record{Tags: fix}).With("g", "", true)
	return []Finding{SpecDKIMSyntax.As(Warn, "the key record of %s%s has defects verifiers tolerate: %s", j.label, j.via, strings.Join(rec.Warnings, "; ")).
		WithRecords(j.recs...).WithFix("publish %s", j.publish(fix))}
}

// keyInvalid reports a p= that holds no usable key.
func (j *recordJudge) keyInvalid(kerr error) Finding {
	rec := j.rec
	var fix string
	switch {
	case rec.PaddedKey() != "":
		fix = "publish " + j.publish(rec.With("p", rec.PaddedKey(), false))
	case rec.KeyType == "ed25519":
		fix = "publish the raw 32-octet Ed25519 public key: " + j.publish(rec.With("p", "<base64 of the 32-octet key: openssl pkey -in key.pem -pubout -outform DER | tail -c 32 | base64>", false))
	default:
		fix = "re-export the public key and publish it whole: " + j.publish(rec.With("p", "<openssl rsa -in key.pem -pubout -outform DER | base64 -w0>", false))
	}
	return SpecDKIMKeyInvalid.New("the p= of %s%s holds no usable %s key: %v", j.label, j.via, rec.KeyType, strings.TrimPrefix(kerr.Error(), "dkim: ")).
		WithFix("%s", fix).WithRecords(j.recs...)
}

// restrictions reports what limits the use of a valid key: its size,
// h=sha1, s= without email, t=y. usable is false when verifiers cannot
// accept mail signatures made with it.
func (j *recordJudge) restrictions(key *dkim.Key) (fs []Finding, usable bool) {
	rec, label, via, recs := j.rec, j.label, j.via, j.recs
	fs, usable = j.keySize(key)
	if rec.SHA1Only() {
		usable = false
		fs = append(fs, SpecDKIMSHA1Only.New("%s allows only sha1 (h=%s)%s: every signature must be rsa-sha1, which RFC 8301 forbids verifiers to accept", label, strings.Join(rec.HashAlgs, ":"), via).
			WithRecords(recs...).WithFix("switch the signer to rsa-sha256 and publish %s", j.publish(rec.With("h", "sha256", false))))
	}
	switch {
	case rec.ForEmail():
	case slices.Equal(rec.Services, []string{"tlsrpt"}):
		usable = false
		fs = append(fs, SpecDKIMTLSRPTKey.New("%s is a key for signing TLS reports (s=tlsrpt)%s: it verifies TLS-RPT report signatures, not mail", label, via).WithRecords(recs...))
	default:
		usable = false
		fs = append(fs, SpecDKIMNotEmail.New("%s is restricted to service type(s) %s (s=)%s: it cannot verify mail signatures", label, strings.Join(rec.Services, ":"), via).
			WithRecords(recs...).WithFix("if this selector signs mail, publish %s", j.publish(rec.With("s", "email", false))))
	}
	if rec.Testing() {
		var rest []string
		for _, f := range rec.Flags {
			if f != "y" {
				rest = append(rest, f)
			}
		}
		fix := rec.With("t", strings.Join(rest, ":"), len(rest) == 0)
		fs = append(fs, SpecDKIMTesting.New("%s is in testing mode (t=y)%s: verifiers must treat mail signed with it like unsigned mail, so DKIM gives the domain no protection", label, via).
			WithRecords(recs...).WithFix("once signing works, publish %s", j.publish(fix)))
	}
	return fs, usable
}

// keySize reports an RSA key outside 2048 to 4096 bits; usable is false
// for one under 1024 bits.
func (j *recordJudge) keySize(key *dkim.Key) (fs []Finding, usable bool) {
	label, via, recs := j.label, j.via, j.recs
	if key.Type != "rsa" {
		return nil, true
	}
	switch {
	case key.Bits < 1024:
		return []Finding{SpecDKIMKeyWeak.New("%s has an RSA key of %d bits%s; RFC 8301 forbids verifiers to accept signatures from keys under 1024 bits, and such keys can be factored", label, key.Bits, via).
			WithRecords(recs...).WithFix("%s", j.rotate(2048))}, false
	case key.Bits < 2048:
		return []Finding{SpecDKIMKeyShort.New("%s has an RSA key of %d bits%s; it still verifies, but RFC 8301 asks signers for 2048 bits and large receivers treat shorter keys as weak", label, key.Bits, via).
			WithRecords(recs...).WithFix("%s", j.rotate(2048))}, true
	case key.Bits > 4096:
		return []Finding{SpecDKIMKeyLarge.New("%s has an RSA key of %d bits%s; verifiers are only required to handle keys up to 4096 bits (RFC 8301 §3.2), so some may fail its signatures", label, key.Bits, via).
			WithRecords(recs...).WithFix("%s", j.rotate(2048))}, true
	}
	return nil, true
}

// rotate says how to replace the key with one of bits bits: at the
// provider the selector points to, or under a new selector.
func (j *recordJudge) rotate(bits int) string {
	d := j.env.Domain.ASCII
	if chain := j.l.Chain(); len(chain) > 0 {
		return fmt.Sprintf("the key is published at %s, by the mail provider that %s's selector points to: rotate it to a %d-bit key in the provider's DKIM settings", chain[len(chain)-1], d, bits)
	}
	sel := "s" + j.env.Now().Format("200601")
	return fmt.Sprintf("generate a %d-bit key (openssl genrsa -out %s.key %d), publish it under a new selector: %s._domainkey.%s. IN TXT \"v=DKIM1; k=rsa; p=<openssl rsa -in %s.key -pubout -outform DER | base64 -w0>\", switch the signer to selector %s, and once no mail signed with %s is in transit, revoke it with p=",
		bits, sel, bits, sel, d, sel, sel, j.l.Selector)
}

// ok is the pass finding of a usable key.
func (j *recordJudge) ok(key *dkim.Key) Finding {
	extra := ""
	if j.rec.Strict() {
		extra = "; t=s: the i= domain must equal d="
	}
	form := "raw 32-octet form"
	if key.Type == "rsa" {
		form = key.Form + " form"
	}
	return SpecDKIMOK.New("selector %s: %s key (%s)%s%s", j.l.Selector, key, form, j.via, extra).
		WithRecords(j.recs...).WithData(key)
}

// syntaxFix proposes the corrected tags for a record Parse rejected, or
// nil when no mechanical fix exists.
func syntaxFix(txt string, err error) []dkim.Tag {
	var se *dkim.SyntaxError
	if !errors.As(err, &se) {
		return nil
	}
	tags, _, terr := dkim.ParseTags(txt)
	if terr != nil {
		return nil
	}
	r := &dkim.Record{Tags: tags}
	switch se.Tag {
	case "v":
		rest := r.With("v", "", true)
		return append([]dkim.Tag{{Name: "v", Value: "DKIM1"}}, rest...)
	case "k":
		for _, t := range tags {
			if t.Name == "k" && strings.HasPrefix(t.Value, "ed25519") {
				return r.With("k", "ed25519", false)
			}
		}
		return r.With("k", "rsa", false)
	case "h":
		return r.With("h", "sha256", false)
	}
	return nil
}
