package checks

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"
)

// CheckResult is one check's section of a report.
type CheckResult struct {
	Name       string    `json:"name"`
	Title      string    `json:"title"`
	Status     Severity  `json:"status"` // the worst severity among the findings
	DurationMS int64     `json:"duration_ms"`
	Findings   []Finding `json:"findings"`
	Data       any       `json:"data,omitempty"`
}

// Evaluated reports whether the check produced at least one finding that
// is not an error.
func (r CheckResult) Evaluated() bool {
	for _, f := range r.Findings {
		if f.Severity != Error {
			return true
		}
	}
	return false
}

// Runner-level findings, shared by every check.
var (
	SpecPanic    = Spec{ID: "check.panic", Severity: Error, Summary: "the check crashed; the rest of the report is intact (please report this as a bug)"}
	SpecDeadline = Spec{ID: "check.deadline", Severity: Error, Summary: "the check did not finish before the audit deadline (--deadline)"}
)

// RunnerSpecs lists the findings the runner itself may add to any check.
var RunnerSpecs = []Spec{SpecPanic, SpecDeadline}

// deadlineGrace is how long the runner waits past the audit deadline for a
// check to return what it has before reporting it as unfinished.
const deadlineGrace = 250 * time.Millisecond

// Run runs the checks concurrently on env and returns their results in
// the order given. Each check runs under ctx (the audit deadline); a check
// that panics yields a check.panic finding, one that has not returned
// shortly after the deadline a check.deadline finding. Neither affects the
// other checks.
func Run(ctx context.Context, env *Env, list []Check) []CheckResult {
	out := make([]CheckResult, len(list))
	done := make([]chan Result, len(list))
	start := make([]time.Time, len(list))
	for i, c := range list {
		done[i] = make(chan Result, 1)
		start[i] = time.Now()
		go func() {
			defer func() {
				if p := recover(); p != nil {
					stack := string(debug.Stack())
					env.Log.Error("check panicked", "check", c.Meta().Name, "panic", p, "stack", stack)
					done[i] <- Result{Findings: []Finding{SpecPanic.New("the %s check crashed: %v", c.Meta().Name, p)}}
				}
			}()
			done[i] <- c.Run(ctx, env)
		}()
	}
	var timer <-chan time.Time
	for i, c := range list {
		m := c.Meta()
		var res Result
		select {
		case res = <-done[i]:
		case <-ctx.Done():
			if timer == nil {
				timer = time.After(deadlineGrace)
			}
			select {
			case res = <-done[i]:
			case <-timer:
				res = Result{Findings: []Finding{SpecDeadline.New("the %s check did not finish before the audit deadline", m.Name)}}
			}
		}
		out[i] = CheckResult{
			Name:       m.Name,
			Title:      m.Title,
			DurationMS: time.Since(start[i]).Milliseconds(),
			Findings:   res.Findings,
			Data:       res.Data,
		}
		if out[i].Findings == nil {
			out[i].Findings = []Finding{}
		}
		out[i].Status = Status(out[i].Findings)
	}
	return out
}

// Status is the worst severity among findings (pass when there are none).
func Status(fs []Finding) Severity {
	st := Pass
	for _, f := range fs {
		if f.Severity.Rank() > st.Rank() {
			st = f.Severity
		}
	}
	return st
}

// Select returns the registry entries named in names (all when names is
// empty), in registry order.
func Select(registry []Check, names []string) ([]Check, error) {
	if len(names) == 0 {
		return registry, nil
	}
	want := map[string]bool{}
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == "" {
			continue
		}
		found := false
		for _, c := range registry {
			if c.Meta().Name == n {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown check %q (known: %s)", n, strings.Join(Names(registry), ", "))
		}
		want[n] = true
	}
	var out []Check
	for _, c := range registry {
		if want[c.Meta().Name] {
			out = append(out, c)
		}
	}
	return out, nil
}

// Names returns the short names of the checks.
func Names(list []Check) []string {
	var out []string
	for _, c := range list {
		out = append(out, c.Meta().Name)
	}
	return out
}
