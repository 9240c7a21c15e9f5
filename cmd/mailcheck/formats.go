package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/report"
)

// outputFlags are the audit's flags for machine formats: extra outputs,
// the baseline and what fails the gate.
type outputFlags struct {
	outputs  []string // FORMAT=PATH
	baseline string
	failOn   string

	base *report.Baseline // loaded from baseline
}

func (o *outputFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.outputs, "output", nil, "also write the report in FORMAT to PATH (FORMAT=PATH, repeatable; formats as for --format)")
	fs.StringVar(&o.baseline, "baseline", "", "an earlier JSON report (or JSON Lines of several domains): mark each finding new or unchanged and list the fixed ones")
	fs.StringVar(&o.failOn, "fail-on", "any", "which fail findings fail the gate: any, or new (only those not in --baseline)")
}

// validate checks the flags and loads the baseline.
func (o *outputFlags) validate() error {
	for _, spec := range o.outputs {
		name, path, ok := strings.Cut(spec, "=")
		if !ok || path == "" {
			return usageErr("--output %q: give FORMAT=PATH", spec)
		}
		if _, err := report.LookupFormat(name); err != nil {
			return usageErr("--output: %v", err)
		}
	}
	switch o.failOn {
	case "any", "": // "" when the command has no such flag (serve)
	case "new":
		if o.baseline == "" {
			return usageErr("--fail-on new needs --baseline")
		}
	default:
		return usageErr("--fail-on must be any or new, not %q", o.failOn)
	}
	if o.baseline != "" {
		b, err := report.LoadBaseline(o.baseline)
		if err != nil {
			return usageErr("--baseline: %v", err)
		}
		o.base = b
	}
	return nil
}

// apply compares r with the baseline, if any.
func (o *outputFlags) apply(r *report.Report) {
	if o.base != nil {
		r.Baseline = o.base.Apply(r)
	}
}

// gate judges r as --fail-on says.
func (o *outputFlags) gate(r *report.Report, failUnder int, allowIncomplete bool) report.Outcome {
	if o.failOn == "new" {
		return r.GateNew(failUnder, allowIncomplete)
	}
	return r.Gate(failUnder, allowIncomplete)
}

// outputs is the run's reporters: stdout's, then one per --output file.
type outputs struct {
	stdout report.Reporter
	all    []report.Reporter
	files  []*os.File
}

// openOutputs builds the reporters of the run.
// domains is -1 when not known; an --output file that --resume names is
// appended to.
func (a *app) openOutputs(f *auditFlags, domains int, res *resumed) (*outputs, error) {
	opt := f.reportOptions(a)
	opt.FailUnder, opt.AllowIncomplete = f.failUnder, f.allowIncomplete
	opt.MultiDomain, opt.Locate = domains != 1, a.zoneLocator(f.zones)
	format, err := report.LookupFormat(f.format)
	if err != nil {
		return nil, usageErr("--format: %v", err)
	}
	o := &outputs{stdout: format.New(a.stdout, opt)}
	o.all = append(o.all, o.stdout)
	for _, spec := range f.out.outputs {
		name, path, _ := strings.Cut(spec, "=")
		ff, _ := report.LookupFormat(name)
		file, err := createOutput(path, res)
		if err != nil {
			o.close()
			return nil, &exitError{code: exitOutput, err: fmt.Errorf("--output: %w", err)}
		}
		o.files = append(o.files, file)
		fopt := opt
		fopt.Color = false
		o.all = append(o.all, ff.New(file, fopt))
	}
	return o, nil
}

// createOutput creates an --output file, or opens the resumed one for
// appending.
func createOutput(path string, res *resumed) (*os.File, error) {
	if res.appendsTo(path) {
		return res.openAppend()
	}
	return os.Create(path)
}

// zoneLocator indexes the --zone files for SARIF locations; a file whose
// lines cannot be matched gives no locations (nil when none can).
func (a *app) zoneLocator(zones []string) func(string) (string, int, bool) {
	var ix resolve.LineIndex
	n := 0
	for _, spec := range zones {
		origin, path := "", spec
		if i := strings.Index(spec, "="); i > 0 {
			origin, path = spec[:i], spec[i+1:]
		}
		if err := ix.AddZoneFile(path, origin); err == nil {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return ix.Locate
}

// Begin, Report and End call every reporter; the first error wins.
func (o *outputs) Begin(run report.Run) error {
	return o.each(func(r report.Reporter) error { return r.Begin(run) })
}

func (o *outputs) Report(rep *report.Report) error {
	return o.each(func(r report.Reporter) error { return r.Report(rep) })
}

func (o *outputs) End(sum report.RunSummary) error {
	return errors.Join(o.each(func(r report.Reporter) error { return r.End(sum) }), o.close())
}

func (o *outputs) each(fn func(report.Reporter) error) error {
	var errs []error
	for _, r := range o.all {
		errs = append(errs, fn(r))
	}
	return errors.Join(errs...)
}

// close closes the --output files.
func (o *outputs) close() error {
	var errs []error
	for _, f := range o.files {
		errs = append(errs, f.Close())
	}
	o.files = nil
	return errors.Join(errs...)
}

// onlyFormats refuses a --format value a command has no use for (exit 2).
func onlyFormats(cmd, format string, allowed ...string) error {
	if slices.Contains(allowed, strings.ToLower(format)) {
		return nil
	}
	return usageErr("%s --format must be %s, not %q", cmd, strings.Join(allowed, " or "), format)
}

// printVersion prints the version as text or as a JSON object.
func (a *app) printVersion(format string) error {
	if err := onlyFormats("version", format, "text", "json"); err != nil {
		return err
	}
	if strings.ToLower(format) == "json" {
		enc := json.NewEncoder(a.stdout)
		return enc.Encode(map[string]string{"version": version, "report_schema": reportSchema})
	}
	_, err := fmt.Fprintf(a.stdout, "mailcheck %s (report schema %s)\n", version, reportSchema)
	return err
}

// writeCatalogueCSV writes the finding catalogue as CSV.
func writeCatalogueCSV(w io.Writer, specs []checks.Spec) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "severity", "rfc", "summary"})
	for _, s := range specs {
		cw.Write([]string{s.ID, string(s.Severity), s.RFC, s.Summary})
	}
	cw.Flush()
	return cw.Error()
}
