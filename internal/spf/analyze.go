package spf

import (
	"context"
	"fmt"
	"strings"

	"github.com/miekg/dns"

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
)

// Issue is one problem found in the tree.
type Issue struct {
	Kind   IssueKind `json:"kind"`
	Domain string    `json:"domain"`         // the record's domain
	Term   string    `json:"term,omitempty"` // the term concerned
	Msg    string    `json:"message"`
	// Severe is set on too-many-void when senders the domain authorizes can
	// hit the limit (a pass-capable term comes after the excess).
	Severe  bool     `json:"severe,omitempty"`
	Records []string `json:"records,omitempty"` // evidence
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
}

type walker struct {
	a                  *Analyzer
	ctx                context.Context
	out                *Analysis
	nodes              int
	maxNodes, maxDepth int
}

// Analyze fetches and analyses domain's SPF record and everything it
// includes or redirects to.
func (an *Analyzer) Analyze(ctx context.Context, domain string) *Analysis {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	w := &walker{a: an, ctx: ctx, out: &Analysis{Domain: domain, Issues: []Issue{}}, maxNodes: an.MaxNodes, maxDepth: an.MaxDepth}
	if w.maxNodes <= 0 {
		w.maxNodes = 100
	}
	if w.maxDepth <= 0 {
		w.maxDepth = 12
	}
	w.out.Root = w.node(domain, "root", "", 0, map[string]bool{}, true)
	w.out.TotalLookups = w.out.Root.Total
	w.voids()
	return w.out
}

func (w *walker) issue(k IssueKind, domain, term, format string, args ...any) *Issue {
	w.out.Issues = append(w.out.Issues, Issue{Kind: k, Domain: domain, Term: term, Msg: fmt.Sprintf(format, args...)})
	return &w.out.Issues[len(w.out.Issues)-1]
}

func (w *walker) node(domain, via, term string, depth int, path map[string]bool, passChain bool) *Node {
	n := &Node{Domain: domain, Via: via, Term: term, Status: "ok", Terms: []TermReport{}, Nodes: []*Node{}, passChain: passChain}
	if path[domain] {
		n.Status = "loop"
		w.issue(IssueLoop, domain, term, "%s %s leads back to %s, which is already being evaluated: check_host() ends in permerror once the lookup limit is hit", via, domain, domain)
		return n
	}
	w.nodes++
	if w.nodes > w.maxNodes || depth > w.maxDepth {
		n.Status = "truncated"
		w.out.Truncated = true
		return n
	}
	spf, ans, sel, err := Lookup(w.ctx, w.a.Resolver, domain)
	switch {
	case err != nil:
		n.Status, n.Error = "temperror", err.Error()
		w.issue(IssueTempError, domain, term, "could not look up the SPF record of %s: %v", domain, err)
		return n
	case sel == None:
		n.Status = "none"
		why := "no SPF record"
		if ans.NXDomain() {
			why = "the domain does not exist"
		}
		n.Error = why
		if via == "root" {
			w.issue(IssueMissing, domain, "", "%s publishes no SPF record (%s)", domain, why).Records = ans.Strings(dns.TypeTXT)
		} else {
			w.issue(IssueIncludeMissing, domain, term, "%s target %s has no SPF record (%s): evaluating it gives permerror", via, domain, why).Records = ans.Strings(dns.TypeTXT)
		}
		return n
	case sel == PermError:
		n.Status = "multiple"
		if via == "root" {
			w.out.Records = spf
		}
		w.issue(IssueMultiple, domain, term, "%s publishes %d SPF records; exactly one is allowed, so every evaluation ends in permerror", domain, len(spf)).Records = quoteAll(spf)
		return n
	}
	n.Record = spf[0]
	if via == "root" {
		w.out.Records = spf
	}
	rec, perr := Parse(spf[0])
	if perr != nil {
		n.Status, n.Error = "syntax", perr.Error()
		w.issue(IssueSyntax, domain, term, "the SPF record of %s is invalid: %v; every evaluation ends in permerror", domain, perr).Records = []string{fmt.Sprintf("%s TXT %q", domain, spf[0])}
		return n
	}
	n.rec = rec
	path[domain] = true
	defer delete(path, domain)

	all := rec.All()
	for i := range rec.Terms {
		t := &rec.Terms[i]
		tr := TermReport{Text: t.Text}
		switch t.Kind {
		case IP4, IP6, UnknownModifier, Exp:
		case All:
			if passChain {
				switch t.Qualifier {
				case QPass:
					w.issue(IssueAllPass, domain, t.Text, "%q in the record of %s authorizes every host on the Internet to send as this domain", t.Text, domain)
				case QNeutral:
					w.issue(IssueAllNeutral, domain, t.Text, "%q in the record of %s makes no assertion about unlisted hosts: forged mail gets neutral, which receivers treat like no SPF", t.Text, domain)
				}
			} else if t.Qualifier == QPass {
				w.issue(IssueAllPass, domain, t.Text, "%s ends in %q and is included: the include matches every host, so every host passes", domain, t.Text)
			}
		case Redirect:
			if all != nil {
				tr.Note = "ignored: the record has an all mechanism"
				w.issue(IssueRedirectIgnored, domain, t.Text, "%q is ignored because the record of %s also has %q (RFC 7208 §6.1)", t.Text, domain, all.Text)
				break
			}
			tr.Lookups = 1
			w.follow(n, t, &tr, "redirect", depth, path, passChain)
		case Include:
			tr.Lookups = 1
			w.follow(n, t, &tr, "include", depth, path, passChain && t.Qualifier == QPass)
		case A, MX, Exists, PTR:
			tr.Lookups = 1
			if t.Kind == PTR {
				w.issue(IssuePTR, domain, t.Text, "%q in the record of %s: the ptr mechanism is slow, unreliable and deprecated (RFC 7208 §5.5); many receivers skip it", t.Text, domain)
			}
			if dyn := dynamicLetters(t.Domain); dyn != "" {
				tr.Dynamic = true
				w.issue(IssueMacroUnknowable, domain, t.Text, "%q depends on the sender (%s): its lookups cannot be checked in advance", t.Text, describeLetters(dyn))
				break
			}
			if t.Kind != PTR {
				w.probe(n, t, &tr, domain)
			}
		}
		n.Lookups += tr.Lookups
		n.Terms = append(n.Terms, tr)
	}
	if all == nil && rec.Redirect == nil && passChain {
		w.issue(IssueAllNeutral, domain, "", "the record of %s has no all mechanism and no redirect: unlisted hosts get neutral (RFC 7208 §4.7), which receivers treat like no SPF", domain)
	}
	n.Total = n.Lookups
	for _, c := range n.Nodes {
		n.Total += c.Total
	}
	return n
}

// follow analyses an include or redirect target.
func (w *walker) follow(n *Node, t *Term, tr *TermReport, via string, depth int, path map[string]bool, passChain bool) {
	if dyn := dynamicLetters(t.Domain); dyn != "" {
		tr.Dynamic = true
		w.issue(IssueMacroUnknowable, n.Domain, t.Text, "%q depends on the sender (%s): the record it leads to, and its lookups, cannot be checked in advance", t.Text, describeLetters(dyn))
		n.Nodes = append(n.Nodes, &Node{Domain: t.Domain.Raw, Via: via, Term: t.Text, Status: "dynamic", Terms: []TermReport{}, Nodes: []*Node{}})
		return
	}
	target := staticTarget(t.Domain, n.Domain)
	n.Nodes = append(n.Nodes, w.node(target, via, t.Text, depth+1, path, passChain))
}

// probe looks up the target of an a, mx or exists term to count voids
// and MX names.
func (w *walker) probe(n *Node, t *Term, tr *TermReport, cur string) {
	target := cur
	if t.Domain != nil {
		target = staticTarget(t.Domain, cur)
	}
	var v4, v6 bool
	switch t.Kind {
	case A:
		a4, err4 := w.a.Resolver.Query(w.ctx, dns.Fqdn(target), dns.TypeA)
		a6, err6 := w.a.Resolver.Query(w.ctx, dns.Fqdn(target), dns.TypeAAAA)
		if err4 != nil || err6 != nil {
			err := err4
			if err == nil {
				err = err6
			}
			w.issue(IssueTempError, n.Domain, t.Text, "could not look up the addresses of %s for %q: %v", target, t.Text, err)
			return
		}
		v4, v6 = len(a4.Of(dns.TypeA)) == 0, len(a6.Of(dns.TypeAAAA)) == 0
		if v4 && v6 {
			tr.Note = fmt.Sprintf("%s has no address", target)
		}
	case MX:
		mxs, _, err := resolve.MX(w.ctx, w.a.Resolver, dns.Fqdn(target))
		if err != nil {
			w.issue(IssueTempError, n.Domain, t.Text, "could not look up the MX records of %s for %q: %v", target, t.Text, err)
			return
		}
		tr.Names = len(mxs)
		v4, v6 = len(mxs) == 0, len(mxs) == 0
		if len(mxs) == 0 {
			tr.Note = fmt.Sprintf("%s has no MX record", target)
		}
		if len(mxs) > MaxNamesPerLookup {
			var recs []string
			for _, mx := range mxs {
				recs = append(recs, mx.String())
			}
			w.issue(IssueMXLimit, n.Domain, t.Text, "%q: %s has %d MX names; the mx mechanism may look at no more than %d, so it gives permerror (RFC 7208 §4.6.4)", t.Text, target, len(mxs), MaxNamesPerLookup).Records = recs
		}
	case Exists:
		a, err := w.a.Resolver.Query(w.ctx, dns.Fqdn(target), dns.TypeA)
		if err != nil {
			w.issue(IssueTempError, n.Domain, t.Text, "could not look up %s for %q: %v", target, t.Text, err)
			return
		}
		v4 = len(a.Of(dns.TypeA)) == 0
		v6 = v4
	}
	switch {
	case v4 && v6:
		tr.Void = "both"
	case v4:
		tr.Void = "ipv4"
	case v6:
		tr.Void = "ipv6"
	}
	if v4 || v6 {
		n.Void++
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

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// event is a term in evaluation order, for the void-lookup analysis.
type event struct {
	term       string
	domain     string
	void4      bool
	void6      bool
	passCapble bool
}

func (w *walker) events(n *Node, out []event) []event {
	if n.rec == nil {
		return out
	}
	child := 0
	for i := range n.rec.Terms {
		t := &n.rec.Terms[i]
		tr := n.Terms[i]
		switch t.Kind {
		case Include:
			if child < len(n.Nodes) {
				out = w.events(n.Nodes[child], out)
				child++
			}
		case Redirect:
			if tr.Lookups > 0 && child < len(n.Nodes) {
				out = w.events(n.Nodes[child], out)
				child++
			}
		case A, MX, Exists, PTR, IP4, IP6, All:
			ev := event{term: t.Text, domain: n.Domain, void4: tr.Void == "both" || tr.Void == "ipv4", void6: tr.Void == "both" || tr.Void == "ipv6"}
			ev.passCapble = n.passChain && t.Qualifier == QPass && t.Kind != All
			out = append(out, ev)
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
		is := w.issue(IssueTooManyVoid, w.out.Domain, "", "%d lookups of the tree find nothing for %s senders (limit %d): %s", count, famName, DefaultMaxVoidLookups, strings.Join(terms, ", "))
		is.Severe = severe
		if severe {
			is.Msg += "; senders authorized by a later term get permerror instead of pass"
		} else {
			is.Msg += "; only senders no term authorizes reach the excess, and get permerror instead of fail"
		}
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
