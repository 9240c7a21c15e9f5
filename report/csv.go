package report

import (
	"encoding/csv"
	"io"
	"strconv"
)

// csvReporter writes a header, then one row per domain: the figures of
// the report and the verdict of each selected check (the worst
// non-error severity, or "error" when the check was not evaluated).
type csvReporter struct {
	w      *csv.Writer
	checks []string
}

var _ Reporter = (*csvReporter)(nil)

func newCSVReporter(w io.Writer, _ Options) Reporter { return &csvReporter{w: csv.NewWriter(w)} }

// csvColumns are the fixed columns; one column per check follows.
var csvColumns = []string{"domain", "score", "grade", "graded", "evaluated", "complete", "coverage",
	"pass", "info", "warn", "fail", "error"}

// Begin implements Reporter: the header names the run's checks.
func (c *csvReporter) Begin(run Run) error {
	c.checks = run.Checks
	head := append([]string(nil), csvColumns...)
	head = append(head, run.Checks...)
	return c.write(head)
}

// Report implements Reporter.
func (c *csvReporter) Report(r *Report) error {
	s := r.Summary
	row := []string{r.Domain, strconv.Itoa(r.Score), r.Grade, strconv.FormatBool(r.Graded),
		strconv.FormatBool(r.Evaluated), strconv.FormatBool(r.Complete), strconv.Itoa(r.Coverage),
		strconv.Itoa(s.Pass), strconv.Itoa(s.Info), strconv.Itoa(s.Warn), strconv.Itoa(s.Fail), strconv.Itoa(s.Error)}
	verdict := map[string]string{}
	for _, ch := range r.Checks {
		verdict[ch.Name] = string(ch.Verdict)
	}
	for _, name := range c.checks {
		row = append(row, verdict[name])
	}
	return c.write(row)
}

func (c *csvReporter) write(row []string) error {
	if err := c.w.Write(row); err != nil {
		return err
	}
	c.w.Flush()
	return c.w.Error()
}

// End implements Reporter.
func (c *csvReporter) End(RunSummary) error { return nil }
