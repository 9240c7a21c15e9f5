// Package spf implements Sender Policy Framework (RFC 7208): a parser that
// turns a record into typed terms with positions and precise diagnostics,
// check_host() (§4-§8, macros of §7 included) over the project's resolver,
// and a static analyser of a domain's whole include/redirect tree for
// auditors.
//
// One parser serves both: the evaluator runs what Parse returns, and the
// analyser reports on it.
package spf

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Kind names a mechanism or modifier.
type Kind int

// Mechanisms (RFC 7208 §5) and modifiers (§6).
const (
	All Kind = iota
	Include
	A
	MX
	PTR
	IP4
	IP6
	Exists
	Redirect
	Exp
	UnknownModifier
)

var kindNames = [...]string{"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists", "redirect", "exp", "modifier"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// IsMechanism reports whether k is a mechanism, not a modifier.
func (k Kind) IsMechanism() bool { return k <= Exists }

// QueriesDNS reports whether a term of kind k counts against the limit of
// 10 DNS-querying terms (RFC 7208 §4.6.4).
func (k Kind) QueriesDNS() bool {
	switch k {
	case Include, A, MX, PTR, Exists, Redirect:
		return true
	}
	return false
}

// Qualifier is a directive's qualifier (RFC 7208 §4.6.2).
type Qualifier byte

// Qualifiers.
const (
	QPass     Qualifier = '+'
	QFail     Qualifier = '-'
	QSoftFail Qualifier = '~'
	QNeutral  Qualifier = '?'
)

// Result returns the check_host() result a match with this qualifier gives.
func (q Qualifier) Result() Result {
	switch q {
	case QFail:
		return Fail
	case QSoftFail:
		return SoftFail
	case QNeutral:
		return Neutral
	}
	return Pass
}

// Term is one directive or modifier of a record.
type Term struct {
	Pos       int    // byte offset of the term in the record text
	Index     int    // 1-based position among the record's terms
	Text      string // the term as written
	Kind      Kind
	Qualifier Qualifier // directives only; QPass when omitted
	// Domain is the domain-spec of include, a, mx, ptr, exists, redirect
	// and exp; nil when the term has none (a, mx, ptr: the current domain).
	Domain *MacroString
	// Net is the network of ip4 and ip6.
	Net netip.Prefix
	// CIDR4 and CIDR6 are the dual-cidr-length of a and mx (-1: absent).
	CIDR4, CIDR6 int
	// Name and Value are an unknown modifier's name and macro-string.
	Name  string
	Value *MacroString
}

// Record is a parsed SPF record.
type Record struct {
	Text     string
	Terms    []Term // every term in order, modifiers included
	Redirect *Term  // the redirect= modifier, if any
	Exp      *Term  // the exp= modifier, if any
}

// Mechanisms returns the record's directives in order.
func (r *Record) Mechanisms() []Term {
	var out []Term
	for _, t := range r.Terms {
		if t.Kind.IsMechanism() {
			out = append(out, t)
		}
	}
	return out
}

// All returns the record's "all" directive, or nil.
func (r *Record) All() *Term {
	for i := range r.Terms {
		if r.Terms[i].Kind == All {
			return &r.Terms[i]
		}
	}
	return nil
}

// ErrSyntax is wrapped by every *SyntaxError.
var ErrSyntax = errors.New("spf: syntax error")

// SyntaxError says which term of a record is wrong, and how.
type SyntaxError struct {
	Pos   int    // byte offset in the record
	Index int    // 1-based term index; 0 for the version or the record as a whole
	Term  string // the offending term as written
	Msg   string
}

func (e *SyntaxError) Error() string {
	if e.Term == "" {
		return fmt.Sprintf("offset %d: %s", e.Pos, e.Msg)
	}
	return fmt.Sprintf("term %d %q (offset %d): %s", e.Index, shorten(e.Term, 80), e.Pos, e.Msg)
}

// Unwrap makes errors.Is(err, ErrSyntax) true.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// IsSPF reports whether a TXT record is an SPF version 1 record: it starts
// with "v=spf1" followed by a space or the end (RFC 7208 §4.5).
func IsSPF(txt string) bool {
	if len(txt) < 6 || !strings.EqualFold(txt[:6], "v=spf1") {
		return false
	}
	return len(txt) == 6 || txt[6] == ' '
}

// MaxRecordLen bounds what Parse accepts; a TXT answer cannot be longer
// than a DNS message (64 KiB).
const MaxRecordLen = 65535

// Parse parses an SPF record, the TXT record's strings already joined
// (RFC 7208 §3.3). Any error is a *SyntaxError.
func Parse(txt string) (*Record, error) {
	if len(txt) > MaxRecordLen {
		return nil, &SyntaxError{Msg: fmt.Sprintf("record is %d bytes, longer than any DNS answer can carry", len(txt))}
	}
	if !IsSPF(txt) {
		return nil, &SyntaxError{Msg: `the record does not start with "v=spf1" followed by a space`}
	}
	for i := 0; i < len(txt); i++ {
		if c := txt[i]; c != ' ' && (c < 0x21 || c > 0x7e) {
			what := "a control character"
			if c >= 0x80 {
				what = "a non-ASCII byte"
			}
			return nil, &SyntaxError{Pos: i, Msg: fmt.Sprintf("%s (0x%02X): SPF records are 7-bit ASCII, terms separated by spaces only (RFC 7208 §3, §4.6.1)", what, c)}
		}
	}
	r := &Record{Text: txt}
	idx := 0
	for i := 6; i < len(txt); {
		if txt[i] == ' ' {
			i++
			continue
		}
		j := strings.IndexByte(txt[i:], ' ')
		if j < 0 {
			j = len(txt) - i
		}
		idx++
		t, err := parseTerm(txt[i:i+j], i, idx)
		if err != nil {
			return nil, err
		}
		r.Terms = append(r.Terms, t)
		i += j
	}
	for i := range r.Terms {
		t := &r.Terms[i]
		switch t.Kind {
		case Redirect:
			if r.Redirect != nil {
				return nil, &SyntaxError{Pos: t.Pos, Index: t.Index, Term: t.Text, Msg: fmt.Sprintf("second redirect= modifier (the first is term %d); it may appear only once (RFC 7208 §6)", r.Redirect.Index)}
			}
			r.Redirect = t
		case Exp:
			if r.Exp != nil {
				return nil, &SyntaxError{Pos: t.Pos, Index: t.Index, Term: t.Text, Msg: fmt.Sprintf("second exp= modifier (the first is term %d); it may appear only once (RFC 7208 §6)", r.Exp.Index)}
			}
			r.Exp = t
		}
	}
	return r, nil
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// modifierName returns the length of a modifier name at the start of s
// when s is "name=...", else -1.
func modifierName(s string) int {
	if s == "" || !isAlpha(s[0]) {
		return -1
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '=':
			return i
		case isAlpha(c) || isDigit(c) || c == '-' || c == '_' || c == '.':
		default:
			return -1
		}
	}
	return -1
}

// parseTerm parses one term of a record, at byte offset pos and 1-based
// index idx: a modifier (parseModifier) or a directive (parseDirective).
// Any error is a *SyntaxError.
func parseTerm(s string, pos, idx int) (Term, error) {
	t := Term{Pos: pos, Index: idx, Text: s, Qualifier: QPass, CIDR4: -1, CIDR6: -1}
	var err error
	if n := modifierName(s); n > 0 {
		err = t.parseModifier(s[:n], s[n+1:])
	} else {
		err = t.parseDirective(s)
	}
	if err != nil {
		return t, &SyntaxError{Pos: pos, Index: idx, Term: s, Msg: err.Error()}
	}
	return t, nil
}

// parseModifier is the phase for a name=value term (RFC 7208 §6).
func (t *Term) parseModifier(name, val string) error {
	t.Name = name
	switch strings.ToLower(name) {
	case "redirect", "exp":
		t.Kind = Redirect
		if strings.EqualFold(name, "exp") {
			t.Kind = Exp
		}
		if val == "" {
			return fmt.Errorf("%s= needs a domain", strings.ToLower(name))
		}
		d, err := parseDomainSpec(val)
		if err != nil {
			return err
		}
		t.Domain = d
	default:
		t.Kind = UnknownModifier
		v, err := parseMacroString(val, expLetters)
		if err != nil {
			return fmt.Errorf("unknown modifier %s= has an invalid value: %v", name, err)
		}
		t.Value = v
	}
	return nil
}

// parseDirective is the phase for a mechanism with its qualifier
// (RFC 7208 §4.6.2, §5): it splits off the qualifier and the name and
// hands the argument to the mechanism's parser in mechanismParsers.
func (t *Term) parseDirective(s string) error {
	rest := s
	switch rest[0] {
	case '+', '-', '~', '?':
		t.Qualifier = Qualifier(rest[0])
		rest = rest[1:]
	}
	n := 0
	for n < len(rest) && (isAlpha(rest[n]) || isDigit(rest[n])) {
		n++
	}
	name := strings.ToLower(rest[:n])
	arg := rest[n:]
	if name == "" {
		return errors.New("expected a mechanism (all, include, a, mx, ptr, ip4, ip6, exists) or a modifier (name=value)")
	}
	if arg != "" && arg[0] != ':' && arg[0] != '/' {
		return fmt.Errorf("unknown mechanism %q", rest)
	}
	m, ok := mechanismParsers[name]
	if !ok {
		return fmt.Errorf("unknown mechanism %q", name)
	}
	t.Kind = m.kind
	return m.parse(t, name, arg)
}

// mechanismParser reads a mechanism's argument (":domain", "/cidr"…)
// into t.
type mechanismParser struct {
	kind  Kind
	parse func(t *Term, name, arg string) error
}

// mechanismParsers holds the kind and argument parser of each mechanism.
var mechanismParsers = map[string]mechanismParser{
	"all":     {All, parseAllArg},
	"include": {Include, parseDomainArg},
	"exists":  {Exists, parseDomainArg},
	"a":       {A, parseHostArg},
	"mx":      {MX, parseHostArg},
	"ptr":     {PTR, parsePTRArg},
	"ip4":     {IP4, parseNetworkArg},
	"ip6":     {IP6, parseNetworkArg},
}

// parseAllArg: all takes no argument.
func parseAllArg(_ *Term, _, arg string) error {
	if arg != "" {
		return errors.New("all takes no argument")
	}
	return nil
}

// parseDomainArg reads the required ":domain" of include and exists.
func parseDomainArg(t *Term, name, arg string) error {
	if arg == "" || arg[0] != ':' || len(arg) == 1 {
		return fmt.Errorf("%s needs a domain: %s:<domain>", name, name)
	}
	d, err := parseDomainSpec(arg[1:])
	if err != nil {
		return err
	}
	t.Domain = d
	return nil
}

// parseHostArg reads the optional ":domain" and dual CIDR length of a
// and mx.
func parseHostArg(t *Term, name, arg string) error {
	hasDom := arg != "" && arg[0] == ':'
	if hasDom {
		arg = arg[1:]
	}
	body, c4, c6, err := splitDualCIDR(arg)
	if err != nil {
		return err
	}
	t.CIDR4, t.CIDR6 = c4, c6
	switch {
	case hasDom && body == "":
		return fmt.Errorf("%s: has an empty domain (write %s alone for the current domain)", name, name)
	case hasDom:
		d, err := parseDomainSpec(body)
		if err != nil {
			return err
		}
		t.Domain = d
	case body != "":
		return fmt.Errorf("bad CIDR length %q: expected /0-32 for IPv4 and //0-128 for IPv6", arg)
	}
	return nil
}

// parsePTRArg reads the optional ":domain" of ptr.
func parsePTRArg(t *Term, _, arg string) error {
	if arg == "" {
		return nil
	}
	if arg[0] != ':' || len(arg) == 1 {
		return errors.New("ptr takes an optional domain (ptr:<domain>) and no CIDR length")
	}
	d, err := parseDomainSpec(arg[1:])
	if err != nil {
		return err
	}
	t.Domain = d
	return nil
}

// parseNetworkArg reads the required ":address[/length]" of ip4 and ip6.
func parseNetworkArg(t *Term, name, arg string) error {
	if arg == "" || arg[0] != ':' || len(arg) == 1 {
		return fmt.Errorf("%s needs a network: %s:<address>[/<length>]", name, name)
	}
	p, err := parseNetwork(arg[1:], t.Kind == IP6)
	if err != nil {
		return err
	}
	t.Net = p
	return nil
}

func parseNetwork(s string, v6 bool) (netip.Prefix, error) {
	addr, cidr := s, ""
	if i := strings.IndexByte(s, '/'); i >= 0 {
		addr, cidr = s[:i], s[i+1:]
	}
	ip, err := netip.ParseAddr(addr)
	max := 32
	fam := "IPv4"
	if v6 {
		max, fam = 128, "IPv6"
	}
	if err != nil || ip.Zone() != "" || (v6 && !ip.Is6()) || (!v6 && !ip.Is4()) {
		return netip.Prefix{}, fmt.Errorf("%q is not an %s address", addr, fam)
	}
	bits := max
	if i := strings.IndexByte(s, '/'); i >= 0 {
		n, err := cidrLength(cidr, max)
		if err != nil {
			return netip.Prefix{}, err
		}
		bits = n
	}
	return netip.PrefixFrom(ip, bits).Masked(), nil
}

// cidrLength parses a CIDR length without leading zeros (RFC 7208 §5.6).
func cidrLength(s string, max int) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("empty CIDR length")
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, fmt.Errorf("bad CIDR length %q: not a number", s)
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("bad CIDR length %q: leading zeros are not allowed", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > max {
		return 0, fmt.Errorf("bad CIDR length /%s: the maximum is %d", s, max)
	}
	return n, nil
}

// splitDualCIDR takes an optional "/N" and "//N" off the end of s.
func splitDualCIDR(s string) (body string, c4, c6 int, err error) {
	c4, c6 = -1, -1
	if i := strings.LastIndex(s, "//"); i >= 0 && allDigits(s[i+2:]) {
		if c6, err = cidrLength(s[i+2:], 128); err != nil {
			return "", 0, 0, fmt.Errorf("IPv6 CIDR: %v", err)
		}
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '/'); i >= 0 && allDigits(s[i+1:]) {
		if c4, err = cidrLength(s[i+1:], 32); err != nil {
			return "", 0, 0, fmt.Errorf("IPv4 CIDR: %v", err)
		}
		s = s[:i]
	}
	return s, c4, c6, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// parseDomainSpec parses a domain-spec: a macro-string ending in a
// top-level label or a macro (RFC 7208 §7.1).
func parseDomainSpec(s string) (*MacroString, error) {
	m, err := parseMacroString(s, domainLetters)
	if err != nil {
		return nil, fmt.Errorf("domain %q: %v", s, err)
	}
	if len(m.Parts) == 0 {
		return nil, fmt.Errorf("empty domain")
	}
	last := m.Parts[len(m.Parts)-1]
	if last.Letter != 0 || strings.HasSuffix(s, "%%") || strings.HasSuffix(s, "%_") || strings.HasSuffix(s, "%-") {
		return m, nil
	}
	lit := strings.TrimSuffix(last.Literal, ".")
	if lit == "" && len(m.Parts) > 1 {
		return m, nil // "%{d}.": lenient, the name is complete after expansion
	}
	i := strings.LastIndexByte(lit, '.')
	if i < 0 {
		return nil, fmt.Errorf("domain %q does not end in a top-level label (a domain needs at least one dot)", s)
	}
	if tl := lit[i+1:]; !validTopLabel(tl) {
		return nil, fmt.Errorf("domain %q: %q is not a valid top-level label (letters, digits and inner hyphens, not all numeric)", s, tl)
	}
	return m, nil
}

func validTopLabel(l string) bool {
	if l == "" {
		return false
	}
	alnum := func(c byte) bool { return isAlpha(c) || isDigit(c) }
	if strings.IndexByte(l, '-') >= 0 {
		if !alnum(l[0]) || !alnum(l[len(l)-1]) {
			return false
		}
		for i := 0; i < len(l); i++ {
			if !alnum(l[i]) && l[i] != '-' {
				return false
			}
		}
		return true
	}
	alpha := false
	for i := 0; i < len(l); i++ {
		if !alnum(l[i]) {
			return false
		}
		alpha = alpha || isAlpha(l[i])
	}
	return alpha
}
