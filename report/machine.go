package report

import (
	"strings"

	"github.com/mailcheck/mailcheck/checks"
)

// RepoURL is where the documentation that machine formats link to lives.
const RepoURL = "https://github.com/mailcheck/mailcheck"

// checkOfID returns the check a finding ID belongs to: the part before
// its first dot ("mx.cname" → "mx"); the runner's own IDs ("check.*")
// belong to no check.
func checkOfID(id string) string {
	c, _, _ := strings.Cut(id, ".")
	return c
}

// helpURI links a finding ID to its documentation: the check's page, or
// the catalogue for the runner's own findings.
func helpURI(id string) string {
	c := checkOfID(id)
	if c == "check" || c == "" {
		return RepoURL + "/blob/main/docs/findings.md"
	}
	return RepoURL + "/blob/main/docs/checks/" + c + ".md#" + id
}

// eachFinding calls fn for every finding of r with its check, in order.
func eachFinding(r *Report, fn func(c *checks.CheckResult, f *checks.Finding)) {
	for i := range r.Checks {
		c := &r.Checks[i]
		for j := range c.Findings {
			fn(c, &c.Findings[j])
		}
	}
}

// oneLine folds a message onto one line (for formats that are line based).
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
