package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/mailcheck/mailcheck/internal/schedule"
	"github.com/mailcheck/mailcheck/report"
)

// progress is the bar a bulk run shows on a terminal's standard error:
// domains done (of the total when known), rate, ETA and errors. The
// scheduler's progress hook feeds it from the audits' goroutines.
type progress struct {
	mu     sync.Mutex
	bar    *progressbar.ProgressBar
	errors int
}

// newProgress starts a bar on w; total < 0 when not known.
func newProgress(w io.Writer, total int) *progress {
	bar := progressbar.NewOptions64(int64(total),
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("auditing"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("domains"),
		progressbar.OptionSetPredictTime(total >= 0),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetWidth(30),
	)
	return &progress{bar: bar}
}

// event is the scheduler's progress hook.
func (p *progress) event(e schedule.Event) {
	if e.Kind != schedule.Finished {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Report.Summary.Error > 0 || !e.Report.Evaluated {
		p.errors++
		p.bar.Describe(fmt.Sprintf("auditing (errors: %d)", p.errors))
	}
	p.bar.Add(1)
}

// finish clears the bar before the summary is written.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bar.Exit()
	p.bar.Clear()
}

// monitor is what a run shows on stderr besides errors: the progress
// bar and the final summary, each when wanted.
type monitor struct {
	fleet *fleet    // nil: no summary
	bar   *progress // nil: no bar
}

func (a *app) newMonitor(f *auditFlags, in *runInput) *monitor {
	m := &monitor{}
	if f.bulk.wantSummary() {
		m.fleet = newFleet()
	}
	if a.showProgress(f) {
		m.bar = newProgress(a.stderr, in.total)
	}
	return m
}

// hook is the scheduler's progress hook (nil without a bar).
func (m *monitor) hook() func(schedule.Event) {
	if m.bar == nil {
		return nil
	}
	return m.bar.event
}

// add counts a report as it is written.
func (m *monitor) add(r *report.Report) {
	if m.fleet != nil {
		b := briefOf(r)
		m.fleet.add(&b)
	}
}

// finish clears the bar and writes the summary to w.
func (m *monitor) finish(w io.Writer, in *runInput) {
	if m.bar != nil {
		m.bar.finish()
	}
	if m.fleet == nil {
		return
	}
	m.fleet.Malformed = in.malformed()
	m.fleet.finish(10)
	if l := in.lines; l != nil && (l.Duplicates > 0 || l.Dropped > 0) {
		fmt.Fprintf(w, "input: %d duplicates skipped, %d in other shards or already reported\n", l.Duplicates, l.Dropped)
	}
	m.fleet.writeText(w)
}
