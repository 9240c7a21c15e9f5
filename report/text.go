package report

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/fatih/color"

	"github.com/mailcheck/mailcheck/checks"
)

// TextOptions control the terminal rendering.
type TextOptions struct {
	Color   bool // ANSI colours
	Width   int  // wrap prose to this many columns; 0 means DefaultWidth
	Verbose bool // show each finding's evidence (records, transcripts)
	// MaxRecords is how many evidence records to show per finding with
	// Verbose; the JSON report always has them all. 0 means all.
	MaxRecords int
}

// DefaultWidth is the width of the text report when the terminal's is
// not known; minWidth is the narrowest it is laid out for.
const (
	DefaultWidth = 100
	minWidth     = 40
)

// Indentation of the finding lines: "  fail  ID  message", continued
// under the ID; the fix's prose continues under its first word.
const (
	findingIndent = "        "
	fixIndent     = findingIndent + "     "
)

// textWriter lays out one report in a buffer, written out whole.
type textWriter struct {
	b   bytes.Buffer
	p   palette
	opt TextOptions
}

// WriteText renders r: a head block (score, completeness, the fails and
// warns of every check, worst first, then the delivery verdict per MX
// host), then each check with one line per
// finding, worst first, and its fix (records to publish on lines of their
// own), the evidence only with Verbose; then the score again. Two
// renderings of the same report differ only in the started line.
func WriteText(w io.Writer, r *Report, opt TextOptions) error {
	if opt.Width <= 0 {
		opt.Width = DefaultWidth
	}
	opt.Width = max(opt.Width, minWidth)
	t := &textWriter{p: newPalette(opt.Color), opt: opt}
	t.b.Grow(textSize(r))
	t.head(r)
	t.problems(r)
	t.delivery(r)
	for i := range r.Checks {
		t.check(&r.Checks[i])
	}
	t.score(r)
	t.b.WriteByte('\n')
	_, err := w.Write(t.b.Bytes())
	return err
}

// textSize guesses the size of the text report of r, to fill its buffer
// without growing it.
func textSize(r *Report) int {
	n := 2048
	for i := range r.Checks {
		for _, f := range r.Checks[i].Findings {
			n += 160 + len(f.Message)*5/4 + len(f.Fix)*5/4
		}
	}
	return n
}

// line writes s and a newline.
func (t *textWriter) line(s ...string) {
	for _, x := range s {
		t.b.WriteString(x)
	}
	t.b.WriteByte('\n')
}

// para writes text wrapped to the width: the first line after prefix
// (prefixWidth columns wide on screen), the others after indent; each
// line painted with k.
func (t *textWriter) para(prefix string, prefixWidth int, indent, text string, k ink, extra ...string) {
	t.b.WriteString(prefix)
	wrapTo(&t.b, text, t.opt.Width-prefixWidth, t.opt.Width-len(indent), indent, t.p.ink(k), extra...)
}

// head prints the title, the score line and what limits it:
// non-existence, interruption, incompleteness, a withheld grade; then
// the resolver and the started line.
func (t *textWriter) head(r *Report) {
	p := t.p
	title := r.Domain
	if r.DomainUnicode != "" {
		title = fmt.Sprintf("%s (%s)", r.DomainUnicode, r.Domain)
	}
	t.line(p.bold("mailcheck report for"), " ", p.bold(title))
	t.score(r)
	failLine, errLine := inkSev[checks.Fail], inkSev[checks.Error]
	if r.NXDomain {
		t.para("", 0, "  ", "the domain does not exist (NXDOMAIN): no mail can be sent to or accepted for it", failLine)
	}
	if r.Interrupted {
		t.para("", 0, "  ", "interrupted: the run was stopped by a signal before every check finished", errLine)
	}
	if !r.Complete && !r.NXDomain {
		t.para("", 0, "  ", incompleteText(r), errLine)
	}
	if !r.Graded {
		t.para("", 0, "  ", "no grade: "+r.GradeWithheld, errLine)
	}
	t.para("", 0, "  ", "resolver: "+strings.Join(r.Resolver, ", "), ink{})
	t.line(fmt.Sprintf("started: %s   took: %dms", r.StartedAt.Format("2006-01-02 15:04:05Z"), r.DurationMS))
	t.line()
}

// incompleteText says which checks could not be evaluated and how many
// lookups failed in the others.
func incompleteText(r *Report) string {
	msg := fmt.Sprintf("incomplete: %d of %d checks could not be evaluated", len(r.Unevaluated), len(r.Checks))
	if len(r.Unevaluated) > 0 {
		msg += " (" + strings.Join(r.Unevaluated, ", ") + ")"
	}
	if errs := r.Summary.Error - unevaluatedErrors(r); errs > 0 {
		msg += fmt.Sprintf("; %d lookups or probes failed in the others", errs)
	}
	return msg + fmt.Sprintf("; coverage %d%% of the weight", r.Coverage)
}

func unevaluatedErrors(r *Report) int {
	n := 0
	for _, c := range r.Checks {
		if !c.Evaluated {
			n += c.Errors
		}
	}
	return n
}

// score prints "score: 97/100  grade A  (7 pass, ...)", the counts on a
// line of their own when the terminal is too narrow.
func (t *textWriter) score(r *Report) {
	s := r.Summary
	verdict := fmt.Sprintf("%d/100  grade %s", r.Score, r.Grade)
	if !r.Graded {
		verdict = "-/100  grade -"
	}
	counts := fmt.Sprintf("(%d pass, %d info, %d warn, %d fail, %d error)", s.Pass, s.Info, s.Warn, s.Fail, s.Error)
	sep := "  "
	if len("score: ")+len(verdict)+len(sep)+len(counts) > t.opt.Width {
		sep = "\n  "
	}
	t.line(t.p.bold("score:"), " ", t.p.grade(r.Grade, verdict), sep, counts)
}

// problems lists every fail and warn finding across the checks, worst
// first, one line each, cut at a word with an ellipsis (the whole
// message and the fix are with the check below).
func (t *textWriter) problems(r *Report) {
	var items []*checks.Finding
	for i := range r.Checks {
		for j := range r.Checks[i].Findings {
			if f := &r.Checks[i].Findings[j]; f.Severity == checks.Fail || f.Severity == checks.Warn {
				items = append(items, f)
			}
		}
	}
	if len(items) == 0 {
		t.line(t.p.bold("problems:"), " no fail or warn finding")
		t.line()
		return
	}
	sort.SliceStable(items, func(i, j int) bool { return severityOrder(items[i].Severity) < severityOrder(items[j].Severity) })
	t.line(t.p.bold("problems, worst first:"))
	for _, f := range items {
		prefix, n := t.findingPrefix(f)
		first, more := firstLine(f.Message, t.opt.Width-n-2)
		if more {
			first += " …"
		}
		t.line(prefix, first)
	}
	t.line()
}

// delivery prints the delivery check's findings, when it ran: one per
// MX host, whole and wrapped, since the verdict is what a reader looks
// for first (the check below repeats them with their fixes).
func (t *textWriter) delivery(r *Report) {
	name := checks.Delivery{}.Meta().Name
	for i := range r.Checks {
		if c := &r.Checks[i]; c.Name == name {
			t.line(t.p.bold("delivery:"))
			for j := range c.Findings {
				prefix, n := t.findingPrefix(&c.Findings[j])
				t.para(prefix, n, findingIndent, c.Findings[j].Message, ink{})
			}
			t.line()
		}
	}
}

// findingPrefix is "  warn  ID  " and its width on screen.
func (t *textWriter) findingPrefix(f *checks.Finding) (string, int) {
	pad := strings.Repeat(" ", max(len(findingIndent)-2-len(f.Severity), 1))
	return "  " + t.p.sev(f.Severity, string(f.Severity)) + pad + t.p.bold(f.ID) + "  ", len(findingIndent) + len(f.ID) + 2
}

// findingLine prints "  warn  ID  message [RFC]" wrapped under the ID.
func (t *textWriter) findingLine(f *checks.Finding) {
	prefix, n := t.findingPrefix(f)
	var extra []string
	if f.RFC != "" {
		extra = []string{"[" + f.RFC + "]"}
	}
	t.para(prefix, n, findingIndent, f.Message, ink{}, extra...)
}

// severityOrder sorts findings worst first: fail, warn, error, info, pass.
func severityOrder(s checks.Severity) int {
	switch s {
	case checks.Fail:
		return 0
	case checks.Warn:
		return 1
	case checks.Error:
		return 2
	case checks.Info:
		return 3
	}
	return 4
}

// sortedFindings returns the findings worst first, stable within a
// severity (the check's own order).
func sortedFindings(fs []checks.Finding) []checks.Finding {
	out := append([]checks.Finding(nil), fs...)
	sort.SliceStable(out, func(i, j int) bool { return severityOrder(out[i].Severity) < severityOrder(out[j].Severity) })
	return out
}

// checkHeader is "MX records [mx]  WARN  80/100  (1 error)": the worst
// non-error status with the score, and the errors counted apart.
func checkHeader(c *checks.CheckResult, p palette) string {
	status, score := p.sev(c.Verdict, strings.ToUpper(string(c.Verdict))), "not evaluated"
	if !c.Evaluated {
		status = p.sev(checks.Error, "NOT EVALUATED")
		score = ""
	} else if c.Score != nil {
		score = fmt.Sprintf("%d/100", *c.Score)
	}
	h := fmt.Sprintf("%s  %s", p.bold(c.Title+" ["+c.Name+"]"), status)
	if score != "" {
		h += "  " + p.dim(score)
	}
	if c.Errors > 0 {
		h += "  " + p.sev(checks.Error, plural(c.Errors, "error"))
	}
	return h
}

func plural(n int, what string) string {
	if n == 1 {
		return fmt.Sprintf("(1 %s)", what)
	}
	return fmt.Sprintf("(%d %ss)", n, what)
}

// check prints a check's header and its findings, worst first.
func (t *textWriter) check(c *checks.CheckResult) {
	t.line(checkHeader(c, t.p))
	seen := map[string]bool{}
	for _, f := range sortedFindings(c.Findings) {
		t.findingLine(&f)
		if t.opt.Verbose {
			t.evidence(&f, seen)
		}
		if f.Fix != "" {
			t.fix(f.Fix)
		}
	}
	t.line()
}

// fix prints "fix:" and its prose wrapped under the first word; each
// record to publish is on a line of its own from the first column, whole.
func (t *textWriter) fix(fix string) {
	label := findingIndent + t.p.fix("fix:")
	for _, part := range fixParts(fix) {
		switch {
		case part.record && label != "":
			t.line(label)
			fallthrough
		case part.record:
			t.line(part.text)
		case label != "":
			t.para(label+" ", len(fixIndent), fixIndent, part.text, ink{})
		default:
			t.para(fixIndent, len(fixIndent), fixIndent, part.text, ink{})
		}
		label = ""
	}
}

// evidence prints a finding's records, one a line, unwrapped (tabs made
// spaces), with long DKIM keys abbreviated; a record the check already showed is counted,
// not repeated (the EHLO reply of several findings).
func (t *textWriter) evidence(f *checks.Finding, seen map[string]bool) {
	ind := findingIndent + "  "
	repeated, shown := 0, 0
	for i, rec := range f.Records {
		if t.opt.MaxRecords > 0 && shown == t.opt.MaxRecords {
			t.line(ind, t.p.dim(fmt.Sprintf("… %d more in the JSON report", len(f.Records)-i)))
			break
		}
		if seen[rec] {
			repeated++
			continue
		}
		seen[rec] = true
		shown++
		t.line(ind, t.p.dim(abbreviateKeys(strings.ReplaceAll(rec, "\t", " "))))
	}
	if repeated > 0 {
		t.line(ind, t.p.dim(strings.TrimSuffix(plural(repeated, "record"), ")")+" shown above)"))
	}
	if f.RecordsOmitted > 0 {
		t.line(ind, t.p.dim(fmt.Sprintf("… %d more records left out (a finding keeps %d)", f.RecordsOmitted, checks.MaxRecords)))
	}
}

// palette paints text with ANSI colours, or leaves it as it is.
type palette struct{ on bool }

func newPalette(on bool) palette { return palette{on} }

// ink is a colour's escape codes: on before the text, off after it.
type ink struct{ on, off string }

// inkOf takes the codes from the colour library (forced on: the CLI
// decides, not the library's own terminal detection).
func inkOf(attrs ...color.Attribute) ink {
	c := color.New(attrs...)
	c.EnableColor()
	on, off, _ := strings.Cut(c.Sprint("\x00"), "\x00")
	return ink{on, off}
}

// The colours, made once.
var (
	inkBold = inkOf(color.Bold)
	inkDim  = inkOf(color.Faint)
	inkFix  = inkOf(color.FgCyan, color.Bold)
	inkSev  = map[checks.Severity]ink{
		checks.Pass:  inkOf(color.FgGreen),
		checks.Info:  inkOf(color.FgBlue),
		checks.Warn:  inkOf(color.FgYellow),
		checks.Fail:  inkOf(color.FgRed, color.Bold),
		checks.Error: inkOf(color.FgMagenta),
	}
)

// ink returns k when colours are on, else no codes at all.
func (p palette) ink(k ink) ink {
	if !p.on {
		return ink{}
	}
	return k
}

func (p palette) paint(k ink, s string) string {
	if !p.on || s == "" {
		return s
	}
	return k.on + s + k.off
}

func (p palette) bold(s string) string { return p.paint(inkBold, s) }
func (p palette) dim(s string) string  { return p.paint(inkDim, s) }
func (p palette) fix(s string) string  { return p.paint(inkFix, s) }

func (p palette) sev(s checks.Severity, text string) string {
	return p.paint(inkSev[s], text)
}

func (p palette) grade(g, text string) string {
	switch g {
	case "A", "B":
		return p.sev(checks.Pass, text)
	case "C", "D":
		return p.sev(checks.Warn, text)
	}
	return p.sev(checks.Fail, text)
}

// textReporter writes each report as the terminal report.
type textReporter struct {
	w   io.Writer
	opt TextOptions
}

var _ Reporter = (*textReporter)(nil)

func newTextReporter(w io.Writer, opt Options) Reporter {
	return &textReporter{w: w, opt: TextOptions{Color: opt.Color, Width: opt.Width, Verbose: opt.Verbose}}
}

func (t *textReporter) Begin(Run) error        { return nil }
func (t *textReporter) Report(r *Report) error { return WriteText(t.w, r, t.opt) }
func (t *textReporter) End(RunSummary) error   { return nil }
