package report

import (
	"fmt"
	"io"
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

// WriteText renders r as one table per check followed by the score.
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
	fmt.Fprintf(w, "resolver: %s   started: %s   took: %dms\n\n", strings.Join(r.Resolver, ", "), r.StartedAt.Format("2006-01-02 15:04:05Z"), r.DurationMS)
	for _, c := range r.Checks {
		score := "not evaluated"
		if s, ok := CheckScore(c); ok {
			score = fmt.Sprintf("%d/100", s)
		}
		fmt.Fprintf(w, "%s  %s  %s\n", p.bold(c.Title+" ["+c.Name+"]"), p.sev(c.Status, strings.ToUpper(string(c.Status))), p.dim(score))
		idw, rfcw := len("finding"), len("rfc")
		for _, f := range c.Findings {
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
		for _, f := range c.Findings {
			lines := wrap(f.Message, detailw, "")
			if f.Fix != "" {
				for i, l := range wrap("fix: "+f.Fix, detailw, "     ") {
					if i == 0 {
						l = p.fix("fix:") + strings.TrimPrefix(l, "fix:")
					}
					lines = append(lines, l)
				}
			}
			for i, rec := range f.Records {
				if i == opt.MaxRecords {
					lines = append(lines, p.dim(fmt.Sprintf("  … %d more in the JSON report", len(f.Records)-i)))
					break
				}
				for _, l := range wrap("  "+rec, detailw, "    ") {
					lines = append(lines, p.dim(l))
				}
			}
			if err := t.Append([]string{p.sev(f.Severity, string(f.Severity)), f.ID, strings.Join(lines, "\n"), f.RFC}); err != nil {
				return err
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	s := r.Summary
	fmt.Fprintf(w, "%s %s  %s\n", p.bold("score:"), p.grade(r.Grade, fmt.Sprintf("%d/100  grade %s", r.Score, r.Grade)),
		fmt.Sprintf("(%d pass, %d info, %d warn, %d fail, %d error)", s.Pass, s.Info, s.Warn, s.Fail, s.Error))
	if !r.Evaluated {
		fmt.Fprintln(w, p.sev(checks.Error, "nothing could be evaluated: see the errors above"))
	}
	_, err := fmt.Fprintln(w)
	return err
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
