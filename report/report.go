// Package report turns check results into a scored report and renders it
// as the terminal report (text.go) or as the versioned JSON document
// (json.go, schema in docs/report.schema.json).
package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/mailcheck/mailcheck/checks"
)

// SchemaVersion is the version of the JSON document. It changes only when
// a field is removed or changes meaning; new fields may appear within one
// version.
const SchemaVersion = "1.2"

// Report is the audit of one domain.
type Report struct {
	SchemaVersion string `json:"schema_version"`
	Domain        string `json:"domain"`                   // A-label form
	DomainUnicode string `json:"domain_unicode,omitempty"` // only when it differs
	Score         int    `json:"score"`                    // 0-100 over the evaluated checks; 0 when not graded
	Grade         string `json:"grade"`                    // A-F, or "-" when no grade is given
	// Graded is false when no grade is given: an essential check (mx, spf,
	// dmarc) was not evaluated, less than MinCoverage of the weight was,
	// or the run was interrupted. GradeWithheld says why.
	Graded        bool   `json:"graded"`
	GradeWithheld string `json:"grade_withheld,omitempty"`
	Evaluated     bool   `json:"evaluated"` // false: nothing could be evaluated
	// Complete is true when every check was evaluated and no lookup or
	// probe failed (no error finding). Only a complete report can pass
	// without --allow-incomplete.
	Complete bool `json:"complete"`
	// Coverage is the share of the checks' weight (percent, rounded down)
	// carried by the checks that were evaluated.
	Coverage    int      `json:"coverage"`
	Unevaluated []string `json:"unevaluated"` // the checks that could not be evaluated
	// NXDomain is set when the domain does not exist: the report is then
	// graded F whatever else was found.
	NXDomain    bool      `json:"nxdomain,omitempty"`
	Interrupted bool      `json:"interrupted,omitempty"` // a signal ended the run
	StartedAt   time.Time `json:"started_at"`
	DurationMS  int64     `json:"duration_ms"`
	Resolver    []string  `json:"resolver"` // servers or zone files used
	Summary     Summary   `json:"summary"`
	// Baseline is set with --baseline only: the comparison with the
	// earlier report (schema 1.2).
	Baseline *BaselineResult      `json:"baseline,omitempty"`
	Checks   []checks.CheckResult `json:"checks"`
}

// MinCoverage is the share of the weight (percent) that must be evaluated
// for a report to get a grade.
const MinCoverage = 60

// Summary counts findings by severity.
type Summary struct {
	Pass  int `json:"pass"`
	Info  int `json:"info"`
	Warn  int `json:"warn"`
	Fail  int `json:"fail"`
	Error int `json:"error"`
}

// New builds a report from results and scores it; weights come from the
// checks' results (the runner copies them from each Meta).
func New(domain, unicode string, started time.Time, resolver []string, results []checks.CheckResult) *Report {
	r := &Report{
		SchemaVersion: SchemaVersion,
		Domain:        domain,
		StartedAt:     started.UTC(),
		DurationMS:    time.Since(started).Milliseconds(),
		Resolver:      resolver,
		Checks:        results,
		Unevaluated:   []string{},
	}
	if unicode != domain {
		r.DomainUnicode = unicode
	}
	if r.Resolver == nil {
		r.Resolver = []string{}
	}
	for i := range r.Checks {
		c := &r.Checks[i]
		if s, ok := CheckScore(*c); ok {
			c.Score = &s
		}
		r.count(c.Findings)
		r.Interrupted = r.Interrupted || hasID(c.Findings, checks.SpecInterrupted.ID)
		r.NXDomain = r.NXDomain || hasID(c.Findings, checks.SpecNXDomain.ID)
	}
	r.Score, r.Evaluated = Score(results)
	r.Coverage, r.Unevaluated = coverage(results)
	r.Complete = len(r.Unevaluated) == 0 && r.Summary.Error == 0
	r.grade()
	return r
}

// grade applies the grading rules (README "Severities and score").
func (r *Report) grade() {
	missing := []string{}
	for _, n := range r.Unevaluated {
		if checks.IsEssential(n) {
			missing = append(missing, n)
		}
	}
	switch {
	case r.NXDomain:
		r.Score, r.Grade, r.Graded = 0, "F", true
		return
	case r.Interrupted:
		r.GradeWithheld = "the run was interrupted"
	case !r.Evaluated:
		r.GradeWithheld = "nothing could be evaluated"
	case len(missing) > 0:
		r.GradeWithheld = fmt.Sprintf("essential checks could not be evaluated: %s", strings.Join(missing, ", "))
	case r.Coverage < MinCoverage:
		r.GradeWithheld = fmt.Sprintf("only %d%% of the score's weight could be evaluated (a grade needs %d%%)", r.Coverage, MinCoverage)
	}
	r.Graded = r.GradeWithheld == ""
	if !r.Graded {
		// A partial mean is not a score: monitoring that reads only
		// "score" must not see 100 for a domain it could not check.
		r.Score = 0
	}
	r.Grade = Grade(r.Score, r.Graded, r.HasFail())
}

func (r *Report) count(fs []checks.Finding) {
	for _, f := range fs {
		switch f.Severity {
		case checks.Pass:
			r.Summary.Pass++
		case checks.Info:
			r.Summary.Info++
		case checks.Warn:
			r.Summary.Warn++
		case checks.Fail:
			r.Summary.Fail++
		case checks.Error:
			r.Summary.Error++
		}
	}
}

func hasID(fs []checks.Finding, id string) bool {
	for _, f := range fs {
		if f.ID == id {
			return true
		}
	}
	return false
}

// coverage returns the percentage of the weight carried by evaluated
// checks and the names of the others.
func coverage(results []checks.CheckResult) (int, []string) {
	total, got := 0, 0
	missing := []string{}
	for _, c := range results {
		w := weight(c)
		total += w
		if c.Evaluated {
			got += w
		} else {
			missing = append(missing, c.Name)
		}
	}
	if total == 0 {
		return 0, missing
	}
	return got * 100 / total, missing
}

func weight(c checks.CheckResult) int {
	if c.Weight <= 0 {
		return 1
	}
	return c.Weight
}

// Outcome is what a report means to a CI gate.
type Outcome int

const (
	Passed      Outcome = iota // graded, complete (or allowed), no fail, score at least the threshold
	Failed                     // a fail finding, NXDOMAIN, or a score below the threshold
	Unevaluated                // no grade, or incomplete without allowIncomplete
)

// Gate judges the report for a CI gate (docs/scoring.md, exit codes): a
// fail is a fail even in an incomplete report; then a report without a
// grade or incomplete (unless allowIncomplete) could not be evaluated;
// then the score is compared with failUnder.
func (r *Report) Gate(failUnder int, allowIncomplete bool) Outcome {
	switch {
	case r.NXDomain || r.HasFail():
		return Failed
	case !r.Graded || !r.Complete && !allowIncomplete:
		return Unevaluated
	case r.Score < failUnder:
		return Failed
	}
	return Passed
}

// HasFail reports whether any finding is a fail.
func (r *Report) HasFail() bool {
	for _, c := range r.Checks {
		for _, f := range c.Findings {
			if f.Severity == checks.Fail {
				return true
			}
		}
	}
	return false
}

// Penalties per finding, out of a check's 100 points.
const (
	failPenalty = 60
	warnPenalty = 20
)

// CheckScore scores one check: 100 minus 60 per fail and 20 per warn,
// floored at 0. Pass, info and error findings cost nothing. ok is false
// when the check evaluated nothing (only error findings): such a check is
// left out of the total rather than counted as passed or failed.
func CheckScore(c checks.CheckResult) (score int, ok bool) {
	if !c.HasEvaluation() {
		return 0, false
	}
	score = 100
	for _, f := range c.Findings {
		switch f.Severity {
		case checks.Fail:
			score -= failPenalty
		case checks.Warn:
			score -= warnPenalty
		}
	}
	return max(score, 0), true
}

// Score is the weighted mean of the evaluated checks' scores, rounded.
func Score(results []checks.CheckResult) (score int, evaluated bool) {
	total, wsum := 0, 0
	for _, c := range results {
		s, ok := CheckScore(c)
		if !ok {
			continue
		}
		w := weight(c)
		total += s * w
		wsum += w
	}
	if wsum == 0 {
		return 0, false
	}
	return (total + wsum/2) / wsum, true
}

// Grade maps a score to a letter: A ≥ 90, B ≥ 80, C ≥ 70, D ≥ 60, else F.
// A report with a fail finding is never graded above C.
func Grade(score int, evaluated, hasFail bool) string {
	if !evaluated {
		return "-"
	}
	g := "F"
	switch {
	case score >= 90:
		g = "A"
	case score >= 80:
		g = "B"
	case score >= 70:
		g = "C"
	case score >= 60:
		g = "D"
	}
	if hasFail && (g == "A" || g == "B") {
		g = "C"
	}
	return g
}
