package report

import (
	"encoding/json"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/mailcheck/mailcheck/checks"
)

// Metrics holds the Prometheus series of one or more reports (the
// textfile-collector output of --format prometheus, and one scrape of
// `mailcheck serve`). Every series has a domain label.
type Metrics struct {
	Registry *prometheus.Registry

	score, graded, evaluated, complete, coverage, nxdomain *prometheus.GaugeVec
	grade, started, duration, findings                     *prometheus.GaugeVec
	checkVerdict, checkScore, checkEvaluated               *prometheus.GaugeVec
	certExpiry, dnsblListed                                *prometheus.GaugeVec
}

// NewMetrics returns an empty set of the report's metrics, registered.
func NewMetrics() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mailcheck_" + name, Help: help}, append([]string{"domain"}, labels...))
		m.Registry.MustRegister(v)
		return v
	}
	m.score = g("score", "Score of the domain, 0-100 (0 when no grade is given).")
	m.grade = g("grade_info", "The domain's grade (A-F, or - when no grade is given), as a label; the value is always 1.", "grade")
	m.graded = g("graded", "1 when the report has a grade, 0 when it was withheld.")
	m.evaluated = g("evaluated", "1 when anything could be evaluated.")
	m.complete = g("complete", "1 when every check was evaluated and no lookup or probe failed.")
	m.coverage = g("coverage_ratio", "Share of the checks' weight that was evaluated, 0-1.")
	m.nxdomain = g("nxdomain", "1 when the domain does not exist.")
	m.started = g("audit_start_timestamp_seconds", "When the audit began, in seconds since the epoch.")
	m.duration = g("audit_duration_seconds", "How long the audit took.")
	m.findings = g("findings", "Findings of the report by severity.", "severity")
	m.checkVerdict = g("check_verdict", "The verdict of each check as a label (pass, info, warn, fail, or error when not evaluated); the value is always 1.", "check", "verdict")
	m.checkScore = g("check_score", "Score of each evaluated check, 0-100.", "check")
	m.checkEvaluated = g("check_evaluated", "1 when the check was evaluated.", "check")
	m.certExpiry = g("tls_certificate_expiry_timestamp_seconds", "When the certificate a mail server presented expires (notAfter of the leaf), in seconds since the epoch.", "target")
	m.dnsblListed = g("dnsbl_listed", "1 when a blocklist lists the target, 0 when it does not (lists that gave no usable answer are left out).", "list", "target")
	return m
}

// Add records the series of one report.
func (m *Metrics) Add(r *Report) {
	d := r.Domain
	m.score.WithLabelValues(d).Set(float64(r.Score))
	m.grade.WithLabelValues(d, r.Grade).Set(1)
	m.graded.WithLabelValues(d).Set(b2f(r.Graded))
	m.evaluated.WithLabelValues(d).Set(b2f(r.Evaluated))
	m.complete.WithLabelValues(d).Set(b2f(r.Complete))
	m.coverage.WithLabelValues(d).Set(float64(r.Coverage) / 100)
	m.nxdomain.WithLabelValues(d).Set(b2f(r.NXDomain))
	m.started.WithLabelValues(d).Set(float64(r.StartedAt.UnixMilli()) / 1000)
	m.duration.WithLabelValues(d).Set(float64(r.DurationMS) / 1000)
	s := r.Summary
	for sev, n := range map[string]int{"pass": s.Pass, "info": s.Info, "warn": s.Warn, "fail": s.Fail, "error": s.Error} {
		m.findings.WithLabelValues(d, sev).Set(float64(n))
	}
	for i := range r.Checks {
		m.addCheck(d, &r.Checks[i])
	}
}

// addCheck records the series of one check, with the TLS and DNSBL
// details from the checks' data.
func (m *Metrics) addCheck(d string, c *checks.CheckResult) {
	m.checkVerdict.WithLabelValues(d, c.Name, string(c.Verdict)).Set(1)
	m.checkEvaluated.WithLabelValues(d, c.Name).Set(b2f(c.Evaluated))
	if c.Score != nil {
		m.checkScore.WithLabelValues(d, c.Name).Set(float64(*c.Score))
	}
	switch c.Name {
	case "tls":
		for target, exp := range tlsExpiry(c.Data) {
			m.certExpiry.WithLabelValues(d, target).Set(float64(exp.Unix()))
		}
	case "dnsbl":
		for _, l := range dnsblListings(c.Data) {
			m.dnsblListed.WithLabelValues(d, l.list, l.target).Set(b2f(l.listed))
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// reshape converts a check's data (a value of the check's own type, or
// the map a JSON report decodes to) into out through its JSON form.
func reshape(data, out any) bool {
	if data == nil {
		return false
	}
	b, err := json.Marshal(data)
	return err == nil && json.Unmarshal(b, out) == nil
}

// tlsExpiry reads the leaf certificates' expiry per target from the tls
// check's data.
func tlsExpiry(data any) map[string]time.Time {
	var items []struct {
		Target string `json:"target"`
		TLS    *struct {
			Chain []struct {
				NotAfter time.Time `json:"not_after"`
			} `json:"chain"`
		} `json:"tls"`
	}
	out := map[string]time.Time{}
	if !reshape(data, &items) {
		return out
	}
	for _, it := range items {
		if it.TLS != nil && len(it.TLS.Chain) > 0 && !it.TLS.Chain[0].NotAfter.IsZero() {
			out[it.Target] = it.TLS.Chain[0].NotAfter
		}
	}
	return out
}

type dnsblListing struct {
	list, target string
	listed       bool
}

// dnsblListings reads the answers of each list from the dnsbl check's
// data: listed, or clean; failed and refused lookups are left out.
func dnsblListings(data any) []dnsblListing {
	var d struct {
		Lists []struct {
			List struct {
				Zone string `json:"zone"`
			} `json:"list"`
			Results []struct {
				Target  string `json:"target"`
				Verdict string `json:"verdict"`
			} `json:"results"`
		} `json:"lists"`
	}
	var out []dnsblListing
	if !reshape(data, &d) {
		return out
	}
	for _, l := range d.Lists {
		for _, res := range l.Results {
			if res.Verdict == "listed" || res.Verdict == "clean" || res.Verdict == "policy" {
				out = append(out, dnsblListing{list: l.List.Zone, target: res.Target, listed: res.Verdict == "listed"})
			}
		}
	}
	return out
}

// Write writes the exposition in the Prometheus text format (HELP and
// TYPE lines, families sorted by name), as node_exporter's textfile
// collector reads it.
func (m *Metrics) Write(w io.Writer) error {
	mfs, err := m.Registry.Gather()
	if err != nil {
		return err
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return nil
}

// prometheusReporter gathers the series of every report and writes them
// at End (a family's samples must stay together in the exposition).
type prometheusReporter struct {
	w io.Writer
	m *Metrics
}

var _ Reporter = (*prometheusReporter)(nil)

func newPrometheusReporter(w io.Writer, _ Options) Reporter {
	return &prometheusReporter{w: w, m: NewMetrics()}
}

// Begin implements Reporter.
func (p *prometheusReporter) Begin(Run) error { return nil }

// Report implements Reporter.
func (p *prometheusReporter) Report(r *Report) error {
	p.m.Add(r)
	return nil
}

// End implements Reporter.
func (p *prometheusReporter) End(RunSummary) error { return p.m.Write(p.w) }
