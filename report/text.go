package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/fatih/color"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/mailcheck/mailcheck/checks"
)

// TextOptions control the terminal rendering.
type TextOptions struct {
	Color bool // ANSI colours
	Width int  // wrap the table to this many columns; 0 means 120
	// MaxRecords is how many evidence records to show per finding; the
	// JSON report always has them all. 0 means 4.
	MaxRecords int
}

// WriteText renders r: a head block (score, completeness, the fails and
// warns of every check, worst first), then one table per check with its
// findings sorted worst first, then the score again.
func WriteText(w io.Writer, r *Report, opt TextOptions) error {
	if opt.Width <= 0 {
		opt.Width = 120
	}
	if opt.MaxRecords <= 0 {
		opt.MaxRecords = 4
	}
	p := newPalette(opt.Color)
	title := r.Domain
	if r.DomainUnicode != "" {
		title = fmt.Sprintf("%s (%s)", r.DomainUnicode, r.Domain)
	}
	fmt.Fprintf(w, "%s %s\n", p.bold("mailcheck report for"), p.bold(title))
	writeHead(w, r, p)
	fmt.Fprintf(w, "resolver: %s   started: %s   took: %dms\n\n", strings.Join(r.Resolver, ", "), r.StartedAt.Format("2006-01-02 15:04:05Z"), r.DurationMS)
	if err := writeProblems(w, r, p, opt.Width); err != nil {
		return err
	}
	for _, c := range r.Checks {
		if err := writeCheck(w, c, p, opt); err != nil {
			return err
		}
	}
	writeScore(w, r, p)
	_, err := fmt.Fprintln(w)
	return err
}

// writeHead prints the score line and what limits it: non-existence,
// interruption, incompleteness, a withheld grade.
func writeHead(w io.Writer, r *Report, p palette) {
	writeScore(w, r, p)
	if r.NXDomain {
		fmt.Fprintln(w, p.sev(checks.Fail, "the domain does not exist (NXDOMAIN): no mail can be sent to or accepted for it"))
	}
	if r.Interrupted {
		fmt.Fprintln(w, p.sev(checks.Error, "interrupted: the run was stopped by a signal before every check finished"))
	}
	if !r.Complete && !r.NXDomain {
		msg := fmt.Sprintf("incomplete: %d of %d checks could not be evaluated", len(r.Unevaluated), len(r.Checks))
		if len(r.Unevaluated) > 0 {
			msg += " (" + strings.Join(r.Unevaluated, ", ") + ")"
		}
		if errs := r.Summary.Error - unevaluatedErrors(r); errs > 0 {
			msg += fmt.Sprintf("; %d lookups or probes failed in the others", errs)
		}
		msg += fmt.Sprintf("; coverage %d%% of the weight", r.Coverage)
		fmt.Fprintln(w, p.sev(checks.Error, msg))
	}
	if !r.Graded {
		fmt.Fprintln(w, p.sev(checks.Error, "no grade: "+r.GradeWithheld))
	}
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

func writeScore(w io.Writer, r *Report, p palette) {
	s := r.Summary
	verdict := fmt.Sprintf("%d/100  grade %s", r.Score, r.Grade)
	if !r.Graded {
		verdict = "-/100  grade -"
	}
	fmt.Fprintf(w, "%s %s  %s\n", p.bold("score:"), p.grade(r.Grade, verdict),
		fmt.Sprintf("(%d pass, %d info, %d warn, %d fail, %d error)", s.Pass, s.Info, s.Warn, s.Fail, s.Error))
}

// writeProblems lists every fail and warn finding across the checks,
// worst first, one line each (the fix is in the check's table below).
func writeProblems(w io.Writer, r *Report, p palette, width int) error {
	type item struct {
		check string
		f     checks.Finding
	}
	var items []item
	for _, c := range r.Checks {
		for _, f := range c.Findings {
			if f.Severity == checks.Fail || f.Severity == checks.Warn {
				items = append(items, item{c.Name, f})
			}
		}
	}
	if len(items) == 0 {
		fmt.Fprintln(w, p.bold("problems:")+" no fail or warn finding")
		_, err := fmt.Fprintln(w)
		return err
	}
	sort.SliceStable(items, func(i, j int) bool { return severityOrder(items[i].f.Severity) < severityOrder(items[j].f.Severity) })
	fmt.Fprintln(w, p.bold("problems, worst first:"))
	for _, it := range items {
		head := fmt.Sprintf("  %-4s  %s  ", it.f.Severity, it.f.ID)
		first := strings.SplitN(it.f.Message, "\n", 2)[0]
		lines := wrap(first, max(width-len(head), 30), "")
		fmt.Fprintf(w, "  %s  %s  %s\n", p.sev(it.f.Severity, fmt.Sprintf("%-4s", it.f.Severity)), it.f.ID, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(w, "%s%s\n", strings.Repeat(" ", len(head)), l)
		}
	}
	_, err := fmt.Fprintln(w)
	return err
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
func checkHeader(c checks.CheckResult, p palette) string {
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

func writeCheck(w io.Writer, c checks.CheckResult, p palette, opt TextOptions) error {
	fmt.Fprintln(w, checkHeader(c, p))
	fs := sortedFindings(c.Findings)
	idw, rfcw := len("finding"), len("rfc")
	for _, f := range fs {
		idw, rfcw = max(idw, len(f.ID)), max(rfcw, len(f.RFC))
	}
	// Borders and padding of a 4-column table take 13 columns.
	detailw := max(opt.Width-13-len("status")-idw-rfcw, 30)
	t := tablewriter.NewTable(w,
		tablewriter.WithHeader([]string{"status", "finding", "detail", "rfc"}),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithTrimSpace(tw.Off),
	)
	for _, f := range fs {
		row := []string{p.sev(f.Severity, string(f.Severity)), f.ID, strings.Join(detailLines(f, p, detailw, opt.MaxRecords), "\n"), f.RFC}
		if err := t.Append(row); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w)
	return err
}

// detailLines lays out a finding's message, fix and evidence in a cell.
func detailLines(f checks.Finding, p palette, width, maxRecords int) []string {
	lines := wrap(f.Message, width, "")
	if f.Fix != "" {
		for i, l := range wrap("fix: "+f.Fix, width, "     ") {
			if i == 0 {
				l = p.fix("fix:") + strings.TrimPrefix(l, "fix:")
			}
			lines = append(lines, l)
		}
	}
	for i, rec := range f.Records {
		if i == maxRecords {
			lines = append(lines, p.dim(fmt.Sprintf("  … %d more in the JSON report", len(f.Records)-i)))
			break
		}
		for _, l := range wrap("  "+rec, width, "    ") {
			lines = append(lines, p.dim(l))
		}
	}
	if f.RecordsOmitted > 0 {
		lines = append(lines, p.dim(fmt.Sprintf("  … %d more records left out (a finding keeps %d)", f.RecordsOmitted, checks.MaxRecords)))
	}
	return lines
}

// wrap breaks s into lines of at most width runes at spaces (a longer word
// is cut). Each paragraph keeps its leading spaces on its first line;
// continuation lines start with indent.
func wrap(s string, width int, indent string) []string {
	var out []string
	for _, para := range strings.Split(s, "\n") {
		lead := para[:len(para)-len(strings.TrimLeft(para, " "))]
		line, prefix := "", lead
		flush := func() {
			out = append(out, line)
			line, prefix = "", indent
		}
		for _, word := range strings.Fields(para) {
			for room := width - len(prefix); len([]rune(word)) > room && room > 0; room = width - len(prefix) {
				if line != "" {
					flush()
					continue
				}
				r := []rune(word)
				line = prefix + string(r[:room])
				word = string(r[room:])
				flush()
			}
			switch {
			case line == "":
				line = prefix + word
			case len([]rune(line))+1+len([]rune(word)) > width:
				flush()
				line = prefix + word
			default:
				line += " " + word
			}
		}
		if line != "" || len(out) == 0 {
			out = append(out, line)
		}
	}
	return out
}

type palette struct{ on bool }

func newPalette(on bool) palette { return palette{on} }

func (p palette) paint(c *color.Color, s string) string {
	if !p.on {
		return s
	}
	c.EnableColor()
	return c.Sprint(s)
}

func (p palette) bold(s string) string { return p.paint(color.New(color.Bold), s) }
func (p palette) dim(s string) string  { return p.paint(color.New(color.Faint), s) }
func (p palette) fix(s string) string  { return p.paint(color.New(color.FgCyan, color.Bold), s) }

func (p palette) sev(s checks.Severity, text string) string {
	switch s {
	case checks.Pass:
		return p.paint(color.New(color.FgGreen), text)
	case checks.Info:
		return p.paint(color.New(color.FgBlue), text)
	case checks.Warn:
		return p.paint(color.New(color.FgYellow), text)
	case checks.Fail:
		return p.paint(color.New(color.FgRed, color.Bold), text)
	case checks.Error:
		return p.paint(color.New(color.FgMagenta), text)
	}
	return text
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
	return &textReporter{w: w, opt: TextOptions{Color: opt.Color, Width: opt.Width}}
}

func (t *textReporter) Begin(Run) error        { return nil }
func (t *textReporter) Report(r *Report) error { return WriteText(t.w, r, t.opt) }
func (t *textReporter) End(RunSummary) error   { return nil }
