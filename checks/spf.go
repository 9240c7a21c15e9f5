package checks

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/gopool"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/spf"
)

// spfCatalog declares the finding IDs of the spf check, each once (findings.Catalog).
var spfCatalog findings.Catalog

// Finding IDs of the spf check.
var (
	SpecSPFOK              = spfCatalog.Add(Spec{ID: "spf.ok", Severity: Pass, RFC: "RFC 7208", Summary: "the domain publishes one valid SPF record within the lookup limits"})
	SpecSPFTree            = spfCatalog.Add(Spec{ID: "spf.tree", Severity: Info, RFC: "RFC 7208 §4.6.4", Summary: "the include/redirect tree with the DNS lookups of each record"})
	SpecSPFMissing         = spfCatalog.Add(Spec{ID: "spf.missing", Severity: Fail, RFC: "RFC 7208 §4.5", Summary: "no SPF record: anyone can send mail as the domain"})
	SpecSPFMultiple        = spfCatalog.Add(Spec{ID: "spf.multiple", Severity: Fail, RFC: "RFC 7208 §4.5", Summary: "more than one SPF record: every evaluation is a permerror"})
	SpecSPFSyntax          = spfCatalog.Add(Spec{ID: "spf.syntax", Severity: Fail, RFC: "RFC 7208 §4.6, §12", Summary: "a record of the tree does not parse: every evaluation that reaches it is a permerror"})
	SpecSPFTooManyLookups  = spfCatalog.Add(Spec{ID: "spf.too-many-lookups", Severity: Fail, RFC: "RFC 7208 §4.6.4", Summary: "more than 10 DNS-querying terms across the tree: permerror"})
	SpecSPFTooManyVoid     = spfCatalog.Add(Spec{ID: "spf.too-many-void-lookups", Severity: Fail, RFC: "RFC 7208 §4.6.4", Summary: "more than 2 lookups find nothing: permerror (warn when only unauthorized senders reach them)"})
	SpecSPFMXLimit         = spfCatalog.Add(Spec{ID: "spf.mx-limit", Severity: Fail, RFC: "RFC 7208 §4.6.4", Summary: "an mx term whose target has more than 10 MX names: permerror"})
	SpecSPFIncludeMissing  = spfCatalog.Add(Spec{ID: "spf.include-missing", Severity: Fail, RFC: "RFC 7208 §5.2, §6.1", Summary: "an include or redirect target has no SPF record: permerror"})
	SpecSPFLoop            = spfCatalog.Add(Spec{ID: "spf.loop", Severity: Fail, RFC: "RFC 7208 §4.6.4", Summary: "an include/redirect loop: permerror"})
	SpecSPFAllPass         = spfCatalog.Add(Spec{ID: "spf.all-pass", Severity: Fail, RFC: "RFC 7208 §5.1", Summary: "+all: every host on the Internet may send as the domain"})
	SpecSPFAllNeutral      = spfCatalog.Add(Spec{ID: "spf.all-neutral", Severity: Warn, RFC: "RFC 7208 §4.7, §8.2", Summary: "?all, or no all and no redirect: forged mail is neutral, not rejected"})
	SpecSPFPTR             = spfCatalog.Add(Spec{ID: "spf.ptr-deprecated", Severity: Warn, RFC: "RFC 7208 §5.5", Summary: "the ptr mechanism is deprecated: slow, unreliable, skipped by many receivers"})
	SpecSPFMacroUnknowable = spfCatalog.Add(Spec{ID: "spf.macro-unknowable", Severity: Info, RFC: "RFC 7208 §7", Summary: "a term's target depends on the sender (macros), so its cost cannot be checked in advance"})
	SpecSPFRedirectIgnored = spfCatalog.Add(Spec{ID: "spf.redirect-ignored", Severity: Warn, RFC: "RFC 7208 §6.1", Summary: "redirect= beside an all mechanism is never used"})
	SpecSPFTemperror       = spfCatalog.Add(Spec{ID: "spf.temperror", Severity: Error, RFC: "RFC 7208 §2.6.6", Summary: "a DNS lookup of the tree or of an evaluation failed (timeout, SERVFAIL)"})
	SpecSPFMXNotAuthorized = spfCatalog.Add(Spec{ID: "spf.mx-not-authorized", Severity: Info, RFC: "RFC 7208 §2.4", Summary: "an MX address does not pass SPF (fine if the MX hosts do not send mail)"})
	SpecSPFIPPass          = spfCatalog.Add(Spec{ID: "spf.ip-pass", Severity: Pass, RFC: "RFC 7208 §2.6.3", Summary: "an address given with --ip is authorized (pass)"})
	SpecSPFIPNotAuthorized = spfCatalog.Add(Spec{ID: "spf.ip-not-authorized", Severity: Fail, RFC: "RFC 7208 §2.6", Summary: "an address given with --ip does not pass SPF"})
	SpecSPFTooLong         = spfCatalog.Add(Spec{ID: "spf.record-too-long", Severity: Warn, RFC: "RFC 7208 §3.4", Summary: "the name and its TXT records total over 450 octets: the answer may not fit in UDP"})
	SpecSPFMatchesNothing  = spfCatalog.Add(Spec{ID: "spf.term-matches-nothing", Severity: Warn, RFC: "RFC 7208 §4.6.4", Summary: "an a or mx term whose target has no address or no MX: it never matches and costs a lookup"})
	SpecSPFExpUnusable     = spfCatalog.Add(Spec{ID: "spf.exp-unusable", Severity: Warn, RFC: "RFC 7208 §6.2", Summary: "the exp= target has no TXT record, several, or an invalid one: receivers ignore exp="})
	SpecSPFNXDomain        = spfCatalog.Add(Spec{ID: "spf.nxdomain", Severity: Error, RFC: "RFC 7208 §4.3", Summary: "the domain does not exist (NXDOMAIN): there is no SPF to evaluate"})
)

// SPF audits the domain's SPF record and its whole include/redirect tree,
// and evaluates the MX addresses and the --ip addresses with check_host().
type SPF struct{}

var _ Check = SPF{}

// Meta implements Check.
func (SPF) Meta() Meta {
	return Meta{Name: "spf", Title: "SPF", Weight: 3, Findings: spfCatalog.Specs()}
}

// spfData is the check's structured result (Result.Data).
type spfData struct {
	*spf.Analysis
	IPs []spfEval `json:"ips"`
	MX  []spfEval `json:"mx"`
}

type spfEval struct {
	Host string `json:"host,omitempty"` // MX host name
	*spf.Outcome
}

var spfIssueSpecs = map[spf.IssueKind]Spec{
	spf.IssueMissing: SpecSPFMissing, spf.IssueMultiple: SpecSPFMultiple, spf.IssueSyntax: SpecSPFSyntax,
	spf.IssueTooManyVoid: SpecSPFTooManyVoid, spf.IssueMXLimit: SpecSPFMXLimit, spf.IssueIncludeMissing: SpecSPFIncludeMissing,
	spf.IssueLoop: SpecSPFLoop, spf.IssueAllPass: SpecSPFAllPass, spf.IssueAllNeutral: SpecSPFAllNeutral, spf.IssuePTR: SpecSPFPTR,
	spf.IssueMacroUnknowable: SpecSPFMacroUnknowable, spf.IssueRedirectIgnored: SpecSPFRedirectIgnored, spf.IssueTempError: SpecSPFTemperror,
	spf.IssueTooLong: SpecSPFTooLong, spf.IssueMatchesNothing: SpecSPFMatchesNothing, spf.IssueExpUnusable: SpecSPFExpUnusable,
}

// Run implements Check.
func (SPF) Run(ctx context.Context, env *Env) Result {
	d := env.Domain.ASCII
	analyzer := &spf.Analyzer{Resolver: env.Resolver}
	an := analyzer.Analyze(ctx, d)
	data := &spfData{Analysis: an, IPs: []spfEval{}, MX: []spfEval{}}
	root := an.Root
	if root.Status == "none" && len(an.Issues) == 1 && an.Issues[0].Kind == spf.IssueMissing && nxDomainAnswer(ctx, env) != "" {
		return Result{Findings: []Finding{SpecSPFNXDomain.New("%s does not exist (%s), so it has no SPF record to evaluate; receivers reject mail from a non-existent domain before SPF", d, nxDomainAnswer(ctx, env)).
			WithFix("check the spelling of the domain, or register it and publish its DNS")}, Data: data}
	}
	ipv6 := spfSendsIPv6(ctx, env)
	fs := spfIssueFindings(ctx, env, an, "", ipv6)
	if root.Status == "multiple" {
		// The user who deletes one record meets the faults of the other.
		for i, rec := range an.Records {
			alone := analyzer.AnalyzeRecord(ctx, d, rec)
			label := fmt.Sprintf("record %d of %d (%q) on its own: ", i+1, len(an.Records), rec)
			fs = append(fs, spfIssueFindings(ctx, env, alone, label, ipv6)...)
			if alone.TotalLookups > spf.DefaultMaxLookups {
				fs = append(fs, spfLookupsFinding(alone, label))
			}
		}
	}
	if root.Status != "ok" {
		return Result{Findings: fs, Data: data}
	}
	if an.TotalLookups > spf.DefaultMaxLookups {
		fs = append(fs, spfLookupsFinding(an, ""))
	} else {
		fs = append(fs, SpecSPFTree.New("include tree (%d of %d DNS lookups, %d void):\n%s", an.TotalLookups, spf.DefaultMaxLookups, an.VoidLookups, strings.Join(an.TreeLines(), "\n")))
	}
	fs = append(fs, spfEvaluations(ctx, env, root, data)...)
	if Status(fs).Rank() < Error.Rank() {
		ok := SpecSPFOK.New("%s publishes one valid SPF record using %d of %d DNS lookups: %s", d, an.TotalLookups, spf.DefaultMaxLookups, root.Record).
			WithRecords(fmt.Sprintf("%s. IN TXT %q", d, root.Record))
		fs = append([]Finding{ok}, fs...)
	}
	return Result{Findings: fs, Data: data}
}

// spfEvaluations runs check_host() for the --ip addresses (which must
// pass) and the MX addresses (informational: MX and outbound hosts often
// differ), concurrently, and judges the results.
func spfEvaluations(ctx context.Context, env *Env, root *spf.Node, data *spfData) []Finding {
	d := env.Domain.ASCII
	recEvidence := fmt.Sprintf("%s. IN TXT %q", d, root.Record)
	var fs []Finding

	checker := &spf.Checker{Resolver: env.Resolver}
	evaluate := func(ip netip.Addr) *spf.Outcome {
		return checker.CheckHost(ctx, spf.Request{IP: ip, Sender: "postmaster@" + d, Helo: d})
	}
	// --ip: the addresses the domain sends from must pass.
	ipOut := make([]*spf.Outcome, len(env.Options.IPs))
	// MX cross-check: informational, MX and outbound hosts often differ.
	set := env.MX(ctx)
	var mxAddrs []MXAddr
	if set.Err == nil {
		mxAddrs = set.Targets()
	}
	mxOut := make([]*spf.Outcome, len(mxAddrs))
	var wg sync.WaitGroup
	for i, ip := range env.Options.IPs {
		wg.Add(1)
		gopool.Go(ctx, func() { defer wg.Done(); ipOut[i] = evaluate(ip) })
	}
	for i, m := range mxAddrs {
		wg.Add(1)
		gopool.Go(ctx, func() { defer wg.Done(); mxOut[i] = evaluate(m.Addr) })
	}
	wg.Wait()

	for i, o := range ipOut {
		data.IPs = append(data.IPs, spfEval{Outcome: o})
		ip := env.Options.IPs[i]
		switch o.Result {
		case spf.Pass:
			fs = append(fs, SpecSPFIPPass.New("%s passes SPF for %s: %s", ip, d, o.Reason))
		case spf.TempError:
			fs = append(fs, SpecSPFTemperror.New("evaluating SPF for %s could not finish: %s", ip, o.Reason))
		default:
			f := SpecSPFIPNotAuthorized.New("%s does not pass SPF for %s: the result is %s (%s); mail it sends as %s fails SPF and, without aligned DKIM, DMARC", ip, d, o.Result, o.Reason, d).
				WithRecords(recEvidence)
			if o.Result == spf.PermError {
				f = f.WithFix("repair the permerror first (see the other spf findings), then check %s again", ip)
			} else {
				f = f.WithFix("%s. IN TXT %q", d, spfAddTerm(root.Record, ipMech(ip)+":"+ip.Unmap().String()))
			}
			fs = append(fs, f)
		}
	}
	for i, o := range mxOut {
		m := mxAddrs[i]
		data.MX = append(data.MX, spfEval{Host: m.Host, Outcome: o})
		switch o.Result {
		case spf.Pass:
		case spf.TempError:
			fs = append(fs, SpecSPFTemperror.New("evaluating SPF for MX host %s (%s) could not finish: %s", m.Host, m.Addr, o.Reason))
		default:
			fs = append(fs, SpecSPFMXNotAuthorized.New("MX host %s (%s) gets %s from the SPF record of %s (%s); if it also sends mail (forwarding, bounces), authorize it", m.Host, m.Addr, o.Result, d, o.Reason).
				WithFix("only if %s sends mail as %s: %s. IN TXT %q", m.Host, d, d, spfAddTerm(root.Record, ipMech(m.Addr)+":"+m.Addr.Unmap().String())))
		}
	}
	return fs
}

// spfIssueFindings turns the issues of an analysis into findings; label
// prefixes each message (the record analysed on its own).
func spfIssueFindings(ctx context.Context, env *Env, an *spf.Analysis, label string, ipv6 bool) []Finding {
	var fs []Finding
	records := spfRecords(an.Root)
	for _, is := range an.Issues {
		sev, note := spfIssueSeverity(is, ipv6)
		f := spfIssueSpecs[is.Kind].As(sev, "%s%s%s", label, is.Msg, note).WithRecords(is.Records...)
		if len(is.Records) == 0 && records[is.Domain] != "" && is.Kind != spf.IssueLoop && is.Kind != spf.IssueTempError {
			f = f.WithRecords(fmt.Sprintf("%s. IN TXT %q", is.Domain, records[is.Domain]))
		}
		fs = append(fs, f.WithFix("%s", spfFix(ctx, env, is, records[is.Domain])))
	}
	return fs
}

// spfIssueSeverity is an issue's severity, and a remark to add to its
// message: too many void lookups is a warning, not a fail, when the
// analysis does not call it severe, or when only an IPv6 sender meets
// them and the domain is not seen to send over IPv6.
func spfIssueSeverity(is spf.Issue, ipv6 bool) (Severity, string) {
	sev := spfIssueSpecs[is.Kind].Severity
	if is.Kind != spf.IssueTooManyVoid {
		return sev, ""
	}
	switch {
	case is.IPv6Only && !ipv6:
		return Warn, "; only an IPv6 sender meets these void lookups (the targets have A but no AAAA records), and neither the MX hosts nor --ip include an IPv6 address"
	case !is.Severe:
		return Warn, ""
	}
	return sev, ""
}

// spfLookupsFinding reports a tree over the lookup limit.
func spfLookupsFinding(an *spf.Analysis, label string) Finding {
	at := ""
	if an.Truncated {
		at = "at least "
	}
	return SpecSPFTooManyLookups.New("%sthe SPF tree of %s needs %s%d DNS lookups; the limit is %d, so receivers that evaluate past the 10th get permerror:\n%s",
		label, an.Domain, at, an.TotalLookups, spf.DefaultMaxLookups, strings.Join(an.TreeLines(), "\n")).
		WithRecords(fmt.Sprintf("%s. IN TXT %q", an.Domain, an.Root.Record)).
		WithFix("replace include: and mx/a terms whose addresses are stable with ip4:/ip6: ranges, drop includes of services you no longer use, or move rarely used senders to a subdomain with its own SPF record")
}

// nxDomainAnswer returns the NXDOMAIN answer for the domain (from the MX
// lookup every check shares), or "" when the domain exists or the lookup
// failed.
func nxDomainAnswer(ctx context.Context, env *Env) string {
	set := env.MX(ctx)
	if set.Err != nil || !set.NXDomain {
		return ""
	}
	return fmt.Sprintf("%s from %s", resolve.Describe(set.Answer, nil), set.Answer.Server)
}

// spfSendsIPv6 reports whether the domain is seen to use IPv6: an MX host
// or an --ip address is IPv6.
func spfSendsIPv6(ctx context.Context, env *Env) bool {
	for _, a := range env.Options.IPs {
		if a.Unmap().Is6() {
			return true
		}
	}
	set := env.MX(ctx)
	if set.Err != nil {
		return false
	}
	for _, a := range set.Addrs() {
		if a.Unmap().Is6() {
			return true
		}
	}
	return false
}

// spfTexts extracts the record texts from evidence lines
// (`name. IN TXT "..."`).
func spfTexts(lines []string) []string {
	var out []string
	for _, l := range lines {
		i := strings.Index(l, " IN TXT ")
		if i < 0 {
			continue
		}
		if t, err := strconv.Unquote(l[i+len(" IN TXT "):]); err == nil {
			out = append(out, t)
		}
	}
	return out
}

// spfMerge joins several SPF records into one: every mechanism other than
// all, in order and without repeats, then the strictest all among them.
// It declines (false) when a record does not parse or has modifiers,
// whose merge needs a human.
func spfMerge(records []string) (string, bool) {
	terms := []string{"v=spf1"}
	seen := map[string]bool{}
	all := ""
	rank := map[spf.Qualifier]int{spf.QFail: 3, spf.QSoftFail: 2, spf.QNeutral: 1, spf.QPass: 0}
	for _, rec := range records {
		r, err := spf.Parse(rec)
		if err != nil || r.Redirect != nil || r.Exp != nil {
			return "", false
		}
		for _, t := range r.Terms {
			switch {
			case !t.Kind.IsMechanism():
				return "", false
			case t.Kind == spf.All:
				if all == "" || rank[t.Qualifier] > rank[spf.Qualifier(all[0])] {
					all = string(t.Qualifier) + "all"
				}
			case !seen[strings.ToLower(t.Text)]:
				seen[strings.ToLower(t.Text)] = true
				terms = append(terms, t.Text)
			}
		}
	}
	if all != "" {
		terms = append(terms, all)
	}
	return strings.Join(terms, " "), len(records) > 1
}

func ipMech(ip netip.Addr) string {
	if ip.Unmap().Is4() {
		return "ip4"
	}
	return "ip6"
}

// spfRecords maps each domain of the tree to its SPF record.
func spfRecords(n *spf.Node) map[string]string {
	out := map[string]string{}
	var walk func(n *spf.Node)
	walk = func(n *spf.Node) {
		if n == nil {
			return
		}
		if n.Record != "" && out[n.Domain] == "" {
			out[n.Domain] = n.Record
		}
		for _, c := range n.Nodes {
			walk(c)
		}
	}
	walk(n)
	return out
}

// spfAddTerm returns record with term inserted before its all mechanism
// (or its redirect, or at the end).
func spfAddTerm(record, term string) string {
	r, err := spf.Parse(record)
	if err != nil {
		return record + " " + term
	}
	at := -1
	if a := r.All(); a != nil {
		at = a.Pos
	} else if r.Redirect != nil {
		at = r.Redirect.Pos
	}
	if at < 0 {
		return strings.TrimRight(record, " ") + " " + term
	}
	return record[:at] + term + " " + record[at:]
}

// spfSetAll returns record with its all mechanism replaced by all (or all
// appended when it has none).
func spfSetAll(record, all string) string {
	r, err := spf.Parse(record)
	if err != nil {
		return record
	}
	if a := r.All(); a != nil {
		return record[:a.Pos] + all + record[a.Pos+len(a.Text):]
	}
	return strings.TrimRight(record, " ") + " " + all
}

// spfRemoveTerm returns record without the term written as text.
func spfRemoveTerm(record, text string) string {
	r, err := spf.Parse(record)
	if err != nil {
		return record
	}
	for _, t := range r.Terms {
		if t.Text == text {
			return strings.TrimRight(record[:t.Pos], " ") + record[t.Pos+len(t.Text):]
		}
	}
	return record
}

// spfFix returns the exact change that mends an issue; record is the SPF
// record of the issue's domain, when it has one.
func spfFix(ctx context.Context, env *Env, is spf.Issue, record string) string {
	d := env.Domain.ASCII
	switch is.Kind {
	case spf.IssueMissing:
		if set := env.MX(ctx); set != nil && set.Null {
			return fmt.Sprintf("%s. IN TXT \"v=spf1 -all\" (the domain sends no mail)", d)
		}
		return fmt.Sprintf("%s. IN TXT \"v=spf1 mx -all\" (add ip4:/ip6:/include: terms for every other host or service that sends as %s)", d, d)
	case spf.IssueMultiple:
		if merged, ok := spfMerge(spfTexts(is.Records)); ok {
			an := (&spf.Analyzer{Resolver: env.Resolver}).AnalyzeRecord(ctx, is.Domain, merged)
			if an.TotalLookups > spf.DefaultMaxLookups {
				return fmt.Sprintf("merge the %d records into one TXT record at %s; joined as they are (%q) they need %d DNS lookups, over the limit of %d, so cut lookups first (see the findings below)", len(is.Records), is.Domain, merged, an.TotalLookups, spf.DefaultMaxLookups)
			}
			return fmt.Sprintf("publish one record instead of the %d, with the terms of all of them (%d of %d DNS lookups): %s. IN TXT %q", len(is.Records), an.TotalLookups, spf.DefaultMaxLookups, is.Domain, merged)
		}
		return fmt.Sprintf("merge the %d records into one: keep a single \"v=spf1 ... -all\" TXT record at %s", len(is.Records), is.Domain)
	case spf.IssueSyntax:
		return fmt.Sprintf("correct the record of %s as the message says", is.Domain)
	case spf.IssueTooManyVoid:
		return "remove the terms whose lookups find nothing (a:, mx:, exists: targets without records)"
	case spf.IssueMXLimit:
		return fmt.Sprintf("replace %q with ip4:/ip6: ranges of the hosts that send", is.Term)
	case spf.IssueIncludeMissing:
		return fmt.Sprintf("remove %q, or publish an SPF record at %s", is.Term, is.Domain)
	case spf.IssueLoop:
		return fmt.Sprintf("remove %q from the record that leads back to %s", is.Term, is.Domain)
	case spf.IssueAllPass:
		if is.Included {
			return fmt.Sprintf("stop including %s, whose record ends in %q", is.Domain, is.Term)
		}
		if record != "" {
			return fmt.Sprintf("list every host that sends as %s first, then: %s. IN TXT %q (or \"~all\" while you collect DMARC reports)", d, is.Domain, spfSetAll(record, "-all"))
		}
		return fmt.Sprintf("replace %q with \"-all\" (or \"~all\" while you collect DMARC reports)", is.Term)
	case spf.IssueAllNeutral:
		if record != "" {
			return fmt.Sprintf("%s. IN TXT %q (or \"~all\" while you collect DMARC reports)", is.Domain, spfSetAll(record, "-all"))
		}
		return fmt.Sprintf("end the record of %s with \"-all\" (or \"~all\" while you collect DMARC reports)", is.Domain)
	case spf.IssuePTR:
		return fmt.Sprintf("replace %q with ip4:/ip6: ranges or a: terms for the hosts it was meant to cover", is.Term)
	case spf.IssueTooLong:
		return fmt.Sprintf("shorten what is published at %s: merge ip4:/ip6: ranges into wider prefixes, move groups of senders into an include: of a name you control (e.g. _spf.%s), and delete TXT records there that are no longer needed (old verification tokens)", is.Domain, d)
	case spf.IssueMatchesNothing:
		if record != "" {
			return fmt.Sprintf("%s. IN TXT %q (or publish the addresses or MX records %q was meant to find)", is.Domain, spfRemoveTerm(record, is.Term), is.Term)
		}
		return fmt.Sprintf("remove %q, or publish the addresses or MX records it was meant to find", is.Term)
	case spf.IssueExpUnusable:
		target := strings.TrimPrefix(is.Term, "exp=")
		alt := ""
		if record != "" {
			alt = fmt.Sprintf(", or drop the modifier: %s. IN TXT %q", is.Domain, spfRemoveTerm(record, is.Term))
		}
		return fmt.Sprintf("publish exactly one TXT record at %s, e.g. %s. IN TXT \"%%{i} is not one of %%{d}'s mail servers\"%s", target, target, alt)
	case spf.IssueRedirectIgnored:
		if record != "" {
			return fmt.Sprintf("%s. IN TXT %q (or remove the all term, if the redirect target's policy is the one meant)", is.Domain, spfRemoveTerm(record, is.Term))
		}
		return fmt.Sprintf("remove either %q or the all term", is.Term)
	}
	return ""
}
