package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/mailcheck/mailcheck/checks"
)

// JUnit XML (the Ant/Jenkins dialect, report/testdata/junit-10.xsd): a
// testsuite per domain, a testcase per check; each fail finding is a
// <failure>, each error finding an <error>, and the other findings
// (pass, info, warn) are listed in the testcase's <system-out>.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string         `xml:"name,attr"`
	Classname string         `xml:"classname,attr"`
	Time      string         `xml:"time,attr"`
	Problems  []junitProblem `xml:",any"`
	SystemOut *junitCDATA    `xml:"system-out,omitempty"`
}

// junitCDATA is an element whose text is written as CDATA (readable
// with its line breaks).
type junitCDATA struct {
	Text string `xml:",cdata"`
}

// junitProblem is a <failure> or an <error>.
type junitProblem struct {
	XMLName xml.Name
	Type    string `xml:"type,attr"`
	Message string `xml:"message,attr"`
	Text    string `xml:",cdata"`
}

// junitReporter gathers one suite per domain and writes them at End.
type junitReporter struct {
	w      io.Writer
	suites junitSuites
	ms     int64
}

var _ Reporter = (*junitReporter)(nil)

func newJUnitReporter(w io.Writer, _ Options) Reporter {
	return &junitReporter{w: w, suites: junitSuites{Name: "mailcheck"}}
}

// Begin implements Reporter.
func (j *junitReporter) Begin(run Run) error {
	j.suites.Name = run.Tool
	return nil
}

// Report implements Reporter.
func (j *junitReporter) Report(r *Report) error {
	s := junitSuite{Name: r.Domain, Time: seconds(r.DurationMS), Timestamp: r.StartedAt.UTC().Format("2006-01-02T15:04:05"),
		Properties: []junitProperty{
			{"score", strconv.Itoa(r.Score)}, {"grade", r.Grade}, {"graded", strconv.FormatBool(r.Graded)},
			{"complete", strconv.FormatBool(r.Complete)}, {"coverage", strconv.Itoa(r.Coverage)}}}
	for i := range r.Checks {
		tc := junitTestcase(r.Domain, &r.Checks[i])
		s.Tests++
		for _, p := range tc.Problems {
			if p.XMLName.Local == "failure" {
				s.Failures++
			} else {
				s.Errors++
			}
		}
		s.Cases = append(s.Cases, tc)
	}
	j.suites.Tests += s.Tests
	j.suites.Failures += s.Failures
	j.suites.Errors += s.Errors
	j.ms += r.DurationMS
	j.suites.Suites = append(j.suites.Suites, s)
	return nil
}

// junitTestcase renders one check.
func junitTestcase(domain string, c *checks.CheckResult) junitCase {
	tc := junitCase{Name: c.Name, Classname: domain, Time: seconds(c.DurationMS)}
	var out strings.Builder
	for _, f := range c.Findings {
		switch f.Severity {
		case checks.Fail:
			tc.Problems = append(tc.Problems, junitProblem{XMLName: xml.Name{Local: "failure"}, Type: f.ID, Message: oneLine(f.Message), Text: findingDetail(f)})
		case checks.Error:
			tc.Problems = append(tc.Problems, junitProblem{XMLName: xml.Name{Local: "error"}, Type: f.ID, Message: oneLine(f.Message), Text: findingDetail(f)})
		default:
			fmt.Fprintf(&out, "%s %s: %s\n", strings.ToUpper(string(f.Severity)), f.ID, oneLine(f.Message))
		}
	}
	if out.Len() > 0 {
		tc.SystemOut = &junitCDATA{out.String()}
	}
	return tc
}

// findingDetail is the body of a failure or error: message, RFC, fix and
// evidence, one per line.
func findingDetail(f checks.Finding) string {
	var b strings.Builder
	b.WriteString(f.Message + "\n")
	if f.RFC != "" {
		b.WriteString("rfc: " + f.RFC + "\n")
	}
	if f.Fix != "" {
		b.WriteString("fix: " + f.Fix + "\n")
	}
	for _, rec := range f.Records {
		b.WriteString("record: " + rec + "\n")
	}
	return b.String()
}

// seconds formats milliseconds as JUnit's seconds.
func seconds(ms int64) string {
	return strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)
}

// End implements Reporter.
func (j *junitReporter) End(RunSummary) error {
	j.suites.Time = seconds(j.ms)
	if _, err := io.WriteString(j.w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(j.w)
	enc.Indent("", "  ")
	if err := enc.Encode(j.suites); err != nil {
		return err
	}
	_, err := io.WriteString(j.w, "\n")
	return err
}
