package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/mailcheck/mailcheck/checks"
)

// Reporter renders one run: Begin once, Report once per domain in the
// run's order, End once. Formats that write one document per run (SARIF,
// JUnit, metrics) keep what they need between calls; streaming formats
// (text, JSON Lines) write each report as it comes.
type Reporter interface {
	Begin(run Run) error
	Report(r *Report) error
	End(sum RunSummary) error
}

// Run describes a run to its reporter before the first report.
type Run struct {
	Tool      string        // "mailcheck dev"
	Started   time.Time     // when the run began
	Domains   int           // how many domains will be reported; -1 when not known yet
	Checks    []string      // the selected checks, by short name
	Catalogue []checks.Spec // every finding the selected checks can emit
}

// RunSummary is what a run ends with.
type RunSummary struct {
	Domains     int // reports written
	Failed      int // domains with a fail finding, NXDOMAIN or a score below --fail-under
	Unevaluated int // domains without a grade or incomplete (unless --allow-incomplete)
	Interrupted bool
}

// Options are the settings of every format; each uses the ones it needs.
type Options struct {
	Color   bool // text: ANSI colours
	Width   int  // text: columns; 0 means DefaultWidth
	Verbose bool // text: each finding's evidence

	// FailUnder and AllowIncomplete are the gate's settings (nagios: the
	// WARNING threshold and whether an incomplete report is UNKNOWN).
	FailUnder       int
	AllowIncomplete bool
	// MultiDomain is set when the run has several domains (nagios:
	// perfdata labels are prefixed with the domain).
	MultiDomain bool
	// Locate finds the zone file and line of a record given in
	// presentation format (sarif, with --zone); nil when no zone file.
	Locate func(record string) (file string, line int, ok bool)
}

// Format is one output format: its name for --format and its constructor.
type Format struct {
	Name        string
	Description string
	New         func(w io.Writer, opt Options) Reporter
}

// Formats lists every output format, in the order help text shows them.
// A new format is one file in report/ plus one line here.
var Formats = []Format{
	{Name: "text", Description: "the terminal report (one per domain)", New: newBaselineTextReporter},
	{Name: "json", Description: "one JSON document per domain, one per line (docs/report.schema.json)", New: newJSONReporter},
	{Name: "sarif", Description: "SARIF 2.1.0 log for code scanning, one run (docs/formats.md)", New: newSARIFReporter},
	{Name: "junit", Description: "JUnit XML: a testsuite per domain, a testcase per check", New: newJUnitReporter},
	{Name: "prometheus", Description: "Prometheus text exposition for the node_exporter textfile collector", New: newPrometheusReporter},
	{Name: "csv", Description: "CSV: a header, then one row per domain", New: newCSVReporter},
	{Name: "nagios", Description: "Nagios/Icinga plugin output: one status line with perfdata; exit code 0-3 by plugin state", New: newNagiosReporter},
}

// FormatNames returns the names of the formats.
func FormatNames() []string {
	var out []string
	for _, f := range Formats {
		out = append(out, f.Name)
	}
	return out
}

// LookupFormat finds a format by name, case-insensitively.
func LookupFormat(name string) (Format, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	i := slices.IndexFunc(Formats, func(f Format) bool { return f.Name == n })
	if i < 0 {
		return Format{}, fmt.Errorf("unknown format %q (known: %s)", name, strings.Join(FormatNames(), ", "))
	}
	return Formats[i], nil
}
