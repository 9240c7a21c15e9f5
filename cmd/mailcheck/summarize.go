package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/report"
)

var _ = func() int {
	extraCommands = append(extraCommands, (*app).summarizeCmd)
	return 0
}()

// brief is the part of a report a fleet summary reads.
type brief struct {
	Schema      string `json:"schema_version"`
	Domain      string `json:"domain"`
	Grade       string `json:"grade"`
	Evaluated   bool   `json:"evaluated"`
	Interrupted bool   `json:"interrupted"`
	Summary     struct {
		Error int `json:"error"`
	} `json:"summary"`
	Checks []briefCheck `json:"checks"`
}

type briefCheck struct {
	Findings []briefFinding `json:"findings"`
}

type briefFinding struct {
	ID       string          `json:"id"`
	Severity checks.Severity `json:"severity"`
}

// briefOf takes what a fleet summary needs from a report of this run.
func briefOf(r *report.Report) brief {
	b := brief{Domain: r.Domain, Grade: r.Grade, Evaluated: r.Evaluated, Interrupted: r.Interrupted}
	b.Summary.Error = r.Summary.Error
	b.Checks = make([]briefCheck, len(r.Checks))
	for i, c := range r.Checks {
		for _, f := range c.Findings {
			b.Checks[i].Findings = append(b.Checks[i].Findings, briefFinding{f.ID, f.Severity})
		}
	}
	return b
}

// findingCount is how many domains have a finding.
type findingCount struct {
	ID      string `json:"id"`
	Domains int    `json:"domains"`
}

// fleet is the summary of many reports: a fleet owner's view of which
// findings affect how many domains. Its memory is a counter per finding
// ID and per grade, whatever the number of domains.
type fleet struct {
	Domains     int            `json:"domains"`     // reports counted (interrupted ones excluded)
	Grades      map[string]int `json:"grades"`      // A-F, "-" for no grade
	Errors      int            `json:"errors"`      // domains with a lookup or probe error, or nothing evaluated
	Interrupted int            `json:"interrupted"` // reports cut short by a signal, not counted above
	Malformed   int            `json:"malformed"`   // input lines (a run) or saved lines (summarize) skipped
	Fail        []findingCount `json:"fail"`        // most frequent first
	Warn        []findingCount `json:"warn"`

	fail, warn map[string]int
}

func newFleet() *fleet {
	return &fleet{Grades: map[string]int{}, fail: map[string]int{}, warn: map[string]int{}}
}

// add counts one report; each finding ID counts once per domain.
func (f *fleet) add(b *brief) {
	if b.Interrupted {
		f.Interrupted++
		return
	}
	f.Domains++
	f.Grades[b.Grade]++
	if b.Summary.Error > 0 || !b.Evaluated {
		f.Errors++
	}
	seen := map[string]bool{}
	for _, c := range b.Checks {
		for _, fd := range c.Findings {
			key := string(fd.Severity) + " " + fd.ID
			if seen[key] {
				continue
			}
			seen[key] = true
			switch fd.Severity {
			case checks.Fail:
				f.fail[fd.ID]++
			case checks.Warn:
				f.warn[fd.ID]++
			}
		}
	}
}

// finish ranks the findings, keeping the top ones (all when top <= 0).
func (f *fleet) finish(top int) {
	f.Fail, f.Warn = rank(f.fail, top), rank(f.warn, top)
}

// rank sorts counts by domains, most first, then by ID.
func rank(m map[string]int, top int) []findingCount {
	out := make([]findingCount, 0, len(m))
	for id, n := range m {
		out = append(out, findingCount{id, n})
	}
	slices.SortFunc(out, func(a, b findingCount) int {
		return cmp.Or(cmp.Compare(b.Domains, a.Domains), strings.Compare(a.ID, b.ID))
	})
	if top > 0 && len(out) > top {
		out = out[:top]
	}
	return out
}

// gradeOrder is how the text summary lists grades.
var gradeOrder = []string{"A", "B", "C", "D", "E", "F", "-"}

// writeText writes the summary for people.
func (f *fleet) writeText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "domains: %d  errors: %d", f.Domains, f.Errors)
	if f.Interrupted > 0 {
		fmt.Fprintf(bw, "  interrupted: %d", f.Interrupted)
	}
	if f.Malformed > 0 {
		fmt.Fprintf(bw, "  malformed lines: %d", f.Malformed)
	}
	fmt.Fprintf(bw, "\ngrades:")
	for _, g := range gradeOrder {
		if n := f.Grades[g]; n > 0 {
			fmt.Fprintf(bw, "  %s %d", g, n)
		}
	}
	fmt.Fprintln(bw)
	f.writeRanked(bw, "fail", f.Fail)
	f.writeRanked(bw, "warn", f.Warn)
	return bw.Flush()
}

func (f *fleet) writeRanked(w io.Writer, sev string, list []findingCount) {
	if len(list) == 0 {
		return
	}
	fmt.Fprintf(w, "most frequent %s findings (domains):\n", sev)
	for _, c := range list {
		fmt.Fprintf(w, "  %7d  %5.1f%%  %s\n", c.Domains, 100*float64(c.Domains)/float64(max(f.Domains, 1)), c.ID)
	}
}

// summarizeCmd is `mailcheck summarize FILE.jsonl...`.
func (a *app) summarizeCmd() *cobra.Command {
	var top int
	cmd := &cobra.Command{
		Use:   "summarize FILE.jsonl...",
		Short: "Summarize saved JSON Lines reports: grades, errors, and which findings affect how many domains",
		Long: `summarize reads reports saved with --format json (JSON Lines; "-" for
standard input) and prints what a bulk run prints at its end: the number of
domains, the grades, the domains with errors, and the fail and warn findings
by the number of domains they affect. A line that is not a report (such as
a last line cut short) is reported on standard error and skipped.`,
		Example: "  mailcheck summarize shard-*.jsonl\n  mailcheck summarize --format json --top 0 results.jsonl",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			format := cmd.Flag("format").Value.String()
			if err := onlyFormats("summarize", format, "text", "json"); err != nil {
				return err
			}
			return a.summarize(files, top, strings.ToLower(format) == "json")
		},
	}
	cmd.Flags().IntVar(&top, "top", 10, "list this many fail and warn findings (0: all)")
	return cmd
}

// summarize reads the files and writes their summary.
func (a *app) summarize(files []string, top int, asJSON bool) error {
	fl := newFleet()
	for _, name := range files {
		if err := a.summarizeFile(fl, name); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
	}
	fl.finish(top)
	var err error
	if asJSON {
		err = json.NewEncoder(a.stdout).Encode(fl)
	} else {
		err = fl.writeText(a.stdout)
	}
	if err != nil {
		return &exitError{code: exitOutput, err: err}
	}
	return nil
}

// summarizeFile adds the reports of one file ("-": standard input).
func (a *app) summarizeFile(fl *fleet, name string) error {
	r := a.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	return eachReportLine(r, func(l reportLine) {
		br, why := l.brief()
		if why != "" {
			fl.Malformed++
			fmt.Fprintf(a.stderr, "mailcheck: %s:%d: not a report (%s), skipped%s\n", name, l.n, why, cutShort(l.complete))
			return
		}
		fl.add(br)
	})
}

func cutShort(complete bool) string {
	if complete {
		return ""
	}
	return " (the last line, cut short)"
}

// maxReportLine bounds a line of saved reports held in memory: a report
// is far smaller (its findings and evidence are bounded), so a longer
// line, a corrupt or foreign file, is skipped without being held.
const maxReportLine = 16 << 20

// reportLine is one non-blank line of a JSON Lines file of reports.
type reportLine struct {
	n        int    // from 1
	b        []byte // nil when the line is longer than maxReportLine
	size     int64  // octets, newline included
	complete bool   // ended with a newline
}

// brief decodes the line as a report of this schema's major version, or
// says why it is not one.
func (l reportLine) brief() (*brief, string) {
	if l.b == nil {
		return nil, fmt.Sprintf("longer than %d MiB", maxReportLine>>20)
	}
	var br brief
	if err := json.Unmarshal(l.b, &br); err != nil {
		return nil, "not JSON"
	}
	major, _, _ := strings.Cut(report.SchemaVersion, ".")
	if br.Domain == "" || !strings.HasPrefix(br.Schema, major+".") {
		return nil, "no domain or schema_version " + major + ".x"
	}
	return &br, ""
}

// eachReportLine calls fn with each non-blank line of r; lines may be
// long (a report is one line) up to maxReportLine.
func eachReportLine(r io.Reader, fn func(reportLine)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		l, err := readReportLine(br)
		l.n = n
		if l.size > 0 && (l.b == nil || len(bytes.TrimSpace(l.b)) > 0) {
			fn(l)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readReportLine reads up to the next newline, keeping at most
// maxReportLine octets; err is io.EOF after a last line without one.
func readReportLine(br *bufio.Reader) (reportLine, error) {
	var l reportLine
	for {
		frag, err := br.ReadSlice('\n')
		l.size += int64(len(frag))
		if l.size <= maxReportLine {
			l.b = append(l.b, frag...)
		} else {
			l.b = nil
		}
		switch {
		case err == nil:
			l.complete = true
			return l, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return l, err
		}
	}
}
