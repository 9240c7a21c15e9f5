package checks

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/dnsbl"
	"github.com/mailcheck/mailcheck/internal/orgdomain"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// dnsblCatalog declares the finding IDs of the dnsbl check, each once (findings.Catalog).
var dnsblCatalog findings.Catalog

// Finding IDs of the dnsbl check.
var (
	SpecDNSBLOK        = dnsblCatalog.Add(Spec{ID: "dnsbl.ok", Severity: Pass, RFC: "RFC 5782", Summary: "no checked address or domain is listed: how many lists answered and how many addresses and domains were clean"})
	SpecDNSBLListed    = dnsblCatalog.Add(Spec{ID: "dnsbl.listed", Severity: Fail, RFC: "RFC 5782 §2", Summary: "an address or the domain is listed on a blocklist (the list, the return code's meaning, the list's TXT reason, the delisting page)"})
	SpecDNSBLPolicy    = dnsblCatalog.Add(Spec{ID: "dnsbl.policy-listed", Severity: Warn, RFC: "RFC 5782 §2", Summary: "a policy or advisory listing, not a spam report (e.g. Spamhaus PBL: address space not meant to send mail directly)"})
	SpecDNSBLRefused   = dnsblCatalog.Add(Spec{ID: "dnsbl.resolver-refused", Severity: Error, Summary: "a list refused to answer the resolver used (e.g. Spamhaus 127.255.255.254 for public resolvers); its answers were not counted"})
	SpecDNSBLUnhealthy = dnsblCatalog.Add(Spec{ID: "dnsbl.list-unhealthy", Severity: Error, RFC: "RFC 5782 §5", Summary: "a list failed its test entries (lists everything, lists nothing, answers nonsense or fails); its answers were not counted"})
	SpecDNSBLTimeout   = dnsblCatalog.Add(Spec{ID: "dnsbl.timeout", Severity: Error, Summary: "a list did not answer before the query timeout or the audit deadline"})
	SpecDNSBLTemperror = dnsblCatalog.Add(Spec{ID: "dnsbl.temperror", Severity: Error, Summary: "a lookup failed or came back with an error code, or the MX addresses could not be looked up"})
	SpecDNSBLOffline   = dnsblCatalog.Add(Spec{ID: "dnsbl.offline", Severity: Error, Summary: "blocklists were not queried: --offline, and their zones are not among the --zone files"})
	SpecDNSBLSkipped   = dnsblCatalog.Add(Spec{ID: "dnsbl.skipped", Severity: Info, Summary: "addresses not checked (private or unroutable, IPv6 on IPv4-only lists, or none to check)"})
	SpecDNSBLConfig    = dnsblCatalog.Add(Spec{ID: "dnsbl.config", Severity: Error, Summary: "the --dnsbl or --dnsbl-file list definitions are invalid or the file is unreadable; no list was queried"})
	SpecDNSBLPrivate   = dnsblCatalog.Add(Spec{ID: "dnsbl.private-queried", Severity: Info, Summary: "--allow-private: private or loopback addresses were looked up too, though public lists never list them"})
	SpecDNSBLNothing   = dnsblCatalog.Add(Spec{ID: "dnsbl.not-evaluated", Severity: Error, Summary: "no blocklist lookup could be made (only private or loopback addresses, none that the lists cover): why, and what to give instead"})
	SpecDNSBLNXDomain  = dnsblCatalog.Add(Spec{ID: "dnsbl.nxdomain", Severity: Error, Summary: "the domain does not exist (NXDOMAIN): no MX address to look up, and its name is not looked up either"})
)

// DNSBL looks up every address of every MX host, and the addresses given
// with --ip, on IP blocklists, and the domain on domain blocklists
// (RFC 5782), trusting a list only after its test entries check out.
type DNSBL struct{}

var _ Check = DNSBL{}

// Meta implements Check.
func (DNSBL) Meta() Meta {
	return Meta{Name: "dnsbl", Title: "Blocklists", Weight: 2, Findings: dnsblCatalog.Specs()}
}

// dnsblTarget is one thing asked about, with where it came from.
type dnsblTarget struct {
	Target  string   `json:"target"`
	Kind    string   `json:"kind"`    // "ip" or "domain"
	Sources []string `json:"sources"` // "MX mx1.example.org", "--ip", "the domain"
}

type dnsblSkip struct {
	Target string `json:"target"`
	Reason string `json:"reason"`
}

// dnsblData is the check's JSON data: what was asked of which list and
// what came back.
type dnsblData struct {
	Targets []dnsblTarget      `json:"targets"`
	Skipped []dnsblSkip        `json:"skipped,omitempty"`
	Lists   []dnsbl.ListReport `json:"lists"`
}

// DNSBLLists decides the lists from the options: o.Lists when set,
// otherwise the lists --dnsbl and --dnsbl-file give (the file is read).
func DNSBLLists(o DNSBLOptions) ([]*dnsbl.List, error) {
	if o.Lists != nil {
		return o.Lists, nil
	}
	var file *dnsbl.File
	if o.File != "" {
		f, err := dnsbl.LoadFile(o.File)
		if err != nil {
			return nil, err
		}
		file = f
	}
	return dnsbl.Select(o.Zones, file)
}

// Run implements Check: it decides the lists, starts their health probes,
// decides what to ask them about (dnsblRun.ask), asks, judges each list's answers (judgeList) and sums
// up (summary).
func (DNSBL) Run(ctx context.Context, env *Env) Result {
	lists, err := DNSBLLists(env.Options.DNSBL)
	if err != nil {
		return Result{Findings: []Finding{SpecDNSBLConfig.New("no blocklist was queried: %v", strings.TrimPrefix(err.Error(), dnsbl.ErrConfig.Error()+": ")).
			WithFix("correct the list definition; the file format is in docs/checks/dnsbl.md")}}
	}
	// The lists' health probes do not depend on the domain: they run
	// while its MX set is looked up.
	pending := (&dnsbl.Checker{Resolver: env.Resolver, Memo: env.SharedLists}).Start(ctx, lists)
	if nx := nxDomainAnswer(ctx, env); nx != "" && len(env.Options.IPs) == 0 {
		pending.Wait()
		return Result{Findings: []Finding{SpecDNSBLNXDomain.New("%s does not exist (%s): it has no MX address to look up, and a clean answer for its name would say nothing", env.Domain.ASCII, nx).
			WithFix("check the spelling of the domain; to check sending addresses anyway, give them with --ip")}}
	}
	r := &dnsblRun{env: env, lists: lists, data: dnsblData{Targets: []dnsblTarget{}}, label: map[string]string{},
		dirty: map[string]bool{}, clean: map[string]bool{}}
	r.ask(ctx)
	r.data.Lists = pending.Check(r.targets)
	for _, rep := range r.data.Lists {
		r.judgeList(rep)
	}
	r.summary()
	return Result{Findings: r.fs, Data: r.data}
}

// dnsblRun is one run of the dnsbl check: what it asks about, what the
// lists answered, and the findings so far, in the order they are made.
type dnsblRun struct {
	env     *Env
	lists   []*dnsbl.List
	data    dnsblData
	targets []dnsbl.Target
	label   map[string]string // target -> "192.0.2.1 (MX mx1.example.org)"
	private []string          // private addresses looked up under --allow-private
	fs      []Finding

	healthy      int      // lists that answered their health probes
	offline      []string // lists --offline kept from being asked
	dirty, clean map[string]bool
}

// ask decides what to ask about: every MX address, the --ip addresses,
// the domain and its registered domain.
func (r *dnsblRun) ask(ctx context.Context) {
	env := r.env
	sources := map[netip.Addr][]string{}
	var order []netip.Addr
	addAddr := func(a netip.Addr, src string) {
		a = a.Unmap()
		if _, ok := sources[a]; !ok {
			order = append(order, a)
		}
		sources[a] = append(sources[a], src)
	}
	set := env.MX(ctx)
	if set.Err != nil {
		r.fs = append(r.fs, SpecDNSBLTemperror.New("the MX addresses of %s were not checked: the MX lookup failed: %v", env.Domain.ASCII, set.Err))
	}
	for _, h := range set.Hosts {
		if h.Lookup.Err != nil && len(h.Addrs) == 0 {
			r.fs = append(r.fs, SpecDNSBLTemperror.New("the addresses of MX host %s were not checked: %v", h.Name, h.Lookup.Err))
		}
	}
	for _, p := range set.Pairs() {
		addAddr(p.Addr, "MX "+p.Host)
	}
	for _, a := range env.Options.IPs {
		addAddr(a, "--ip")
	}
	for _, a := range order {
		r.askAddr(a, sources[a])
	}
	if len(r.targets) == 0 && set.Err == nil {
		r.data.Skipped = append(r.data.Skipped, dnsblSkip{"", fmt.Sprintf("%s has no public MX address; give the addresses it sends from with --ip", env.Domain.ASCII)})
	}
	r.askDomains()
}

// askAddr adds an address to ask about, unless the address policy skips
// it (private or unroutable, without --allow-private).
func (r *dnsblRun) askAddr(a netip.Addr, sources []string) {
	why, skip := r.env.addrPolicy(a)
	if skip {
		r.data.Skipped = append(r.data.Skipped, dnsblSkip{a.String(), fmt.Sprintf("a %s address (%s): blocklists only list public addresses", why, strings.Join(sources, ", "))})
		return
	}
	if why != "" {
		r.private = append(r.private, fmt.Sprintf("%s (a %s address)", a, why))
	}
	r.targets = append(r.targets, dnsbl.IPTarget(a))
	r.data.Targets = append(r.data.Targets, dnsblTarget{a.String(), "ip", sources})
	r.label[a.String()] = fmt.Sprintf("%s (%s)", a, dnsblSources(sources))
}

// askDomains adds the domain and its registered domain.
func (r *dnsblRun) askDomains() {
	d := r.env.Domain.ASCII
	domains := []string{d}
	if org, err := orgdomain.Lookup(d); err == nil && org != d {
		domains = append(domains, org)
	}
	for i, name := range domains {
		src := "the domain"
		if i > 0 {
			src = "the registered domain of " + d
		}
		r.targets = append(r.targets, dnsbl.DomainTarget(name))
		r.data.Targets = append(r.data.Targets, dnsblTarget{name, "domain", []string{src}})
		r.label[name] = fmt.Sprintf("%s (%s)", name, src)
	}
}

// judgeList turns one list's health and answers into findings; only a
// healthy list's answers count.
func (r *dnsblRun) judgeList(rep dnsbl.ListReport) {
	l := rep.List
	switch rep.Health.Status {
	case dnsbl.Unused:
	case dnsbl.Offline:
		r.offline = append(r.offline, l.Zone)
	case dnsbl.TimedOut:
		r.fs = append(r.fs, SpecDNSBLTimeout.New("%s did not answer: %s; whether anything is listed there is unknown", l.Label(), rep.Health.Reason).
			WithFix("retry later or with a longer --timeout/--deadline; if it never answers, the list may be gone: drop it from --dnsbl/--dnsbl-file"))
	case dnsbl.Blocked:
		r.fs = append(r.fs, dnsblRefusedFinding(l, rep.Health.Reason, dnsblProbeServer(rep.Health.Probes), dnsblProbeRecords(rep.Health.Probes)))
	case dnsbl.Unhealthy, dnsbl.Broken:
		r.fs = append(r.fs, dnsblUnhealthyFinding(rep))
	default:
		r.healthy++
		r.judgeAnswers(rep)
	}
}

// dnsblUnhealthyFinding reports a list whose health probes failed: its
// answers were not counted.
func dnsblUnhealthyFinding(rep dnsbl.ListReport) Finding {
	msg := "%s cannot be trusted, so its answers were not counted: %s"
	if rep.Health.Status == dnsbl.Broken {
		msg = "%s could not be used, so its answers were not counted: %s"
	}
	return SpecDNSBLUnhealthy.New(msg, rep.List.Label(), rep.Health.Reason).
		WithRecords(dnsblProbeRecords(rep.Health.Probes)...).
		WithFix("if the list has shut down, stop querying it (remove it with --dnsbl or --dnsbl-file); if it works from other resolvers, check your resolver (--resolver)")
}

// judgeAnswers reports a healthy list's listings, and sums up the
// lookups it refused, did not answer in time, or answered unusably.
func (r *dnsblRun) judgeAnswers(rep dnsbl.ListReport) {
	l := rep.List
	var refused, timeouts, failed []string
	var refusedReason string
	var refusedRecs []string
	for _, res := range rep.Results {
		switch res.Verdict {
		case dnsbl.Clean:
			r.clean[res.Target] = true
		case dnsbl.Listed:
			r.dirty[res.Target] = true
			r.fs = append(r.fs, dnsblListedFinding(l, res, r.label[res.Target]))
		case dnsbl.Policy:
			r.dirty[res.Target] = true
			r.fs = append(r.fs, dnsblPolicyFinding(l, res, r.label[res.Target]))
		case dnsbl.Refused:
			refused = append(refused, res.Target)
			refusedReason = fmt.Sprintf("%s was answered %s: %s", res.Query, strings.Join(res.A, ", "), dnsbl.Meanings(res.HitsOf(dnsbl.ClassRefused)))
			refusedRecs = append(refusedRecs, res.Records...)
		case dnsbl.Invalid:
			failed = append(failed, fmt.Sprintf("%s answered %s (%s)", res.Query, strings.Join(res.A, ", "), dnsbl.Meanings(res.HitsOf(dnsbl.ClassError))))
		case dnsbl.Failed:
			if errors.Is(res.Err, resolve.ErrTimeout) {
				timeouts = append(timeouts, res.Target)
			} else {
				failed = append(failed, res.Error)
			}
		}
	}
	if len(refused) > 0 {
		r.fs = append(r.fs, dnsblRefusedFinding(l, fmt.Sprintf("%d lookup(s) (%s) were refused; %s", len(refused), strings.Join(refused, ", "), refusedReason), "", refusedRecs))
	}
	if len(timeouts) > 0 {
		r.fs = append(r.fs, SpecDNSBLTimeout.New("%s did not answer in time for %s; whether they are listed there is unknown", l.Label(), strings.Join(timeouts, ", ")).
			WithFix("retry later or with a longer --timeout/--deadline"))
	}
	if len(failed) > 0 {
		r.fs = append(r.fs, SpecDNSBLTemperror.New("%s: %d lookup(s) gave no usable answer, so those targets were not evaluated: %s", l.Label(), len(failed), strings.Join(failed, "; ")))
	}
}

// summary adds what the run as a whole says: lists --offline kept out,
// what was not checked, private addresses looked up, the pass when
// everything asked about is clean, or why nothing was looked up at all.
func (r *dnsblRun) summary() {
	if len(r.offline) > 0 {
		r.fs = append(r.fs, r.offlineFinding())
	}
	// Only worth saying when something was checked: an info finding would
	// otherwise make a check that evaluated nothing look evaluated.
	if f, ok := dnsblSkippedFinding(r.data.Skipped, r.data.Lists, r.targets); ok && r.healthy > 0 {
		r.fs = append(r.fs, f)
	}
	if len(r.private) > 0 {
		r.fs = append(r.fs, SpecDNSBLPrivate.New("--allow-private: %s looked up as well; public blocklists never list private or loopback addresses, so their answers say nothing about the public address mail leaves from", strings.Join(r.private, ", ")))
	}
	if len(r.clean) > 0 && len(r.dirty) == 0 {
		r.fs = append([]Finding{r.okFinding()}, r.fs...)
	}
	if len(r.fs) == 0 {
		r.fs = append(r.fs, dnsblNothingFinding(r.env, r.data.Skipped, r.lists))
	}
}

// offlineFinding says which lists --offline kept from being asked.
func (r *dnsblRun) offlineFinding() Finding {
	used := 0
	for _, rep := range r.data.Lists {
		if rep.Health.Status != dnsbl.Unused {
			used++
		}
	}
	what := "no blocklist was queried"
	if used > len(r.offline) {
		what = dnsblPlural(len(r.offline), "blocklist was", "blocklists were") + " not queried"
	}
	return SpecDNSBLOffline.New("%s: with --offline only the --zone files answer, and %s outside them: %s", what,
		dnsblPlural(len(r.offline), "list is", "lists are"), strings.Join(r.offline, ", ")).
		WithFix("run without --offline to check the blocklists, or serve a list's zone with --zone")
}

// okFinding is the pass: what was found clean, on which lists.
func (r *dnsblRun) okFinding() Finding {
	nIP, nDom := 0, 0
	for _, t := range r.data.Targets {
		switch {
		case !r.clean[t.Target]:
		case t.Kind == "ip":
			nIP++
		default:
			nDom++
		}
	}
	var zones []string
	for _, rep := range r.data.Lists {
		if rep.Health.OK() {
			zones = append(zones, rep.List.Zone)
		}
	}
	var subject []string
	if nIP > 0 {
		subject = append(subject, dnsblPlural(nIP, "address", "addresses"))
	}
	if nDom > 0 {
		subject = append(subject, dnsblPlural(nDom, "domain", "domains"))
	}
	verb := "are"
	if nIP+nDom == 1 {
		verb = "is"
	}
	return SpecDNSBLOK.New("%s %s listed on none of the %s that answered: %s",
		strings.Join(subject, " and "), verb, dnsblPlural(r.healthy, "list", "lists"), strings.Join(zones, ", "))
}

// dnsblNothingFinding says why a run looked nothing up: it must not read
// as a pass.
func dnsblNothingFinding(env *Env, skipped []dnsblSkip, lists []*dnsbl.List) Finding {
	why := dnsblSkipReasons(skipped)
	var zones []string
	for _, l := range lists {
		zones = append(zones, fmt.Sprintf("%s (%s)", l.Zone, l.Kind))
	}
	why = append(why, "the lists of the run, "+strings.Join(zones, ", ")+", cover none of what was left to ask about")
	return SpecDNSBLNothing.New("no blocklist lookup was made for %s, so whether it is listed is unknown: %s", env.Domain.ASCII, strings.Join(why, "; ")).
		WithFix("give the public addresses the domain sends mail from with --ip, add a domain list (e.g. --dnsbl domain:dbl.spamhaus.org), or, in a lab, look up private addresses anyway with --allow-private")
}

// dnsblSkipReasons says what was not asked about, and why.
func dnsblSkipReasons(skipped []dnsblSkip) []string {
	var out []string
	for _, s := range skipped {
		if s.Target == "" {
			out = append(out, s.Reason)
		} else {
			out = append(out, s.Target+" is "+s.Reason)
		}
	}
	return out
}

func dnsblPlural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func dnsblSources(src []string) string {
	var mx []string
	other := []string{}
	for _, s := range src {
		if h, ok := strings.CutPrefix(s, "MX "); ok {
			mx = append(mx, h)
		} else if s == "--ip" {
			other = append(other, "a sending address given with --ip")
		}
	}
	var parts []string
	if len(mx) > 0 {
		parts = append(parts, "MX "+strings.Join(mx, ", "))
	}
	return strings.Join(append(parts, other...), "; ")
}

func dnsblIsDomain(r dnsbl.Result) bool {
	_, err := netip.ParseAddr(r.Target)
	return err != nil
}

func dnsblDelist(l *dnsbl.List) string {
	if l.Delist != "" {
		return l.Delist
	}
	return "the list's web site"
}

func dnsblListedFinding(l *dnsbl.List, r dnsbl.Result, label string) Finding {
	hits := r.HitsOf(dnsbl.ClassListed, dnsbl.ClassPolicy)
	var codes []string
	for _, h := range hits {
		codes = append(codes, h.Code+" "+h.Meaning)
	}
	msg := fmt.Sprintf("%s is listed on %s: %s", label, l.Label(), strings.Join(codes, "; "))
	if len(r.TXT) > 0 {
		msg += fmt.Sprintf("; the list says: %q", strings.Join(r.TXT, " "))
	}
	f := SpecDNSBLListed.New("%s", msg).WithRecords(r.Records...).WithData(r)
	if dnsblIsDomain(r) {
		return f.WithFix("find out why at %s (links to the domain in spam, phishing or compromised pages), remove the cause, then request delisting there", dnsblDelist(l))
	}
	return f.WithFix("find and stop the cause first (a compromised account or host, an open relay, a form or list sending unwanted mail), then request removal at %s; receivers that use this list reject or junk mail from the address until then", dnsblDelist(l))
}

func dnsblPolicyFinding(l *dnsbl.List, r dnsbl.Result, label string) Finding {
	var codes []string
	for _, h := range r.HitsOf(dnsbl.ClassPolicy) {
		codes = append(codes, h.Code+" "+h.Meaning)
	}
	msg := fmt.Sprintf("%s has a policy listing on %s: %s", label, l.Label(), strings.Join(codes, "; "))
	if len(r.TXT) > 0 {
		msg += fmt.Sprintf("; the list says: %q", strings.Join(r.TXT, " "))
	}
	if dnsblIsDomain(r) {
		return SpecDNSBLPolicy.New("%s", msg).WithRecords(r.Records...).WithData(r).
			WithFix("see %s for why the domain is flagged and how to request a review", dnsblDelist(l))
	}
	msg += ". Receivers that use the list refuse mail sent directly from such addresses: harmless for an MX that only receives mail, fatal if it also sends"
	return SpecDNSBLPolicy.New("%s", msg).WithRecords(r.Records...).WithData(r).WithFix("if this address is a mail server that sends mail, get it removed at %s (a static server address is removed on request, or by the ISP that registered the range) and give it a reverse DNS name that does not look dynamic; otherwise send outgoing mail through your provider's relay", dnsblDelist(l))
}

func dnsblRefusedFinding(l *dnsbl.List, reason, server string, recs []string) Finding {
	via := ""
	if server != "" {
		via = " (asked through " + server + ")"
	}
	f := SpecDNSBLRefused.New("%s refused to answer the resolver used%s, so its answers were not counted (a refusal is not a listing and says nothing about your addresses): %s", l.Label(), via, reason).
		WithRecords(recs...)
	if l.Access != "" {
		return f.WithFix("%s", l.Access)
	}
	return f.WithFix("query the list from your own recursive resolver (--resolver) rather than a large public resolver, or use the list's keyed access if it offers one")
}

func dnsblProbeServer(ps []dnsbl.Result) string {
	for _, p := range ps {
		if p.Server != "" {
			return p.Server
		}
	}
	return ""
}

func dnsblProbeRecords(ps []dnsbl.Result) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Records...)
	}
	return out
}

// skippedFinding sums up what was not checked: private addresses, and
// IPv6 addresses that IPv4-only lists could not be asked about.
func dnsblSkippedFinding(skipped []dnsblSkip, reports []dnsbl.ListReport, targets []dnsbl.Target) (Finding, bool) {
	parts := dnsblSkipReasons(skipped)
	var v6 []string
	for _, t := range targets {
		if !t.IsDomain() && t.Addr.Is6() {
			v6 = append(v6, t.String())
		}
	}
	if len(v6) > 0 {
		var v4only []string
		for _, rep := range reports {
			if rep.List.Kind == dnsbl.KindIP4 && rep.Health.OK() {
				v4only = append(v4only, rep.List.Zone)
			}
		}
		sort.Strings(v4only)
		if len(v4only) > 0 {
			verb := "covers"
			if len(v4only) > 1 {
				verb = "cover"
			}
			parts = append(parts, fmt.Sprintf("%s was only checked on the lists that cover IPv6 (%s %s IPv4 only)", strings.Join(v6, ", "), strings.Join(v4only, ", "), verb))
		}
	}
	if len(parts) == 0 {
		return Finding{}, false
	}
	return SpecDNSBLSkipped.New("not checked: %s", strings.Join(parts, "; ")), true
}
