package checks

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/gopool"
)

// CheckResult is one check's section of a report.
type CheckResult struct {
	Name       string    `json:"name"`
	Title      string    `json:"title"`
	Status     Severity  `json:"status"` // the worst severity among the findings (fail > error > warn > info > pass)
	DurationMS int64     `json:"duration_ms"`
	Findings   []Finding `json:"findings"`
	Data       any       `json:"data,omitempty"`

	// Verdict is the worst severity among the findings that are not
	// errors, or error when the check evaluated nothing: what the check's
	// header shows, beside its error count.
	Verdict Severity `json:"verdict"`
	// Evaluated is false when the check could not say anything about the
	// domain (only error findings) or was cut short by the deadline or an
	// interruption: then it has no score and carries no weight.
	Evaluated bool `json:"evaluated"`
	// Score is the check's score (0-100), absent when not evaluated.
	Score *int `json:"score,omitempty"`
	// Weight is the check's share of the report's score.
	Weight int `json:"weight"`
	// Errors counts the error findings.
	Errors int `json:"errors"`
	// CutShort is set when the audit deadline or an interruption ended
	// the check before it returned everything.
	CutShort bool `json:"cut_short,omitempty"`
}

// HasEvaluation reports whether the check evaluated the domain: it was
// not cut short, and it has a verdict (a pass, warn or fail finding), or
// only info findings and no error. Info findings carry no verdict: beside
// errors, they do not make a check evaluated (a check whose probes all
// failed is not rescued by a note).
func (r CheckResult) HasEvaluation() bool {
	if r.CutShort {
		return false
	}
	info, errs := false, false
	for _, f := range r.Findings {
		switch f.Severity {
		case Pass, Warn, Fail:
			return true
		case Info:
			info = true
		case Error:
			errs = true
		}
	}
	return info && !errs
}

// runnerCatalog declares the finding IDs of the runner, each once (findings.Catalog).
var runnerCatalog findings.Catalog

// Runner-level findings, shared by every check.
var (
	SpecPanic       = runnerCatalog.Add(Spec{ID: "check.panic", Severity: Error, Summary: "the check crashed; the rest of the report is intact (please report this as a bug)"})
	SpecDeadline    = runnerCatalog.Add(Spec{ID: "check.deadline", Severity: Error, Summary: "the audit deadline (--deadline) ended the check: what it found so far is shown, and it counts as not evaluated"})
	SpecInterrupted = runnerCatalog.Add(Spec{ID: "check.interrupted", Severity: Error, Summary: "the run was interrupted (SIGINT or SIGTERM) before the check finished: it counts as not evaluated"})
	SpecNoFinding   = runnerCatalog.Add(Spec{ID: "check.no-finding", Severity: Error, Summary: "the check returned no finding at all (a bug: every check must say what it saw or why it could not look)"})
	SpecTruncated   = runnerCatalog.Add(Spec{ID: "check.truncated", Severity: Info, Summary: "more findings of one kind than a report keeps: the rest are counted, not listed"})
)

// RunnerSpecs lists the findings the runner itself may add to any check.
var RunnerSpecs = runnerCatalog.Specs()

// ErrInterrupted is the cancellation cause the CLI gives the audit's
// context when a signal stops the run (context.WithCancelCause); the
// runner then says "interrupted" rather than "deadline".
var ErrInterrupted = errors.New("interrupted")

// DeadlineGrace is how long the runner waits past the audit deadline for
// each check to return what it has before reporting it as unfinished.
const DeadlineGrace = 250 * time.Millisecond

// Run runs the checks concurrently on env and returns their results in
// the order given. Each check runs under ctx (the audit deadline). A check
// that panics yields a check.panic finding; one still running when ctx
// ends gets DeadlineGrace of its own to return, then check.deadline (or
// check.interrupted); one that returns after ctx ended keeps its findings
// with check.deadline added. Neither affects the other checks, and no
// check waits for another.
func Run(ctx context.Context, env *Env, list []Check) []CheckResult {
	type done struct {
		i   int
		res Result
		at  time.Time
	}
	ch := make(chan done, len(list))
	start := time.Now()
	for i, c := range list {
		gopool.Go(ctx, func() {
			defer func() {
				if p := recover(); p != nil {
					env.Log.Error("check panicked", "check", c.Meta().Name, "panic", p, "stack", string(debug.Stack()))
					ch <- done{i, Result{Findings: []Finding{SpecPanic.New("the %s check crashed: %v", c.Meta().Name, p)}}, time.Now()}
				}
			}()
			res := c.Run(ctx, env)
			ch <- done{i, res, time.Now()}
		})
	}
	out := make([]CheckResult, len(list))
	got := make([]bool, len(list))
	var grace <-chan time.Time
	ctxDone := ctx.Done()
	for n := 0; n < len(list); {
		select {
		case d := <-ch:
			cut := ended(ctx, d.at)
			out[d.i] = finish(list[d.i].Meta(), d.res, d.at.Sub(start), cut, ctx)
			got[d.i] = true
			n++
		case <-ctxDone:
			ctxDone = nil
			grace = time.After(DeadlineGrace)
		case <-grace:
			for i, c := range list {
				if !got[i] {
					out[i] = finish(c.Meta(), Result{}, time.Since(start), true, ctx)
				}
			}
			return out
		}
	}
	return out
}

// ended reports whether ctx was over at t: cancelled, or past its
// deadline (a socket deadline taken from ctx can fire before ctx's timer).
func ended(ctx context.Context, t time.Time) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !t.Before(dl)
}

// finish turns what a check returned into its result: the runner's own
// findings added, every finding bounded, statuses set.
func finish(m Meta, res Result, took time.Duration, cut bool, ctx context.Context) CheckResult {
	fs := boundFindings(res.Findings)
	if cut {
		fs = append(fs, endedFinding(ctx, m.Name, len(fs) > 0))
	}
	if len(fs) == 0 {
		fs = []Finding{SpecNoFinding.New("the %s check returned no finding", m.Name)}
	}
	r := CheckResult{Name: m.Name, Title: m.Title, DurationMS: took.Milliseconds(), Findings: fs, Data: res.Data,
		Weight: m.Weight, CutShort: cut}
	r.Status = Status(fs)
	r.Verdict = Verdict(fs)
	for _, f := range fs {
		if f.Severity == Error {
			r.Errors++
		}
	}
	r.Evaluated = r.HasEvaluation()
	if !r.Evaluated {
		r.Verdict = Error
	}
	return r
}

// endedFinding says why the runner stopped waiting for a check.
func endedFinding(ctx context.Context, name string, partial bool) Finding {
	what := "did not finish"
	if partial {
		what = "was cut short; what it found so far is shown"
	}
	if errors.Is(context.Cause(ctx), ErrInterrupted) {
		return SpecInterrupted.New("the run was interrupted before the %s check finished: it %s", name, strings.TrimPrefix(what, "was "))
	}
	return SpecDeadline.New("the audit deadline ended the %s check: it %s", name, what)
}

// boundFindings applies Finding.Bounded to each finding, keeps at most
// MaxPerID findings of one ID (counting the rest in check.truncated) and
// at most MaxCheckRecords bytes of evidence.
func boundFindings(in []Finding) []Finding {
	out := make([]Finding, 0, min(len(in), 4*MaxPerID))
	seen := map[string]int{}
	var order []string
	budget := MaxCheckRecords
	for _, f := range in {
		seen[f.ID]++
		if seen[f.ID] == 1 {
			order = append(order, f.ID)
		}
		if seen[f.ID] <= MaxPerID {
			out = append(out, spendRecords(f.Bounded(), &budget))
		}
	}
	for _, id := range order {
		if n := seen[id]; n > MaxPerID {
			out = append(out, SpecTruncated.New("%d more %s findings were left out (a report keeps %d of one kind)", n-MaxPerID, id, MaxPerID).Bounded())
		}
	}
	return out
}

// spendRecords keeps the records of f that fit in the budget of bytes
// left, counting the others in RecordsOmitted.
func spendRecords(f Finding, budget *int) Finding {
	for i, r := range f.Records {
		if len(r) > *budget {
			f.RecordsOmitted += len(f.Records) - i
			f.Records = f.Records[:i]
			break
		}
		*budget -= len(r)
	}
	return f
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

// Verdict is the worst severity among the findings that are not errors
// (pass when there are none).
func Verdict(fs []Finding) Severity {
	st := Pass
	for _, f := range fs {
		if f.Severity != Error && f.Severity.Rank() > st.Rank() {
			st = f.Severity
		}
	}
	return st
}

// Select returns the registry entries named in names (all when names is
// nil), in registry order. Names are case-insensitive; an empty name is
// an error.
func Select(registry []Check, names []string) ([]Check, error) {
	if names == nil {
		return registry, nil
	}
	want := map[string]bool{}
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == "" {
			return nil, fmt.Errorf("empty check name (known: %s)", strings.Join(Names(registry), ", "))
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
