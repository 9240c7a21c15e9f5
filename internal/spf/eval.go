package spf

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/resolve"
)

// Result is a check_host() result (RFC 7208 §2.6), lower case as in the RFC.
type Result string

// The seven results of check_host().
const (
	None      Result = "none"      // no SPF record, or no valid domain to check
	Neutral   Result = "neutral"   // the domain makes no assertion about the IP
	Pass      Result = "pass"      // the IP is authorized
	Fail      Result = "fail"      // the IP is explicitly not authorized
	SoftFail  Result = "softfail"  // probably not authorized
	TempError Result = "temperror" // a transient DNS error: try later
	PermError Result = "permerror" // the record cannot be interpreted
)

// Limits of RFC 7208 §4.6.4.
const (
	DefaultMaxLookups     = 10 // DNS-querying terms per check_host() evaluation
	DefaultMaxVoidLookups = 2  // lookups answered NXDOMAIN or NODATA
	MaxNamesPerLookup     = 10 // names looked at per mx and ptr term
)

// DefaultExplanation is the explanation of a fail when the domain gives
// none of its own (a macro-string, expanded like an exp= text).
const DefaultExplanation = "%{d} does not designate %{c} as a permitted sender"

// Checker evaluates check_host() through a resolver. The zero value of
// every field but Resolver is usable.
type Checker struct {
	Resolver resolve.Resolver
	// DefaultExplanation replaces the package's DefaultExplanation
	// (a macro-string).
	DefaultExplanation string
	// Receiver is the receiving host's domain, for %{r} in explanations.
	Receiver string
	// Now is the clock of %{t}.
	Now func() time.Time
	// MaxLookups and MaxVoidLookups override the RFC limits when positive;
	// a negative MaxVoidLookups disables the void-lookup limit.
	MaxLookups     int
	MaxVoidLookups int
	// Trace records every term evaluated with its DNS queries in
	// Outcome.Trace.
	Trace bool
}

// Request is the input of one evaluation.
type Request struct {
	IP netip.Addr
	// Sender is the MAIL FROM address. When empty, the HELO identity is
	// checked with sender postmaster@Helo (RFC 7208 §2.4).
	Sender string
	Helo   string
}

// Outcome is the result of one evaluation.
type Outcome struct {
	Result      Result `json:"result"`
	Explanation string `json:"explanation,omitempty"` // for fail
	// Reason says why: the matching term, or what made it an error.
	Reason      string `json:"reason"`
	Domain      string `json:"domain"` // the domain checked
	Sender      string `json:"sender"`
	IP          string `json:"ip"`
	Lookups     int    `json:"lookups"`      // DNS-querying terms evaluated
	VoidLookups int    `json:"void_lookups"` // of which answered NXDOMAIN/NODATA
	Trace       []Step `json:"trace,omitempty"`
}

// Step is one line of a trace: a record fetched or a term evaluated.
type Step struct {
	Depth   int     `json:"depth"`  // 0 for the checked domain, +1 per include/redirect
	Domain  string  `json:"domain"` // the domain whose record holds the term
	Term    string  `json:"term"`   // empty for the record lookup
	Queries []Query `json:"queries"`
	Result  string  `json:"result"` // what the step concluded
}

// Query is one DNS question asked during evaluation.
type Query struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Answer string `json:"answer"`
}

func (q Query) String() string { return fmt.Sprintf("%s %s → %s", q.Type, q.Name, q.Answer) }

// evalError carries a permerror or temperror out of the evaluation.
type evalError struct {
	res Result
	msg string
}

func (e *evalError) Error() string { return e.msg }

func permErr(format string, args ...any) *evalError {
	return &evalError{PermError, fmt.Sprintf(format, args...)}
}

type state struct {
	c        *Checker
	ctx      context.Context
	ip       netip.Addr
	sender   string
	local    string
	domain   string
	helo     string
	lookups  int
	voids    int
	maxLook  int
	maxVoid  int
	trace    []Step
	cur      int      // index of the current trace step, -1 without trace
	ptrValid []string // validated PTR names of the client, once looked up
}

// CheckHost runs check_host() for req (RFC 7208 §4).
func (c *Checker) CheckHost(ctx context.Context, req Request) *Outcome {
	s := &state{c: c, ctx: ctx, ip: req.IP.Unmap(), helo: strings.TrimSuffix(req.Helo, "."), cur: -1,
		maxLook: DefaultMaxLookups, maxVoid: DefaultMaxVoidLookups}
	if c.MaxLookups > 0 {
		s.maxLook = c.MaxLookups
	}
	if c.MaxVoidLookups != 0 {
		s.maxVoid = c.MaxVoidLookups
	}
	sender := req.Sender
	if sender == "" {
		sender = "postmaster@" + s.helo
	}
	if i := strings.LastIndexByte(sender, '@'); i >= 0 {
		s.local, s.domain = sender[:i], sender[i+1:]
	} else {
		s.domain = sender
	}
	if s.local == "" {
		s.local = defaultLocal
	}
	s.domain = strings.TrimSuffix(s.domain, ".")
	s.sender = s.local + "@" + s.domain
	out := &Outcome{Domain: s.domain, Sender: s.sender, IP: s.ip.String()}
	if !s.ip.IsValid() {
		out.Result, out.Reason = PermError, "no valid client IP address"
		return out
	}
	res, expl, reason := s.checkHost(s.domain, 0, true)
	out.Result, out.Explanation, out.Reason = res, expl, reason
	out.Lookups, out.VoidLookups = s.lookups, s.voids
	out.Trace = s.trace
	return out
}

// validDomain applies RFC 7208 §4.3: a multi-label name with no empty or
// over-long label, at most 253 octets.
func validDomain(d string) bool {
	d = strings.TrimSuffix(d, ".")
	if d == "" || len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
	}
	return true
}

func (s *state) step(depth int, domain, term string) {
	if !s.c.Trace {
		return
	}
	s.trace = append(s.trace, Step{Depth: depth, Domain: domain, Term: term, Queries: []Query{}})
	s.cur = len(s.trace) - 1
}

func (s *state) conclude(idx int, format string, args ...any) {
	if idx >= 0 && idx < len(s.trace) {
		s.trace[idx].Result = fmt.Sprintf(format, args...)
	}
}

// query asks the resolver, recording the question in the trace.
func (s *state) query(name string, qtype uint16) (*resolve.Answer, error) {
	if err := s.ctx.Err(); err != nil {
		return nil, &resolve.QueryError{Name: name, Qtype: qtype, Kind: resolve.ErrTimeout, Detail: err.Error()}
	}
	var a *resolve.Answer
	var err error
	if queryable(strings.TrimSuffix(name, ".")) {
		a, err = s.c.Resolver.Query(s.ctx, dns.Fqdn(name), qtype)
	} else {
		a = &resolve.Answer{Name: name, Qtype: qtype, Rcode: dns.RcodeNameError, Server: "not a valid DNS name"}
	}
	if s.cur >= 0 {
		var ans string
		switch {
		case err != nil:
			ans = "error: " + err.Error()
		case a.NXDomain() && a.Server == "not a valid DNS name":
			ans = "not a valid DNS name: treated as NXDOMAIN"
		case a.NXDomain():
			ans = "NXDOMAIN"
		case len(a.Of(qtype)) == 0:
			ans = "no data"
		default:
			var vals []string
			for _, rr := range a.Of(qtype) {
				vals = append(vals, rdata(rr))
			}
			ans = strings.Join(vals, ", ")
		}
		s.trace[s.cur].Queries = append(s.trace[s.cur].Queries, Query{Name: strings.TrimSuffix(name, "."), Type: dns.TypeToString[qtype], Answer: ans})
	}
	return a, err
}

func rdata(rr dns.RR) string {
	switch v := rr.(type) {
	case *dns.A:
		return v.A.String()
	case *dns.AAAA:
		return v.AAAA.String()
	case *dns.MX:
		return fmt.Sprintf("%d %s", v.Preference, strings.TrimSuffix(v.Mx, "."))
	case *dns.PTR:
		return strings.TrimSuffix(v.Ptr, ".")
	case *dns.TXT:
		return fmt.Sprintf("%q", shorten(resolve.TXTData(v), 200))
	}
	return strings.TrimPrefix(rr.String(), rr.Header().String())
}

// Lookup fetches and selects the SPF record of domain (RFC 7208 §4.4,
// §4.5). It returns the records seen (all TXT strings that are SPF), the
// answer, and the result of selection: "" when exactly one record was
// found, None, PermError (several records) or TempError.
func Lookup(ctx context.Context, r resolve.Resolver, domain string) (spf []string, ans *resolve.Answer, res Result, err error) {
	txts, ans, err := resolve.TXT(ctx, r, dns.Fqdn(domain))
	if err != nil {
		return nil, ans, TempError, err
	}
	return selectRecords(txts, ans)
}

func selectRecords(txts []string, ans *resolve.Answer) ([]string, *resolve.Answer, Result, error) {
	var spf []string
	for _, t := range txts {
		if IsSPF(t) {
			spf = append(spf, t)
		}
	}
	switch {
	case ans.NXDomain():
		return nil, ans, None, nil
	case len(spf) == 0:
		return nil, ans, None, nil
	case len(spf) > 1:
		return spf, ans, PermError, nil
	}
	return spf, ans, "", nil
}

// checkHost evaluates domain's record. top is true for the evaluation
// whose fail carries an explanation (the checked domain and its redirect
// chain).
func (s *state) checkHost(domain string, depth int, top bool) (Result, string, string) {
	s.step(depth, domain, "")
	idx := s.cur
	if !validDomain(domain) {
		s.conclude(idx, "none: %q is not a valid domain name", domain)
		return None, "", fmt.Sprintf("%q is not a valid multi-label domain name (RFC 7208 §4.3)", domain)
	}
	spf, a, sel, err := Lookup(s.ctx, recorder{s}, domain)
	switch sel {
	case TempError:
		s.conclude(idx, "temperror")
		return TempError, "", fmt.Sprintf("looking up the SPF record of %s: %v", domain, err)
	case None:
		why := "no SPF record"
		if a.NXDomain() {
			why = "the domain does not exist"
		}
		s.conclude(idx, "none: %s", why)
		return None, "", fmt.Sprintf("%s has no SPF record (%s)", domain, why)
	case PermError:
		s.conclude(idx, "permerror: %d SPF records", len(spf))
		return PermError, "", fmt.Sprintf("%s has %d SPF records; exactly one is allowed (RFC 7208 §4.5)", domain, len(spf))
	}
	rec, err := parseShared(spf[0])
	if err != nil {
		s.conclude(idx, "permerror: %v", err)
		return PermError, "", fmt.Sprintf("syntax error in the SPF record of %s: %v", domain, err)
	}
	s.conclude(idx, "record %q", shorten(rec.Text, 200))
	res, expl, reason := s.evalRecord(rec, domain, depth, top)
	return res, expl, reason
}

func (s *state) evalRecord(rec *Record, domain string, depth int, top bool) (Result, string, string) {
	hasAll := rec.All() != nil
	for i := range rec.Terms {
		t := &rec.Terms[i]
		if !t.Kind.IsMechanism() {
			continue
		}
		s.step(depth, domain, t.Text)
		idx := s.cur
		match, err := s.mechanism(t, domain, depth)
		if err != nil {
			var ee *evalError
			if !errors.As(err, &ee) {
				ee = &evalError{TempError, err.Error()}
			}
			s.conclude(idx, "%s: %s", ee.res, ee.msg)
			return ee.res, "", fmt.Sprintf("%s, term %q: %s", domain, t.Text, ee.msg)
		}
		if !match {
			s.conclude(idx, "no match")
			continue
		}
		res := t.Qualifier.Result()
		s.conclude(idx, "match: %s", res)
		reason := fmt.Sprintf("matched %q in the record of %s", t.Text, domain)
		if res == Fail && top {
			return res, s.explanation(rec, domain, depth), reason
		}
		return res, "", reason
	}
	if rec.Redirect != nil && !hasAll {
		t := rec.Redirect
		s.step(depth, domain, t.Text)
		idx := s.cur
		if err := s.count(); err != nil {
			s.conclude(idx, "permerror: %s", err.msg)
			return PermError, "", fmt.Sprintf("%s, term %q: %s", domain, t.Text, err.msg)
		}
		target, err := s.target(t, domain)
		if err != nil {
			s.conclude(idx, "permerror: %s", err.msg)
			return PermError, "", fmt.Sprintf("%s, term %q: %s", domain, t.Text, err.msg)
		}
		s.conclude(idx, "redirect to %s", target)
		res, expl, reason := s.checkHost(target, depth+1, top)
		if res == None {
			return PermError, "", fmt.Sprintf("%s: redirect target %s has no SPF record (RFC 7208 §6.1)", domain, target)
		}
		return res, expl, reason
	}
	s.step(depth, domain, "(end)")
	s.conclude(s.cur, "no term matched: neutral")
	return Neutral, "", fmt.Sprintf("no term of the record of %s matched (default result)", domain)
}

// count takes one DNS-querying term off the budget.
func (s *state) count() *evalError {
	s.lookups++
	if s.lookups > s.maxLook {
		return permErr("more than %d DNS-querying terms (include, a, mx, ptr, exists, redirect) (RFC 7208 §4.6.4)", s.maxLook)
	}
	return nil
}

func (s *state) void() *evalError {
	s.voids++
	if s.maxVoid >= 0 && s.voids > s.maxVoid {
		return permErr("more than %d void lookups (answers with no records or NXDOMAIN) (RFC 7208 §4.6.4)", s.maxVoid)
	}
	return nil
}

func (s *state) macros(cur string) *macroEnv {
	e := &macroEnv{sender: s.sender, local: s.local, domain: s.domain, cur: cur, ip: s.ip, helo: s.helo, recv: s.c.Receiver}
	if s.c.Now != nil {
		e.now = s.c.Now().Unix()
	} else {
		e.now = time.Now().Unix()
	}
	e.ptr = func() string { return s.validatedPTR(cur) }
	return e
}

// target expands a term's domain-spec (or returns the current domain) and
// makes it a name that can be queried (RFC 7208 §7.3 truncation).
func (s *state) target(t *Term, cur string) (string, *evalError) {
	if t.Domain == nil {
		return cur, nil
	}
	name, err := t.Domain.expand(s.macros(cur))
	if err != nil {
		return "", permErr("%v", err)
	}
	// A name no DNS question can carry (empty or over-long label) is
	// treated as non-existent by query, as the suite prefers (RFC 7208
	// leaves it undefined).
	return truncateName(name), nil
}

// queryable reports whether name can be put in a DNS question: no empty
// label, none over 63 octets. Other syntax is not checked after macro
// expansion (RFC 7208 §7.1: the query simply finds nothing).
func queryable(name string) bool {
	if name == "" {
		return false
	}
	for _, l := range strings.Split(name, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
	}
	return true
}

// truncateName drops leftmost labels until name fits 253 octets.
func truncateName(name string) string {
	name = strings.TrimSuffix(name, ".")
	for len(name) > 253 {
		i := strings.IndexByte(name, '.')
		if i < 0 {
			return name
		}
		name = name[i+1:]
	}
	return name
}

func (s *state) addrType() uint16 {
	if s.ip.Is4() {
		return dns.TypeA
	}
	return dns.TypeAAAA
}

func addrsOf(a *resolve.Answer) []netip.Addr {
	var out []netip.Addr
	for _, rr := range a.Records {
		switch v := rr.(type) {
		case *dns.A:
			if ip, ok := netip.AddrFromSlice(v.A.To4()); ok {
				out = append(out, ip)
			}
		case *dns.AAAA:
			if ip, ok := netip.AddrFromSlice(v.AAAA.To16()); ok {
				out = append(out, ip)
			}
		}
	}
	return out
}

func (s *state) inCIDR(addrs []netip.Addr, t *Term) bool {
	for _, a := range addrs {
		a = a.Unmap()
		if a.Is4() != s.ip.Is4() {
			continue
		}
		bits := a.BitLen()
		if a.Is4() && t.CIDR4 >= 0 {
			bits = t.CIDR4
		} else if a.Is6() && t.CIDR6 >= 0 {
			bits = t.CIDR6
		}
		p, err := a.Prefix(bits)
		if err == nil && p.Contains(s.ip) {
			return true
		}
	}
	return false
}

func tempErr(what string, err error) *evalError {
	return &evalError{TempError, fmt.Sprintf("%s: %v", what, err)}
}

// mechanism evaluates one directive (RFC 7208 §5): whether the term
// matches the sender. The address mechanisms are judged in place; the others count against
// the lookup limit, expand their target and go to the matcher of their
// kind.
func (s *state) mechanism(t *Term, cur string, depth int) (bool, error) {
	switch t.Kind {
	case All:
		return true, nil
	case IP4:
		return s.ip.Is4() && t.Net.Contains(s.ip), nil
	case IP6:
		return s.ip.Is6() && t.Net.Contains(s.ip), nil
	}
	if err := s.count(); err != nil {
		return false, err
	}
	target, perr := s.target(t, cur)
	if perr != nil {
		return false, perr
	}
	switch t.Kind {
	case Include:
		return s.matchInclude(target, depth)
	case A:
		return s.matchA(t, target)
	case MX:
		return s.matchMX(t, target)
	case PTR:
		return s.matchPTR(target)
	case Exists:
		return s.matchExists(target)
	}
	return false, permErr("unexpected term kind %v", t.Kind)
}

// matchInclude evaluates include:target (RFC 7208 §5.2).
func (s *state) matchInclude(target string, depth int) (bool, error) {
	idx := s.cur
	res, _, reason := s.checkHost(target, depth+1, false)
	s.cur = idx
	switch res {
	case Pass:
		return true, nil
	case Fail, SoftFail, Neutral:
		return false, nil
	case TempError:
		return false, &evalError{TempError, "include: " + reason}
	case None:
		return false, permErr("include target %s has no SPF record (RFC 7208 §5.2)", target)
	default:
		return false, permErr("include: %s", reason)
	}
}

// matchA evaluates a:target (RFC 7208 §5.3).
func (s *state) matchA(t *Term, target string) (bool, error) {
	a, err := s.query(target, s.addrType())
	if err != nil {
		return false, tempErr("address lookup", err)
	}
	addrs := addrsOf(a)
	if len(addrs) == 0 {
		if err := s.void(); err != nil {
			return false, err
		}
	}
	return s.inCIDR(addrs, t), nil
}

// matchMX evaluates mx:target (RFC 7208 §5.4).
func (s *state) matchMX(t *Term, target string) (bool, error) {
	mxs, a, err := resolve.MX(s.ctx, recorder{s}, target)
	if err != nil {
		return false, tempErr("MX lookup", err)
	}
	if len(mxs) == 0 || a.NXDomain() {
		if err := s.void(); err != nil {
			return false, err
		}
	}
	if len(mxs) > MaxNamesPerLookup {
		return false, permErr("%s has %d MX records; the mx mechanism may look at no more than %d (RFC 7208 §4.6.4)", target, len(mxs), MaxNamesPerLookup)
	}
	for _, mx := range mxs {
		host := strings.TrimSuffix(mx.Mx, ".")
		if host == "" {
			continue // null MX
		}
		aa, err := s.query(host, s.addrType())
		if err != nil {
			return false, tempErr("address lookup of MX host "+host, err)
		}
		if s.inCIDR(addrsOf(aa), t) {
			return true, nil
		}
	}
	return false, nil
}

// matchPTR evaluates ptr:target (RFC 7208 §5.5).
func (s *state) matchPTR(target string) (bool, error) {
	names, void := s.ptrNames()
	if void {
		if err := s.void(); err != nil {
			return false, err
		}
	}
	for _, n := range names {
		if !s.confirms(n) {
			continue
		}
		if strings.EqualFold(n, target) || strings.HasSuffix(strings.ToLower(n), "."+strings.ToLower(target)) {
			return true, nil
		}
	}
	return false, nil
}

// matchExists evaluates exists:target (RFC 7208 §5.7).
func (s *state) matchExists(target string) (bool, error) {
	a, err := s.query(target, dns.TypeA)
	if err != nil {
		return false, tempErr("exists lookup", err)
	}
	if len(a.Of(dns.TypeA)) == 0 {
		if err := s.void(); err != nil {
			return false, err
		}
		return false, nil
	}
	return true, nil
}

// recorder lets resolve helpers go through state.query.
type recorder struct{ s *state }

func (r recorder) Query(_ context.Context, name string, qtype uint16) (*resolve.Answer, error) {
	return r.s.query(name, qtype)
}

// ptrNames returns the client IP's PTR names, at most 10 (RFC 7208 §5.5);
// a lookup error gives no names. void reports an empty answer.
func (s *state) ptrNames() (names []string, void bool) {
	rev, err := dns.ReverseAddr(s.ip.String())
	if err != nil {
		return nil, false
	}
	a, err := s.query(rev, dns.TypePTR)
	if err != nil {
		return nil, false
	}
	for _, rr := range a.Of(dns.TypePTR) {
		names = append(names, strings.TrimSuffix(rr.(*dns.PTR).Ptr, "."))
		if len(names) == MaxNamesPerLookup {
			break
		}
	}
	return names, len(names) == 0
}

// confirms reports whether name resolves back to the client IP; lookup
// errors make it false (RFC 7208 §5.5).
func (s *state) confirms(name string) bool {
	a, err := s.query(name, s.addrType())
	if err != nil {
		return false
	}
	for _, ip := range addrsOf(a) {
		if ip.Unmap() == s.ip {
			return true
		}
	}
	return false
}

// validatedPTR computes %{p} (RFC 7208 §7.3): a validated PTR name, the
// current domain or a subdomain of it preferred, else "unknown".
func (s *state) validatedPTR(cur string) string {
	// The validated names are looked up once; which one %{p} gives
	// depends on the current domain.
	if s.ptrValid == nil {
		names, _ := s.ptrNames()
		valid := []string{}
		for _, n := range names {
			if s.confirms(n) {
				valid = append(valid, n)
			}
		}
		s.ptrValid = valid
	}
	valid := s.ptrValid
	out := unknownDomain
	for _, n := range valid {
		if strings.EqualFold(n, cur) {
			out = n
			break
		}
	}
	if out == unknownDomain {
		for _, n := range valid {
			if strings.HasSuffix(strings.ToLower(n), "."+strings.ToLower(cur)) {
				out = n
				break
			}
		}
	}
	if out == unknownDomain && len(valid) > 0 {
		out = valid[0]
	}
	return out
}

// explanation computes the explanation of a fail (RFC 7208 §6.2): the
// exp= text when it can be fetched and expanded, else the default.
func (s *state) explanation(rec *Record, cur string, depth int) string {
	def := s.c.DefaultExplanation
	if def == "" {
		def = DefaultExplanation
	}
	fallback := func() string {
		m, err := parseExplainString(def)
		if err != nil {
			return def
		}
		out, err := m.expand(s.macros(cur))
		if err != nil {
			return def
		}
		return out
	}
	if rec.Exp == nil {
		return fallback()
	}
	name, err := rec.Exp.Domain.expand(s.macros(cur))
	if err != nil {
		return fallback()
	}
	name = truncateName(name)
	if !validDomain(name) {
		return fallback()
	}
	prev := s.cur
	s.step(depth, cur, rec.Exp.Text)
	txts, _, err := resolve.TXT(s.ctx, recorder{s}, dns.Fqdn(name))
	if err != nil || len(txts) != 1 {
		s.conclude(s.cur, "no usable explanation: the default is used")
		s.cur = prev
		return fallback()
	}
	m, perr := parseExplainString(txts[0])
	if perr != nil {
		s.conclude(s.cur, "invalid explanation (%v): the default is used", perr)
		s.cur = prev
		return fallback()
	}
	out, err := m.expand(s.macros(cur))
	if err != nil {
		s.conclude(s.cur, "%v: the default is used", err)
		s.cur = prev
		return fallback()
	}
	s.conclude(s.cur, "explanation %q", out)
	s.cur = prev
	return out
}

// parseExplainString parses explain-string = *( macro-string / SP ).
func parseExplainString(s string) (*MacroString, error) {
	all := &MacroString{Raw: s}
	for i, f := range strings.Split(s, " ") {
		if i > 0 {
			all.Parts = append(all.Parts, MacroPart{Literal: " "})
		}
		m, err := parseMacroString(f, expLetters)
		if err != nil {
			return nil, err
		}
		all.Parts = append(all.Parts, m.Parts...)
	}
	return all, nil
}
