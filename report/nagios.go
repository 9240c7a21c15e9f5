package report

import (
	"fmt"
	"io"
	"strings"
)

// Nagios/Icinga plugin states (Nagios Plugin Development Guidelines):
// the exit code of `--format nagios` is the state of the worst domain.
const (
	NagiosOK       = 0
	NagiosWarning  = 1
	NagiosCritical = 2
	NagiosUnknown  = 3
)

var nagiosNames = [...]string{"OK", "WARNING", "CRITICAL", "UNKNOWN"}

// NagiosState maps a report to a plugin state: a fail finding or
// NXDOMAIN is CRITICAL; a report that could not be graded or is
// incomplete (unless allowIncomplete) is UNKNOWN; a warn finding or a
// score below failUnder is WARNING; else OK.
func NagiosState(r *Report, failUnder int, allowIncomplete bool) int {
	switch {
	case r.NXDomain || r.Summary.Fail > 0:
		return NagiosCritical
	case !r.Graded || !r.Complete && !allowIncomplete:
		return NagiosUnknown
	case r.Summary.Warn > 0 || r.Score < failUnder:
		return NagiosWarning
	}
	return NagiosOK
}

// nagiosReporter writes one status line for the run, with perfdata,
// at End: a plugin prints one line (several domains share it).
type nagiosReporter struct {
	w       io.Writer
	opt     Options
	state   int
	texts   []string
	perf    []string
	domains int
}

var _ Reporter = (*nagiosReporter)(nil)

func newNagiosReporter(w io.Writer, opt Options) Reporter { return &nagiosReporter{w: w, opt: opt} }

// Begin implements Reporter.
func (n *nagiosReporter) Begin(Run) error { return nil }

// Report implements Reporter.
func (n *nagiosReporter) Report(r *Report) error {
	st := NagiosState(r, n.opt.FailUnder, n.opt.AllowIncomplete)
	if nagiosWorse(st, n.state) || n.domains == 0 {
		n.state = st
	}
	n.domains++
	text := fmt.Sprintf("%s score %d grade %s", r.Domain, r.Score, r.Grade)
	if r.Summary.Fail+r.Summary.Warn+r.Summary.Error > 0 {
		text += fmt.Sprintf(" (%d fail, %d warn, %d error)", r.Summary.Fail, r.Summary.Warn, r.Summary.Error)
	}
	n.texts = append(n.texts, text)
	prefix := ""
	if n.opt.MultiDomain {
		prefix = r.Domain + "_"
	}
	warnAt, critAt := 80, 60
	if n.opt.FailUnder > 0 {
		warnAt = n.opt.FailUnder
	}
	n.perf = append(n.perf, fmt.Sprintf("%sscore=%d;%d;%d;0;100", prefix, r.Score, warnAt, critAt),
		fmt.Sprintf("%scoverage=%d%%;;;0;100", prefix, r.Coverage),
		fmt.Sprintf("%sfail=%d;;;0", prefix, r.Summary.Fail), fmt.Sprintf("%swarn=%d;;;0", prefix, r.Summary.Warn),
		fmt.Sprintf("%serror=%d;;;0", prefix, r.Summary.Error))
	return nil
}

// nagiosWorse orders states CRITICAL > WARNING > UNKNOWN > OK, as
// monitoring systems rank them.
func nagiosWorse(a, b int) bool {
	rank := [...]int{0, 2, 3, 1}
	return rank[a] > rank[b]
}

// NagiosResult is the state of the last run written; the CLI exits with it.
func NagiosResult(rep Reporter) (int, bool) {
	n, ok := rep.(*nagiosReporter)
	if !ok {
		return 0, false
	}
	return n.state, true
}

// End implements Reporter.
func (n *nagiosReporter) End(sum RunSummary) error {
	state := n.state
	if n.domains == 0 || sum.Interrupted {
		state = NagiosUnknown
		n.texts = append(n.texts, "no complete report")
	}
	n.state = state
	_, err := fmt.Fprintf(n.w, "MAILCHECK %s - %s | %s\n", nagiosNames[state], strings.Join(n.texts, "; "), strings.Join(n.perf, " "))
	return err
}
