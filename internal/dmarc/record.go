// Package dmarc looks up and diagnoses DMARC policy records (RFC 7489).
//
// Policy discovery (§6.6.3: the record at _dmarc.<domain>, else at the
// Organizational Domain), external report authorization (§7.1) and every
// DNS question go through a resolve.Resolver, never through the network
// directly. The policy itself is parsed by go-msgauth's dmarc.Parse; this
// package adds what an auditor needs on top: tag-level diagnostics that
// say which tag is wrong and how receivers treat it (Parse stops at the
// first error with a terse message), report URI validation, and the
// record the domain should publish instead.
package dmarc

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	msgdmarc "github.com/emersion/go-msgauth/dmarc"
)

// Effect says what receivers do about a problem in a record.
type Effect int

const (
	// Cosmetic: allowed by the grammar or harmless, but some receivers
	// may read it differently (an upper-case tag name, a stray comma).
	Cosmetic Effect = iota
	// TagIgnored: receivers ignore the tag and use its default (RFC 7489
	// §6.3: "syntax errors in the remainder of the record SHOULD be
	// discarded in favor of default values").
	TagIgnored
	// PolicyIgnored: p or sp is missing or invalid. Receivers act as if
	// p=none when the record has a valid rua URI, and apply no DMARC at
	// all otherwise (§6.6.3).
	PolicyIgnored
	// RecordIgnored: receivers discard the whole record (it does not start
	// with v=DMARC1).
	RecordIgnored
)

func (e Effect) String() string {
	switch e {
	case Cosmetic:
		return "cosmetic"
	case TagIgnored:
		return "tag-ignored"
	case PolicyIgnored:
		return "policy-ignored"
	case RecordIgnored:
		return "record-ignored"
	}
	return "unknown"
}

// MarshalText makes Effect readable in JSON data.
func (e Effect) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// Problem is one syntax problem, tied to the tag it concerns.
type Problem struct {
	Tag     string `json:"tag"`   // the tag name as written; "" for the record as a whole
	Value   string `json:"value"` // the tag's value as written
	Effect  Effect `json:"effect"`
	Message string `json:"message"` // what is wrong and what receivers do about it
}

func (p Problem) String() string {
	if p.Tag == "" {
		return p.Message
	}
	if p.Value == "" {
		return p.Tag + ": " + p.Message
	}
	return fmt.Sprintf("%s=%q: %s", p.Tag, p.Value, p.Message)
}

// Tag is one tag=value pair of a record, in record order.
type Tag struct {
	Name  string `json:"name"`  // lower case
	Raw   string `json:"raw"`   // the name as written
	Value string `json:"value"` // trimmed of surrounding white space
	Valid bool   `json:"valid"` // a known tag with a valid value, first of its name
}

// Record is a DMARC TXT record with its diagnostics.
type Record struct {
	Text     string    `json:"text"`
	Tags     []Tag     `json:"tags"`
	Problems []Problem `json:"problems"` // syntax problems, record order
	// Unknown lists tags RFC 7489 and DMARCbis do not define; receivers
	// ignore them (§6.3). Suggest holds a likely intended tag name ("" if
	// none) for each, by index.
	Unknown []Tag       `json:"unknown"`
	Suggest []string    `json:"-"`
	RUA     []ReportURI `json:"rua"`
	RUF     []ReportURI `json:"ruf"`
	// Canonical is the record as a receiver applies it: valid tags only,
	// lower-case names and keywords, the p=none substitution of §6.6.3.
	// Empty when receivers apply no DMARC policy from this record.
	Canonical string `json:"canonical,omitempty"`
	// Policy is Canonical parsed by go-msgauth; nil when Canonical is
	// empty.
	Policy *msgdmarc.Record `json:"-"`
	// Repaired is, for a record receivers discard (not starting with
	// v=DMARC1), the diagnosis of what it was meant to be: the same tags
	// behind a proper v=DMARC1. Recommend builds on it.
	Repaired *Record `json:"-"`
}

// Tag values this package knows. RFC 7489 §6.3 plus the DMARCbis tags np,
// psd and t, which receivers implementing RFC 7489 ignore.
var knownTags = []string{"v", "p", "sp", "np", "adkim", "aspf", "pct", "fo", "rf", "ri", "rua", "ruf", "psd", "t"}

func isKnown(name string) bool {
	for _, k := range knownTags {
		if k == name {
			return true
		}
	}
	return false
}

// IsDMARC reports whether a TXT record is a DMARC record in the sense of
// §6.6.3: it starts with the tag v=DMARC1 (white space allowed around the
// "="). Receivers discard every other TXT record at _dmarc names.
func IsDMARC(txt string) bool {
	first, _, _ := strings.Cut(txt, ";")
	name, value, ok := strings.Cut(first, "=")
	return ok && strings.EqualFold(strings.TrimRight(name, wsp), "v") && strings.Trim(value, wsp) == "DMARC1"
}

// LooksLikeDMARC reports whether a TXT record that is not a DMARC record
// was probably meant to be one ("v=dmarc1", "p=reject; v=DMARC1",
// "v=DMARC1 p=reject").
func LooksLikeDMARC(txt string) bool {
	l := strings.ToLower(txt)
	return !IsDMARC(txt) && (strings.Contains(l, "dmarc") || strings.HasPrefix(strings.TrimSpace(l), "v=dm"))
}

const wsp = " \t"

// Parse diagnoses a TXT record found at a _dmarc name. It never fails:
// everything wrong is a Problem, and Policy is what receivers apply (nil
// when they apply nothing). It works in three phases: the record is split
// into tags (tokenize), each tag is judged by its name's handler (tag),
// and the cross-tag rules decide what receivers apply (finish).
func Parse(txt string) *Record {
	r := &Record{Text: txt, Tags: []Tag{}, Problems: []Problem{}, Unknown: []Tag{}, RUA: []ReportURI{}, RUF: []ReportURI{}}
	if !IsDMARC(txt) {
		r.notDMARC()
		return r
	}
	ps := &parser{r: r, seen: map[string]bool{}, pState: "missing"}
	for i, piece := range strings.Split(txt, ";") {
		ps.tokenize(i, piece)
	}
	ps.finish()
	return r
}

// problem records one Problem of the record.
func (r *Record) problem(tag, value string, e Effect, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Tag: tag, Value: value, Effect: e, Message: fmt.Sprintf(format, args...)})
}

// notDMARC is the phase for a record that does not start with v=DMARC1:
// it says why receivers discard it, and diagnoses the record it was
// probably meant to be (Repaired).
func (r *Record) notDMARC() {
	txt := r.Text
	first, _, _ := strings.Cut(txt, ";")
	name, value, _ := strings.Cut(first, "=")
	name, value = strings.Trim(name, wsp), strings.Trim(value, wsp)
	switch {
	case strings.TrimSpace(txt) != txt && IsDMARC(strings.TrimSpace(txt)):
		r.problem("", "", RecordIgnored, "the record starts with white space or a line break before v=DMARC1; receivers discard records that do not start with v=DMARC1")
	case strings.EqualFold(name, "v") && strings.EqualFold(value, "DMARC1"):
		r.problem("v", value, RecordIgnored, "the version must be exactly \"DMARC1\" in upper case; receivers discard the record")
	case strings.EqualFold(name, "v") && strings.HasPrefix(strings.ToUpper(value), "DMARC1"):
		r.problem("v", value, RecordIgnored, "a \";\" is missing after v=DMARC1; receivers discard the record")
	case strings.EqualFold(name, "v"):
		r.problem("v", value, RecordIgnored, "unsupported version %q: the only DMARC version is DMARC1; receivers discard the record", value)
	default:
		r.problem("", "", RecordIgnored, "the record does not start with v=DMARC1 (it starts with %q); receivers discard records whose first tag is not v=DMARC1", shorten(strings.Trim(first, wsp), 30))
	}
	if fixed := repair(txt); IsDMARC(fixed) {
		r.Repaired = Parse(fixed)
	}
}

// parser is the state Parse carries from tag to tag.
type parser struct {
	r      *Record
	seen   map[string]bool // tag names already judged
	canon  []string        // the valid tags, canonical, for Canonical
	pState string          // missing, ok, bad
	spBad  bool
}

// tokenize is the first phase for one ";"-separated piece: it splits the
// piece into a tag, hands it to tag and records it in Tags.
func (ps *parser) tokenize(i int, piece string) {
	p := strings.Trim(piece, wsp)
	if p == "" {
		return
	}
	if strings.ContainsAny(p, "\r\n") {
		ps.r.problem("", "", Cosmetic, "the record contains a line break; publish it as one line")
		p = strings.Join(strings.Fields(p), " ")
	}
	rawName, value, ok := strings.Cut(p, "=")
	if !ok {
		hint := ""
		if f := strings.Fields(p); len(f) > 1 && isKnown(strings.ToLower(f[0])) {
			hint = fmt.Sprintf(" (a missing \"=\" after %q?)", f[0])
		}
		ps.r.problem(p, "", TagIgnored, "%q is not a tag=value pair%s; receivers ignore it", shorten(p, 40), hint)
		return
	}
	rawName, value = strings.Trim(rawName, wsp), strings.Trim(value, wsp)
	t := Tag{Name: strings.ToLower(rawName), Raw: rawName, Value: value}
	ps.r.Tags = append(ps.r.Tags, ps.tag(i, t))
}

// tag is the second phase: it judges the name of the i-th piece's tag
// (valid, known, first of its name) and hands its value to the name's
// handler. It returns t with Valid set.
func (ps *parser) tag(i int, t Tag) Tag {
	switch {
	case !validTagName(t.Name):
		ps.r.problem(t.Raw, t.Value, TagIgnored, "%q is not a valid tag name; receivers ignore the tag", shorten(t.Raw, 30))
		return t
	case !isKnown(t.Name):
		ps.r.Unknown = append(ps.r.Unknown, t)
		ps.r.Suggest = append(ps.r.Suggest, suggest(t.Name))
		return t
	}
	if t.Raw != t.Name {
		ps.r.problem(t.Raw, t.Value, Cosmetic, "tag names are case-insensitive in RFC 7489's grammar, but some receivers only recognise %q in lower case", t.Name)
	}
	if ps.seen[t.Name] {
		ps.r.problem(t.Raw, t.Value, TagIgnored, "the tag appears more than once; receivers may use either value (this one is ignored here)")
		return t
	}
	ps.seen[t.Name] = true
	switch t.Name {
	case "v":
		return ps.version(i, t)
	case "rua", "ruf":
		return ps.reportURIs(t)
	}
	return ps.keyword(t)
}

// version handles v=, which must be the first tag.
func (ps *parser) version(i int, t Tag) Tag {
	if i != 0 {
		ps.r.problem(t.Raw, t.Value, TagIgnored, "v= must appear only once, as the first tag")
	}
	t.Valid = i == 0
	return t
}

// reportURIs handles rua= and ruf=: every URI goes to RUA or RUF, the
// valid ones to Canonical.
func (ps *parser) reportURIs(t Tag) Tag {
	var good []string
	for _, u := range parseURIList(t.Value) {
		u.Tag = t.Name
		if u.Err == "" {
			good = append(good, u.Raw)
		}
		if t.Name == "rua" {
			ps.r.RUA = append(ps.r.RUA, u)
		} else {
			ps.r.RUF = append(ps.r.RUF, u)
		}
	}
	t.Valid = len(good) > 0
	if t.Valid {
		ps.canon = append(ps.canon, t.Name+"="+strings.Join(good, ","))
	}
	return t
}

// keyword handles the tags whose value checkValue validates (p, sp, pct…).
func (ps *parser) keyword(t Tag) Tag {
	if strings.Contains(t.Value, "=") {
		ps.invalid(t, "the value contains \"=\": a \";\" seems to be missing before the next tag")
		return t
	}
	canonValue, msg := checkValue(t.Name, t.Value)
	if msg != "" {
		ps.invalid(t, msg)
		return t
	}
	if canonValue != t.Value && strings.EqualFold(canonValue, t.Value) {
		ps.r.problem(t.Raw, t.Value, Cosmetic, "keywords are case-insensitive in RFC 7489's grammar, but some receivers only recognise %q in lower case", canonValue)
	}
	t.Valid = true
	if t.Name == "p" {
		ps.pState = "ok"
	}
	if goMsgauthTag(t.Name) {
		ps.canon = append(ps.canon, t.Name+"="+canonValue)
	}
	return t
}

// invalid records a tag whose value receivers cannot use.
func (ps *parser) invalid(t Tag, msg string) {
	ps.r.problem(t.Raw, t.Value, effectOf(t.Name), "%s%s", msg, consequence(t.Name))
	if t.Name == "p" {
		ps.pState = "bad"
	} else if t.Name == "sp" {
		ps.spBad = true
	}
}

// finish is the last phase, the cross-tag rules of §6.6.3: a missing or
// invalid policy, the p=none substitution, and Canonical and Policy.
func (ps *parser) finish() {
	r := ps.r
	hasRUA := false
	for _, u := range r.RUA {
		if u.Err == "" {
			hasRUA = true
		}
	}
	switch {
	case ps.pState == "missing" && hasRUA:
		r.problem("p", "", PolicyIgnored, "the required p tag is missing; receivers act as if p=none (§6.6.3): the domain gets no protection")
	case ps.pState == "missing":
		r.problem("p", "", PolicyIgnored, "the required p tag is missing and there is no valid rua URI; receivers apply no DMARC policy at all (§6.6.3)")
	case (ps.pState == "bad" || ps.spBad) && !hasRUA:
		// Already reported on the tag; say what it does to the record.
		r.problem("", "", PolicyIgnored, "with an invalid p or sp and no valid rua URI, receivers apply no DMARC policy at all (§6.6.3)")
	}
	canon := ps.canon
	if ps.pState != "ok" || ps.spBad {
		if !hasRUA {
			return
		}
		// §6.6.3: act as if a record with v=DMARC1 and p=none was found.
		canon = append([]string{"p=none"}, filterTags(canon, "p", "sp")...)
	}
	r.Canonical = "v=DMARC1; " + strings.Join(canon, "; ")
	pol, err := msgdmarc.Parse(r.Canonical)
	if err != nil {
		// Our validation accepted something go-msgauth rejects: report it
		// rather than pretend (the fuzz test keeps this unreachable).
		r.problem("", "", RecordIgnored, "the record could not be parsed: %v", err)
		r.Canonical = ""
		return
	}
	r.Policy = pol
}

// repair puts a proper v=DMARC1 in front of the tags of a record that is
// not a DMARC record, dropping any misplaced or misspelt v tag.
func repair(txt string) string {
	var tags []string
	for _, piece := range strings.Split(strings.TrimSpace(txt), ";") {
		p := strings.Trim(piece, wsp)
		name, value, ok := strings.Cut(p, "=")
		if ok && strings.EqualFold(strings.Trim(name, wsp), "v") {
			value = strings.Trim(value, wsp)
			if len(value) >= 6 && strings.EqualFold(value[:6], "DMARC1") {
				p = strings.Trim(value[6:], wsp)
			} else {
				p = ""
			}
		}
		if p != "" {
			tags = append(tags, p)
		}
	}
	return strings.Join(append([]string{"v=DMARC1"}, tags...), "; ")
}

// goMsgauthTag reports whether go-msgauth reads the tag; the DMARCbis
// tags are left out of Canonical.
func goMsgauthTag(name string) bool {
	switch name {
	case "np", "psd", "t":
		return false
	}
	return true
}

func filterTags(canon []string, names ...string) []string {
	var out []string
	for _, c := range canon {
		n, _, _ := strings.Cut(c, "=")
		drop := false
		for _, x := range names {
			drop = drop || n == x
		}
		if !drop {
			out = append(out, c)
		}
	}
	return out
}

func effectOf(name string) Effect {
	if name == "p" || name == "sp" {
		return PolicyIgnored
	}
	return TagIgnored
}

// consequence completes a tag problem's message with what receivers do.
func consequence(name string) string {
	switch name {
	case "p":
		return "; receivers cannot use the policy (§6.6.3)"
	case "sp":
		return "; an invalid sp makes receivers treat the whole policy as unusable (§6.6.3)"
	case "rua", "ruf":
		return "; receivers ignore the tag"
	}
	if d := defaults[name]; d != "" {
		return fmt.Sprintf("; receivers ignore it and use the default %s=%s", name, d)
	}
	return "; receivers ignore it"
}

var defaults = map[string]string{"adkim": "r", "aspf": "r", "pct": "100", "fo": "0", "rf": "afrf", "ri": "86400", "np": "(the sp or p policy)", "psd": "u", "t": "n"}

// checkValue validates one known tag's value (not v, rua, ruf) and returns
// its canonical form, or a message saying what is wrong. The check of
// each tag is in valueChecks; a tag without one is taken as written.
func checkValue(name, value string) (canon, msg string) {
	if value == "" && name != "rua" && name != "ruf" {
		return "", "the value is empty"
	}
	if check := valueChecks[name]; check != nil {
		return check(name, value)
	}
	return value, ""
}

// valueCheck validates the non-empty value of the tag name: see checkValue.
type valueCheck func(name, value string) (canon, msg string)

// valueChecks holds the value check of each tag that has one.
var valueChecks = map[string]valueCheck{
	"p": checkPolicy, "sp": checkPolicy, "np": checkPolicy,
	"adkim": checkAlignment, "aspf": checkAlignment,
	"pct": checkPct,
	"fo":  checkFailureOptions,
	"rf":  checkReportFormat,
	"ri":  checkInterval,
	"psd": checkKeyword("psd must be y, n or u (DMARCbis)", "y", "n", "u"),
	"t":   checkKeyword("t must be y or n (DMARCbis)", "y", "n"),
}

// checkPolicy validates p, sp and np.
func checkPolicy(_, value string) (string, string) {
	lv := strings.ToLower(value)
	switch lv {
	case "none", "quarantine", "reject":
		return lv, ""
	}
	return "", fmt.Sprintf("%q is not a policy: it must be none, quarantine or reject%s", value, didYouMean(lv, "none", "quarantine", "reject"))
}

// checkAlignment validates adkim and aspf.
func checkAlignment(name, value string) (string, string) {
	lv := strings.ToLower(value)
	switch lv {
	case "r", "s":
		return lv, ""
	case "relaxed", "strict":
		return "", fmt.Sprintf("the alignment mode is written as one letter: %s=%s", name, lv[:1])
	}
	return "", "the alignment mode must be r (relaxed) or s (strict)"
}

// checkPct validates pct.
func checkPct(_, value string) (string, string) {
	v := strings.TrimSuffix(value, "%")
	if v != value {
		return "", "pct is a whole number from 0 to 100 without a % sign"
	}
	if !allDigits(v) || len(v) > 3 {
		return "", "pct must be a whole number from 0 to 100"
	}
	n, _ := strconv.Atoi(v)
	if n > 100 {
		return "", fmt.Sprintf("pct=%d is over 100", n)
	}
	return strconv.Itoa(n), ""
}

// checkFailureOptions validates fo.
func checkFailureOptions(_, value string) (string, string) {
	var out []string
	for _, o := range strings.Split(value, ":") {
		o = strings.ToLower(strings.Trim(o, wsp))
		switch o {
		case "0", "1", "d", "s":
			out = append(out, o)
		default:
			hint := ""
			if strings.ContainsAny(value, ",;") {
				hint = " (options are separated by \":\", e.g. fo=1:d)"
			}
			return "", fmt.Sprintf("%q is not a failure reporting option: use 0, 1, d or s%s", o, hint)
		}
	}
	return strings.Join(out, ":"), ""
}

// checkReportFormat validates rf.
func checkReportFormat(_, value string) (string, string) {
	var out []string
	for _, f := range strings.Split(value, ":") {
		f = strings.ToLower(strings.Trim(f, wsp))
		if f != "afrf" {
			return "", fmt.Sprintf("report format %q is not defined: the only registered format is afrf", f)
		}
		out = append(out, f)
	}
	return strings.Join(out, ":"), ""
}

// checkInterval validates ri.
func checkInterval(_, value string) (string, string) {
	if !allDigits(value) {
		return "", "ri must be a number of seconds"
	}
	n, err := strconv.ParseUint(value, 10, 31)
	if err != nil {
		return "", "ri is too large to be a reporting interval in seconds"
	}
	if n == 0 {
		return "", "ri must be at least 1 second"
	}
	return strconv.FormatUint(n, 10), ""
}

// checkKeyword returns the check of a tag whose value is one of a few
// letters (psd, t), with msg for any other value.
func checkKeyword(msg string, allowed ...string) valueCheck {
	return func(_, value string) (string, string) {
		lv := strings.ToLower(value)
		if slices.Contains(allowed, lv) {
			return lv, ""
		}
		return "", msg
	}
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func validTagName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func didYouMean(v string, options ...string) string {
	best, bd := "", 3
	for _, o := range options {
		if d := distance(v, o); d < bd {
			best, bd = o, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// suggest returns the known tag an unknown tag name was probably meant to
// be, or "".
func suggest(name string) string {
	switch name {
	case "pc", "percent", "perc":
		return "pct"
	case "policy":
		return "p"
	case "subdomain", "spolicy":
		return "sp"
	case "version":
		return "v"
	}
	best, bd := "", 3
	for _, k := range knownTags {
		if len(k) < 2 && len(name) > 2 {
			continue
		}
		if d := distance(name, k); d < bd && d < len(k) {
			best, bd = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance of two short strings.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
