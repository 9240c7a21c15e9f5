package spf

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/gopool"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// IssueKind classifies what the static analysis found.
type IssueKind string

// Issue kinds; checks/spf.go maps each to a finding ID.
const (
	IssueMissing         IssueKind = "missing"          // the domain has no SPF record
	IssueMultiple        IssueKind = "multiple"         // several SPF records: permerror
	IssueSyntax          IssueKind = "syntax"           // a record does not parse: permerror
	IssueTooManyLookups  IssueKind = "too-many-lookups" // more than 10 DNS-querying terms in the tree
	IssueTooManyVoid     IssueKind = "too-many-void"    // more than 2 void lookups
	IssueMXLimit         IssueKind = "mx-limit"         // an mx target with more than 10 MX names
	IssueIncludeMissing  IssueKind = "include-missing"  // include/redirect target without SPF
	IssueLoop            IssueKind = "loop"             // include/redirect loop
	IssueAllPass         IssueKind = "all-pass"         // +all reachable: anyone passes
	IssueAllNeutral      IssueKind = "all-neutral"      // ?all, or no all and no redirect
	IssuePTR             IssueKind = "ptr-deprecated"   // the ptr mechanism (RFC 7208 §5.5)
	IssueMacroUnknowable IssueKind = "macro-unknowable" // a term whose target depends on the sender
	IssueRedirectIgnored IssueKind = "redirect-ignored" // redirect beside all
	IssueTempError       IssueKind = "temperror"        // a lookup failed
	IssueTooLong         IssueKind = "too-long"         // the TXT answer is over 450 octets (RFC 7208 §3.4)
	IssueMatchesNothing  IssueKind = "matches-nothing"  // an a or mx term whose target has no address or no MX
	IssueExpUnusable     IssueKind = "exp-unusable"     // the exp= target has no TXT record, several, or an invalid one
)

// MaxAnswerOctets is the size RFC 7208 §3.4 asks the SPF answer to stay
// under (the name and the text of all its TXT records) to fit in UDP.
const MaxAnswerOctets = 450

// Issue is one problem found in the tree.
type Issue struct {
	Kind   IssueKind `json:"kind"`
	Domain string    `json:"domain"`         // the record's domain
	Term   string    `json:"term,omitempty"` // the term concerned
	Msg    string    `json:"message"`
	// Severe is set on too-many-void when senders the domain authorizes can
	// hit the limit (a pass-capable term comes after the excess).
	Severe bool `json:"severe,omitempty"`
	// IPv6Only is set on too-many-void when only IPv6 senders meet the
	// excess (a: targets with an A record but no AAAA).
	IPv6Only bool `json:"ipv6_only,omitempty"`
	// Included is set when the record concerned is reached through an
	// include, so the checked domain cannot edit it.
	Included bool     `json:"included,omitempty"`
	Records  []string `json:"records,omitempty"` // evidence
}

// Node is one record of the include/redirect tree.
type Node struct {
	Domain  string       `json:"domain"`
	Via     string       `json:"via"`            // "root", "include" or "redirect"
	Term    string       `json:"term,omitempty"` // the parent's term that leads here
	Record  string       `json:"record,omitempty"`
	Status  string       `json:"status"` // ok, none, multiple, syntax, temperror, loop, dynamic, truncated
	Error   string       `json:"error,omitempty"`
	Lookups int          `json:"lookups"` // DNS-querying terms in this record
	Total   int          `json:"total"`   // this record and everything below it
	Void    int          `json:"void"`    // terms of this record whose lookup finds nothing (for either family)
	Terms   []TermReport `json:"terms"`
	Nodes   []*Node      `json:"children"`

	passChain bool // a match here can make the checked domain pass
	rec       *Record
	st        *nodeState
}

// TermReport is the analysis of one term.
type TermReport struct {
	Text    string `json:"text"`
	Lookups int    `json:"lookups"`           // 1 for a DNS-querying term that is evaluated
	Names   int    `json:"names,omitempty"`   // mx: the MX names found
	Void    string `json:"void,omitempty"`    // "ipv4", "ipv6" or "both": which senders get a void answer
	Dynamic bool   `json:"dynamic,omitempty"` // the target depends on the sender (macros)
	Note    string `json:"note,omitempty"`
}

// Analysis is the static analysis of a domain's SPF tree.
type Analysis struct {
	Domain       string   `json:"domain"`
	Records      []string `json:"records"` // the SPF records published at the domain
	Root         *Node    `json:"tree"`
	TotalLookups int      `json:"lookups"`      // DNS-querying terms of the whole tree (limit 10)
	VoidLookups  int      `json:"void_lookups"` // void lookups of the whole tree, worst family (limit 2)
	Truncated    bool     `json:"truncated,omitempty"`
	Issues       []Issue  `json:"issues"`
}

// Analyzer walks a domain's whole SPF tree: every include and redirect,
// not one evaluation path.
type Analyzer struct {
	Resolver resolve.Resolver
	// MaxNodes bounds the records fetched (default 100); MaxDepth the
	// include/redirect nesting (default 12). Beyond them the tree is
	// marked truncated: a hostile tree cannot make the audit explode.
	MaxNodes int
	MaxDepth int
	// Parallel bounds the DNS questions in flight (default 8). Sibling
	// records and the probes of a record's terms are fetched concurrently;
	// the analysis does not depend on the order the answers arrive in.
	Parallel int
}

type walker struct {
	a                  *Analyzer
	ctx                context.Context
	out                *Analysis
	nodes              int
	maxNodes, maxDepth int
	parallel           int
	rootRecord         *string // AnalyzeRecord: the root's record, not looked up
}

// nodeState is what the fetch phase learns about a node.
type nodeState struct {
	depth     int
	ancestors map[string]bool // the domains on the path from the root, this one included
	final     bool            // the node's default result is the checked domain's (root, redirect chain)
	spf       []string
	ans       *resolve.Answer
	sel       Result
	err       error
	perr      error
	invalid   bool
	children  map[int]*Node // term index → the include/redirect target
}

// probeResult is what the probe phase learns about a term.
type probeResult struct {
	done   bool
	err    error
	what   string // the failed lookup, for the message
	v4, v6 bool   // void for IPv4 / IPv6 senders
	mxs    []*dns.MX
	target string
	noAddr bool
	nx     bool // the target does not exist
	null   bool // mx: the target publishes only a null MX
}

// Analyze fetches and analyses domain's SPF record and everything it
// includes or redirects to.
//
// It works in three phases: the tree's records are fetched level by level
// (siblings concurrently, nodes numbered in a fixed order so truncation is
// deterministic); the a, mx and exists terms a receiver can reach (the
// first 10 DNS-querying terms in evaluation order) are probed
// concurrently; then a sequential walk in record order reports the issues.
func (an *Analyzer) Analyze(ctx context.Context, domain string) *Analysis {
	return an.analyze(ctx, domain, nil)
}

// AnalyzeRecord analyses record as if it were the only SPF record of
// domain (the record is not looked up; everything it includes is): what
// the domain meets once it deletes its other SPF records.
func (an *Analyzer) AnalyzeRecord(ctx context.Context, domain, record string) *Analysis {
	return an.analyze(ctx, domain, &record)
}

func (an *Analyzer) analyze(ctx context.Context, domain string, record *string) *Analysis {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	w := &walker{a: an, ctx: ctx, out: &Analysis{Domain: domain, Issues: []Issue{}}, maxNodes: an.MaxNodes, maxDepth: an.MaxDepth, parallel: an.Parallel, rootRecord: record}
	if w.maxNodes <= 0 {
		w.maxNodes = 100
	}
	if w.maxDepth <= 0 {
		w.maxDepth = 12
	}
	if w.parallel <= 0 {
		w.parallel = 8
	}
	root := newNode(domain, "root", "", true)
	root.st = &nodeState{ancestors: map[string]bool{domain: true}, final: true}
	w.nodes = 1
	w.fetchTree(root)
	probes := w.probeTree(root)
	w.report(root, probes)
	w.out.Root = root
	w.out.TotalLookups = root.Total
	w.voids()
	return w.out
}

func newNode(domain, via, term string, passChain bool) *Node {
	return &Node{Domain: domain, Via: via, Term: term, Status: "ok", Terms: []TermReport{}, Nodes: []*Node{}, passChain: passChain}
}

// run calls f(0..n-1) with at most w.parallel calls at a time and waits
// for all of them.
func (w *walker) run(n int, f func(i int)) {
	if n == 0 {
		return
	}
	sem := make(chan struct{}, w.parallel)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		gopool.Go(w.ctx, func() {
			defer func() { <-sem; wg.Done() }()
			f(i)
		})
	}
	wg.Wait()
}

// fetchTree fetches the records of the tree breadth first: the records of
// one level concurrently, then their children in record order.
func (w *walker) fetchTree(root *Node) {
	level := []*Node{root}
	for len(level) > 0 {
		w.run(len(level), func(i int) { w.fetch(level[i]) })
		var next []*Node
		for _, n := range level {
			next = append(next, w.expand(n)...)
		}
		level = next
	}
}

// fetch looks up and parses one node's record.
func (w *walker) fetch(n *Node) {
	st := n.st
	if !validDomain(n.Domain) {
		st.invalid = true
		return
	}
	if n.Via == "root" && w.rootRecord != nil {
		st.spf, st.sel = []string{*w.rootRecord}, ""
	} else {
		st.spf, st.ans, st.sel, st.err = Lookup(w.ctx, w.a.Resolver, n.Domain)
	}
	if st.err == nil && st.sel == "" {
		n.Record = st.spf[0]
		n.rec, st.perr = parseShared(st.spf[0])
	}
}

// expand creates the children of a fetched node (its static include and
// redirect targets) and returns those to fetch.
func (w *walker) expand(n *Node) []*Node {
	if n.rec == nil {
		return nil
	}
	st := n.st
	st.children = map[int]*Node{}
	var fetch []*Node
	all := n.rec.All()
	for i := range n.rec.Terms {
		t := &n.rec.Terms[i]
		var via string
		passChain, final := n.passChain, false
		switch {
		case t.Kind == Include:
			via, passChain = "include", passChain && t.Qualifier == QPass
		case t.Kind == Redirect && all == nil:
			via, final = "redirect", st.final
		default:
			continue
		}
		if dynamicLetters(t.Domain) != "" {
			c := newNode(t.Domain.Raw, via, t.Text, passChain)
			c.Status = "dynamic"
			st.children[i] = c
			continue
		}
		target := staticTarget(t.Domain, n.Domain)
		c := newNode(target, via, t.Text, passChain)
		st.children[i] = c
		if st.ancestors[target] {
			c.Status = "loop"
			continue
		}
		w.nodes++
		if w.nodes > w.maxNodes || st.depth+1 > w.maxDepth {
			c.Status = "truncated"
			w.out.Truncated = true
			continue
		}
		anc := make(map[string]bool, len(st.ancestors)+1)
		for k := range st.ancestors {
			anc[k] = true
		}
		anc[target] = true
		c.st = &nodeState{depth: st.depth + 1, ancestors: anc, final: final}
		fetch = append(fetch, c)
	}
	return fetch
}

// probeKey names a term of the tree.
type probeKey struct {
	n *Node
	i int
}

// probeTree looks up the targets of the a, mx and exists terms a receiver
// can reach: those among the first DefaultMaxLookups DNS-querying terms in
// evaluation order (a receiver stops with permerror at the next one).
// Terms past them are not looked up, so a record of 500 a: terms costs 10
// probes, not 1000 questions.
func (w *walker) probeTree(root *Node) map[probeKey]*probeResult {
	var keys []probeKey
	pos := 0
	var walk func(n *Node)
	walk = func(n *Node) {
		if n.rec == nil || n.st == nil {
			return
		}
		visit := func(i int) {
			t := &n.rec.Terms[i]
			pos++
			switch t.Kind {
			case Include, Redirect:
				if c := n.st.children[i]; c != nil {
					walk(c)
				}
			case A, MX, Exists:
				if pos <= DefaultMaxLookups && dynamicLetters(t.Domain) == "" {
					keys = append(keys, probeKey{n, i})
				}
			}
		}
		for i := range n.rec.Terms {
			if t := &n.rec.Terms[i]; t.Kind.IsMechanism() && t.Kind.QueriesDNS() {
				visit(i)
			}
		}
		if r := n.rec.Redirect; r != nil && n.rec.All() == nil {
			visit(r.Index - 1)
		}
	}
	walk(root)
	out := make(map[probeKey]*probeResult, len(keys))
	res := make([]*probeResult, len(keys))
	w.run(len(keys), func(i int) {
		k := keys[i]
		res[i] = w.probe(&k.n.rec.Terms[k.i], k.n.Domain)
	})
	for i, k := range keys {
		out[k] = res[i]
	}
	return out
}

// probe looks up the target of an a, mx or exists term to find void
// answers and count MX names.
func (w *walker) probe(t *Term, cur string) *probeResult {
	p := &probeResult{done: true, target: cur}
	if t.Domain != nil {
		p.target = staticTarget(t.Domain, cur)
	}
	fq := dns.Fqdn(p.target)
	switch t.Kind {
	case A:
		r := resolve.Addrs(w.ctx, w.a.Resolver, fq)
		if r.Err != nil {
			p.err, p.what = r.Err, "the addresses of "+p.target
			return p
		}
		p.v4, p.v6 = len(r.A.Of(dns.TypeA)) == 0, len(r.AAAA.Of(dns.TypeAAAA)) == 0
		p.noAddr, p.nx = p.v4 && p.v6, r.NXDomain()
	case MX:
		mxs, ans, err := resolve.MX(w.ctx, w.a.Resolver, fq)
		if err != nil {
			p.err, p.what = err, "the MX records of "+p.target
			return p
		}
		p.mxs, p.nx = mxs, ans.NXDomain()
		p.null = len(mxs) > 0
		for _, mx := range mxs {
			p.null = p.null && mx.Mx == "."
		}
		p.v4, p.v6 = len(mxs) == 0, len(mxs) == 0
	case Exists:
		a, err := w.a.Resolver.Query(w.ctx, fq, dns.TypeA)
		if err != nil {
			p.err, p.what = err, p.target
			return p
		}
		p.v4 = len(a.Of(dns.TypeA)) == 0
		p.v6 = p.v4
	}
	return p
}

// issue records an issue that has no evidence or flags.
func (w *walker) issue(k IssueKind, domain, term, format string, args ...any) {
	w.add(Issue{Kind: k, Domain: domain, Term: term, Msg: fmt.Sprintf(format, args...)})
}

// add records an issue, built whole by the caller.
func (w *walker) add(is Issue) {
	w.out.Issues = append(w.out.Issues, is)
}

// report walks the fetched tree in record order, fills in the per-term
// reports and counts, and records the issues. Its phases: the outcome of
// the record's lookup (reportLookup), each term (reportTerm), then the
// record as a whole.
func (w *walker) report(n *Node, probes map[probeKey]*probeResult) {
	switch n.Status {
	case "loop", "dynamic", "truncated": // reported by child
		return
	}
	if !w.reportLookup(n) {
		return
	}
	rec, domain := n.rec, n.Domain
	for i := range rec.Terms {
		tr := w.reportTerm(n, i, probes)
		n.Lookups += tr.Lookups
		n.Terms = append(n.Terms, tr)
	}
	w.checkExp(n)
	if rec.All() == nil && rec.Redirect == nil && n.st.final {
		w.issue(IssueAllNeutral, domain, "", "the record of %s has no all mechanism and no redirect: unlisted hosts get neutral (RFC 7208 §4.7), which receivers treat like no SPF", domain)
	}
	n.Total = n.Lookups
	for _, c := range n.Nodes {
		n.Total += c.Total
	}
}

// reportLookup is the phase for the outcome of a node's lookup: it sets
// the node's status and reports a record that cannot be evaluated (no
// valid name, failed lookup, none, several, a syntax error). It reports
// whether the node has one parsed record whose terms are to be walked.
func (w *walker) reportLookup(n *Node) bool {
	st := n.st
	switch {
	case st.invalid:
		n.Status, n.Error = "none", "not a valid domain name"
		w.issue(IssueIncludeMissing, n.Domain, n.Term, "%s target %q is not a valid domain name (RFC 7208 §4.3): evaluating it gives permerror", n.Via, n.Domain)
		return false
	case st.err != nil:
		n.Status, n.Error = "temperror", st.err.Error()
		w.issue(IssueTempError, n.Domain, n.Term, "could not look up the SPF record of %s: %v", n.Domain, st.err)
		return false
	case st.sel == None:
		w.reportNone(n)
		return false
	}
	if n.Via == "root" {
		w.out.Records = st.spf
	}
	if st.sel == PermError {
		n.Status = "multiple"
		recs := make([]string, len(st.spf))
		for i, s := range st.spf {
			recs[i] = fmt.Sprintf("%s. IN TXT %q", n.Domain, s)
		}
		w.add(Issue{Kind: IssueMultiple, Domain: n.Domain, Term: n.Term, Records: recs,
			Msg: fmt.Sprintf("%s publishes %d SPF records; exactly one is allowed, so every evaluation ends in permerror", n.Domain, len(st.spf))})
		w.checkSize(n)
		return false
	}
	w.checkSize(n)
	if st.perr != nil {
		n.Status, n.Error = "syntax", st.perr.Error()
		w.add(Issue{Kind: IssueSyntax, Domain: n.Domain, Term: n.Term, Records: []string{fmt.Sprintf("%s. IN TXT %q", n.Domain, st.spf[0])},
			Msg: fmt.Sprintf("the SPF record of %s is invalid: %v; every evaluation ends in permerror", n.Domain, st.perr)})
		return false
	}
	return true
}

// reportNone reports a node without an SPF record.
func (w *walker) reportNone(n *Node) {
	st := n.st
	n.Status = "none"
	why := "no TXT record starts with \"v=spf1\""
	if st.ans.NXDomain() {
		why = "the domain does not exist"
	}
	n.Error = why
	is := Issue{Kind: IssueIncludeMissing, Domain: n.Domain, Term: n.Term, Records: st.ans.Strings(dns.TypeTXT),
		Msg: fmt.Sprintf("%s target %s has no SPF record (%s): evaluating it gives permerror", n.Via, n.Domain, why)}
	if n.Via == "root" {
		is.Kind, is.Term, is.Msg = IssueMissing, "", fmt.Sprintf("%s publishes no SPF record (%s)", n.Domain, why)
	}
	w.add(is)
}

// reportTerm is the phase for the i-th term of a node's record: it
// returns the term's report and records its issues.
func (w *walker) reportTerm(n *Node, i int, probes map[probeKey]*probeResult) TermReport {
	t := &n.rec.Terms[i]
	tr := TermReport{Text: t.Text}
	switch t.Kind {
	case All:
		w.reportAll(n, t)
	case Redirect:
		if all := n.rec.All(); all != nil {
			tr.Note = "ignored: the record has an all mechanism"
			w.issue(IssueRedirectIgnored, n.Domain, t.Text, "%q is ignored because the record of %s also has %q (RFC 7208 §6.1)", t.Text, n.Domain, all.Text)
			break
		}
		tr.Lookups = 1
		w.child(n, i, t, &tr, probes)
	case Include:
		tr.Lookups = 1
		w.child(n, i, t, &tr, probes)
	case A, MX, Exists, PTR:
		tr.Lookups = 1
		w.reportQuery(n, t, &tr, probes[probeKey{n, i}])
	}
	return tr
}

// reportAll reports an all mechanism that lets every host pass, or that
// leaves unlisted hosts neutral.
func (w *walker) reportAll(n *Node, t *Term) {
	domain, st := n.Domain, n.st
	switch {
	case t.Qualifier == QPass && n.passChain && st.final:
		w.issue(IssueAllPass, domain, t.Text, "%q in the record of %s authorizes every host on the Internet to send as %s", t.Text, domain, w.out.Domain)
	case t.Qualifier == QPass && n.passChain:
		w.add(Issue{Kind: IssueAllPass, Domain: domain, Term: t.Text, Included: true,
			Msg: fmt.Sprintf("%s ends in %q and is included by the tree of %s: the include matches every host, so every host on the Internet passes", domain, t.Text, w.out.Domain)})
	case t.Qualifier == QNeutral && st.final:
		w.issue(IssueAllNeutral, domain, t.Text, "%q in the record of %s makes no assertion about unlisted hosts: forged mail gets neutral, which receivers treat like no SPF", t.Text, domain)
	}
}

// reportQuery reports an a, mx, exists or ptr term: ptr is deprecated,
// a term that depends on the sender cannot be checked, and the others
// are judged on their probe.
func (w *walker) reportQuery(n *Node, t *Term, tr *TermReport, p *probeResult) {
	if t.Kind == PTR {
		w.issue(IssuePTR, n.Domain, t.Text, "%q in the record of %s: the ptr mechanism is slow, unreliable and deprecated (RFC 7208 §5.5); many receivers skip it", t.Text, n.Domain)
	}
	if dyn := dynamicLetters(t.Domain); dyn != "" {
		tr.Dynamic = true
		w.issue(IssueMacroUnknowable, n.Domain, t.Text, "%q depends on the sender (%s): its lookups cannot be checked in advance", t.Text, describeLetters(dyn))
		return
	}
	if t.Kind != PTR {
		w.probeReport(n, t, tr, p)
	}
}

// child reports an include or redirect target.
func (w *walker) child(n *Node, i int, t *Term, tr *TermReport, probes map[probeKey]*probeResult) {
	c := n.st.children[i]
	if c == nil {
		return
	}
	n.Nodes = append(n.Nodes, c)
	switch c.Status {
	case "dynamic":
		tr.Dynamic = true
		w.issue(IssueMacroUnknowable, n.Domain, t.Text, "%q depends on the sender (%s): the record it leads to, and its lookups, cannot be checked in advance", t.Text, describeLetters(dynamicLetters(t.Domain)))
	case "loop":
		w.issue(IssueLoop, c.Domain, t.Text, "%q in the record of %s leads back to %s, which is already being evaluated: check_host() ends in permerror once the lookup limit is hit", t.Text, n.Domain, c.Domain)
	default:
		w.report(c, probes)
	}
}

// probeReport turns a probe into the term's report and issues.
func (w *walker) probeReport(n *Node, t *Term, tr *TermReport, p *probeResult) {
	if p == nil {
		tr.Note = fmt.Sprintf("not looked up: beyond the %dth DNS-querying term, where receivers stop", DefaultMaxLookups)
		return
	}
	if p.err != nil {
		w.issue(IssueTempError, n.Domain, t.Text, "could not look up %s for %q: %v", p.what, t.Text, p.err)
		return
	}
	switch t.Kind {
	case A:
		if p.noAddr {
			tr.Note = fmt.Sprintf("%s has no address", p.target)
			w.matchesNothing(n, t, p, "has no A or AAAA record")
		}
	case MX:
		tr.Names = len(p.mxs)
		if len(p.mxs) == 0 {
			tr.Note = fmt.Sprintf("%s has no MX record", p.target)
			w.matchesNothing(n, t, p, "has no MX record")
		} else if p.null {
			tr.Note = fmt.Sprintf("%s publishes a null MX", p.target)
			w.matchesNothing(n, t, p, "publishes only a null MX (\"0 .\", RFC 7505)")
		}
		if len(p.mxs) > MaxNamesPerLookup {
			var recs []string
			for _, mx := range p.mxs {
				recs = append(recs, mx.String())
			}
			w.add(Issue{Kind: IssueMXLimit, Domain: n.Domain, Term: t.Text, Records: recs,
				Msg: fmt.Sprintf("%q: %s has %d MX names; the mx mechanism may look at no more than %d, so it gives permerror (RFC 7208 §4.6.4)", t.Text, p.target, len(p.mxs), MaxNamesPerLookup)})
		}
	}
	switch {
	case p.v4 && p.v6:
		tr.Void = "both"
	case p.v4:
		tr.Void = "ipv4"
	case p.v6:
		tr.Void = "ipv6"
	}
	if p.v4 || p.v6 {
		n.Void++
	}
}

// matchesNothing reports an a or mx term that can never match (RFC 7208
// §4.6.4): its lookup is void and only costs the sender a lookup.
func (w *walker) matchesNothing(n *Node, t *Term, p *probeResult, why string) {
	if p.nx {
		why = "does not exist (NXDOMAIN)"
	}
	cost := "only costs a DNS lookup and counts as a void lookup (RFC 7208 §4.6.4)"
	if p.null {
		cost = "only costs DNS lookups (RFC 7208 §4.6.4)"
	}
	w.issue(IssueMatchesNothing, n.Domain, t.Text, "%q in the record of %s matches no sender: %s %s, so the term %s", t.Text, n.Domain, p.target, why, cost)
}

// checkSize reports a TXT answer over MaxAnswerOctets (RFC 7208 §3.4):
// the name plus the text of all its TXT records.
func (w *walker) checkSize(n *Node) {
	st := n.st
	size := len(n.Domain)
	var texts []string
	if st.ans != nil {
		for _, rr := range st.ans.Of(dns.TypeTXT) {
			t := strings.Join(rr.(*dns.TXT).Txt, "")
			size += len(t)
			texts = append(texts, t)
		}
	} else {
		size += len(n.Record)
	}
	if size <= MaxAnswerOctets {
		return
	}
	w.add(Issue{Kind: IssueTooLong, Domain: n.Domain, Included: n.Via == "include", Records: st.ans.Strings(dns.TypeTXT),
		Msg: fmt.Sprintf("the name %s and its TXT records total %d octets, over the %d RFC 7208 §3.4 advises: the answer may not fit in a 512-octet UDP packet, so receivers must retry over TCP, and those that cannot get temperror", n.Domain, size, MaxAnswerOctets)})
}

// checkExp looks up the exp= target of a record whose explanation
// receivers use (RFC 7208 §6.2): it must hold exactly one TXT record
// that is a valid explain-string, or receivers ignore the modifier.
func (w *walker) checkExp(n *Node) {
	t := n.rec.Exp
	if t == nil || !n.st.final || dynamicLetters(t.Domain) != "" {
		return
	}
	target := staticTarget(t.Domain, n.Domain)
	if !validDomain(target) {
		w.issue(IssueExpUnusable, n.Domain, t.Text, "%q: %q is not a valid domain name, so receivers ignore exp= and give their default explanation (RFC 7208 §6.2)", t.Text, target)
		return
	}
	txts, ans, err := resolve.TXT(w.ctx, w.a.Resolver, dns.Fqdn(target))
	if err != nil {
		w.issue(IssueTempError, n.Domain, t.Text, "could not look up the explanation %s for %q: %v", target, t.Text, err)
		return
	}
	var why string
	switch {
	case len(txts) == 0:
		why = "there is no TXT record there (" + resolve.Describe(ans, nil) + ")"
	case len(txts) > 1:
		why = fmt.Sprintf("there are %d TXT records there and exactly one is needed", len(txts))
	default:
		if _, perr := parseExplainString(txts[0]); perr != nil {
			why = fmt.Sprintf("the TXT record there is not a valid explanation: %v", perr)
		}
	}
	if why != "" {
		w.add(Issue{Kind: IssueExpUnusable, Domain: n.Domain, Term: t.Text, Records: ans.Strings(dns.TypeTXT),
			Msg: fmt.Sprintf("%q in the record of %s: %s, so receivers ignore exp= and give their default explanation to rejected senders (RFC 7208 §6.2)", t.Text, n.Domain, why)})
	}
}

// staticTarget expands a domain-spec whose only macro is %{d}.
func staticTarget(m *MacroString, cur string) string {
	out, err := m.expand(&macroEnv{cur: cur})
	if err != nil {
		return m.Raw
	}
	return strings.ToLower(truncateName(out))
}

// dynamicLetters returns the macro letters of m other than d.
func dynamicLetters(m *MacroString) string {
	return strings.ReplaceAll(m.Letters(), "d", "")
}

func describeLetters(ls string) string {
	names := map[byte]string{'s': "%{s} sender", 'l': "%{l} local-part", 'o': "%{o} sender domain", 'i': "%{i} client IP",
		'p': "%{p} client host name", 'v': "%{v} IP version", 'h': "%{h} HELO name"}
	var out []string
	for i := 0; i < len(ls); i++ {
		out = append(out, names[ls[i]])
	}
	return strings.Join(out, ", ")
}

// event is a term in evaluation order, for the void-lookup analysis.
type event struct {
	term       string
	domain     string
	void4      bool
	void6      bool
	passCapble bool
}

// events lists the terms of n's tree in evaluation order: mechanisms in
// record order with includes expanded in place, then the redirect target.
func (w *walker) events(n *Node, out []event) []event {
	if n.rec == nil || n.st == nil || len(n.Terms) != len(n.rec.Terms) {
		return out
	}
	for i := range n.rec.Terms {
		t := &n.rec.Terms[i]
		tr := n.Terms[i]
		switch t.Kind {
		case Include:
			if c := n.st.children[i]; c != nil {
				out = w.events(c, out)
			}
		case A, MX, Exists, PTR, IP4, IP6, All:
			ev := event{term: t.Text, domain: n.Domain, void4: tr.Void == "both" || tr.Void == "ipv4", void6: tr.Void == "both" || tr.Void == "ipv6"}
			ev.passCapble = n.passChain && t.Qualifier == QPass && t.Kind != All
			out = append(out, ev)
		}
	}
	if r := n.rec.Redirect; r != nil && n.rec.All() == nil {
		if c := n.st.children[r.Index-1]; c != nil {
			out = w.events(c, out)
		}
	}
	return out
}

// voids counts void lookups in evaluation order for each address family
// and decides whether the excess can hit authorized senders.
func (w *walker) voids() {
	evs := w.events(w.out.Root, nil)
	for fam := 0; fam < 2; fam++ {
		count, over := 0, -1
		var terms []string
		for i, ev := range evs {
			v := ev.void4
			if fam == 1 {
				v = ev.void6
			}
			if !v {
				continue
			}
			count++
			terms = append(terms, fmt.Sprintf("%s (in %s)", ev.term, ev.domain))
			if count > DefaultMaxVoidLookups && over < 0 {
				over = i
			}
		}
		w.out.VoidLookups = max(w.out.VoidLookups, count)
		if over < 0 {
			continue
		}
		already := false
		for _, is := range w.out.Issues {
			already = already || is.Kind == IssueTooManyVoid
		}
		if already {
			continue
		}
		severe := false
		for _, ev := range evs[over+1:] {
			severe = severe || ev.passCapble
		}
		famName := [2]string{"IPv4", "IPv6"}[fam]
		effect := "only senders no term authorizes reach the excess, and get permerror instead of fail"
		if severe {
			effect = "senders authorized by a later term get permerror instead of pass"
		}
		w.add(Issue{Kind: IssueTooManyVoid, Domain: w.out.Domain, Severe: severe, IPv6Only: fam == 1,
			Msg: fmt.Sprintf("%d lookups of the tree find nothing for %s senders (limit %d): %s; %s", count, famName, DefaultMaxVoidLookups, strings.Join(terms, ", "), effect)})
	}
}

// TreeLines renders the tree for a text report, one line per record.
func (an *Analysis) TreeLines() []string {
	var out []string
	var walk func(n *Node, prefix string, last bool, root bool)
	walk = func(n *Node, prefix string, last bool, root bool) {
		line := ""
		childPrefix := prefix
		if !root {
			branch := "├─ "
			childPrefix += "│  "
			if last {
				branch = "└─ "
				childPrefix = prefix + "   "
			}
			line = prefix + branch + n.Term + " → "
		}
		line += n.Domain
		switch n.Status {
		case "ok":
			var terms []string
			for _, t := range n.Terms {
				if t.Lookups == 0 {
					continue
				}
				desc := t.Text
				if t.Names > 0 {
					desc += fmt.Sprintf(" (%d MX name%s)", t.Names, plural(t.Names))
				}
				if t.Void != "" {
					desc += " (void for " + t.Void + ")"
				}
				terms = append(terms, desc)
			}
			line += fmt.Sprintf(" [%d lookup%s", n.Lookups, plural(n.Lookups))
			if len(terms) > 0 {
				line += ": " + strings.Join(terms, ", ")
			}
			if len(n.Nodes) > 0 {
				line += fmt.Sprintf("; %d with children", n.Total)
			}
			line += "]"
		default:
			line += " [" + n.Status
			if n.Error != "" {
				line += ": " + shorten(n.Error, 100)
			}
			line += "]"
		}
		out = append(out, line)
		for i, c := range n.Nodes {
			walk(c, childPrefix, i == len(n.Nodes)-1, false)
		}
	}
	if an.Root != nil {
		walk(an.Root, "", true, true)
	}
	return out
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
