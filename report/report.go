// Package report turns check results into a scored report and renders it
// as a terminal table (text.go) or as the versioned JSON document
// (json.go, schema in docs/report.schema.json).
package report

import (
	"time"

	"github.com/mailcheck/mailcheck/checks"
)

// SchemaVersion is the version of the JSON document. It changes only when
// a field is removed or changes meaning; new fields may appear within one
// version.
const SchemaVersion = "1.0"

// Report is the audit of one domain.
type Report struct {
	SchemaVersion string               `json:"schema_version"`
	Domain        string               `json:"domain"`                   // A-label form
	DomainUnicode string               `json:"domain_unicode,omitempty"` // only when it differs
	Score         int                  `json:"score"`                    // 0-100
	Grade         string               `json:"grade"`                    // A-F, or "-" when nothing was evaluated
	Evaluated     bool                 `json:"evaluated"`                // false: nothing could be evaluated
	StartedAt     time.Time            `json:"started_at"`
	DurationMS    int64                `json:"duration_ms"`
	Resolver      []string             `json:"resolver"` // servers or zone files used
	Summary       Summary              `json:"summary"`
	Checks        []checks.CheckResult `json:"checks"`
}

// Summary counts findings by severity.
type Summary struct {
	Pass  int `json:"pass"`
	Info  int `json:"info"`
	Warn  int `json:"warn"`
	Fail  int `json:"fail"`
	Error int `json:"error"`
}

// New builds a report from results and scores it; weights come from the
// checks' Meta.
func New(domain, unicode string, started time.Time, resolver []string, results []checks.CheckResult, list []checks.Check) *Report {
	r := &Report{
		SchemaVersion: SchemaVersion,
		Domain:        domain,
		StartedAt:     started.UTC(),
		DurationMS:    time.Since(started).Milliseconds(),
		Resolver:      resolver,
		Checks:        results,
	}
	if unicode != domain {
		r.DomainUnicode = unicode
	}
	if r.Resolver == nil {
		r.Resolver = []string{}
	}
	weights := map[string]int{}
	for _, c := range list {
		weights[c.Meta().Name] = c.Meta().Weight
	}
	r.Score, r.Evaluated = Score(results, weights)
	r.Grade = Grade(r.Score, r.Evaluated, r.HasFail())
	for _, c := range results {
		for _, f := range c.Findings {
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
	return r
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
	if !c.Evaluated() {
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
func Score(results []checks.CheckResult, weights map[string]int) (score int, evaluated bool) {
	total, wsum := 0, 0
	for _, c := range results {
		s, ok := CheckScore(c)
		if !ok {
			continue
		}
		w := weights[c.Name]
		if w <= 0 {
			w = 1
		}
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
