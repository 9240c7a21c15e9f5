package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/schedule"
	"github.com/mailcheck/mailcheck/report"
)

// serveFlags are the flags of `mailcheck serve`.
type serveFlags struct {
	auditFlags
	listen      string
	maxTimeout  time.Duration
	margin      time.Duration
	concurrency int
	cacheMaxAge time.Duration
}

var _ = func() int {
	extraCommands = append(extraCommands, (*app).serveCmd)
	return 0
}()

func (a *app) serveCmd() *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve [--listen ADDR]",
		Short: "Run a Prometheus exporter: /probe?target=DOMAIN audits one domain per scrape",
		Long: `serve runs an exporter in the style of blackbox_exporter. A scrape of
/probe?target=DOMAIN[&checks=mx,spf] runs one audit and answers with its
metrics (docs/formats.md, Prometheus); /metrics has the exporter's own.
The audit's deadline is the scrape timeout Prometheus sends
(X-Prometheus-Scrape-Timeout-Seconds) less --timeout-margin, at most
--max-timeout. At most --concurrency audits run at once: a scrape beyond
that gets 503. DNS answers are cached across scrapes for their TTL (at most
--cache-max-age). The audit flags (--ip, --dnsbl, --probe-timeout...) apply
to every probe.`,
		Example: `  mailcheck serve --listen 127.0.0.1:9725
  curl '127.0.0.1:9725/probe?target=example.org&checks=mx,spf,dmarc'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.serve(cmd.Context(), f)
		},
	}
	f.register(cmd.Flags())
	return cmd
}

// register adds serve's flags: those of DNS and of one audit, and its own.
func (f *serveFlags) register(fs *pflag.FlagSet) {
	f.dnsFlags.register(fs)
	f.auditFlags.register(fs)
	fs.StringVar(&f.listen, "listen", "127.0.0.1:9725", "address to listen on (loopback by default)")
	fs.DurationVar(&f.maxTimeout, "max-timeout", 30*time.Second, "the longest audit of one scrape, whatever the scrape timeout")
	fs.DurationVar(&f.margin, "timeout-margin", 500*time.Millisecond, "subtracted from the scrape timeout, for the answer to arrive in time")
	fs.IntVar(&f.concurrency, "concurrency", 4, "audits at once; further scrapes get 503")
	fs.DurationVar(&f.cacheMaxAge, "cache-max-age", 5*time.Minute, "longest time a DNS answer is reused across scrapes (shorter when its TTL is)")
}

// exporter serves the probes.
type exporter struct {
	a       *app
	f       *serveFlags
	newEnv  func(resolve.Name) *checks.Env
	cache   *resolve.Cache
	desc    []string
	sem     chan struct{}
	probes  *prometheus.CounterVec
	seconds prometheus.Histogram
	flight  prometheus.Gauge
	reg     *prometheus.Registry
}

// serve validates the flags, builds the shared DNS stack and serves until
// ctx ends.
func (a *app) serve(ctx context.Context, f *serveFlags) error {
	if f.maxTimeout <= 0 || f.concurrency < 1 || f.margin < 0 || f.cacheMaxAge <= 0 {
		return usageErr("--max-timeout and --cache-max-age must be positive, --concurrency at least 1, --timeout-margin not negative")
	}
	ex, err := a.newExporter(f)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return usageErr("--listen: %v", err)
	}
	fmt.Fprintf(a.stderr, "mailcheck: serving on http://%s/probe?target=DOMAIN\n", ln.Addr())
	srv := &http.Server{Handler: ex.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newExporter builds the exporter's audit environment and metrics.
func (a *app) newExporter(f *serveFlags) (*exporter, error) {
	opts, roots, err := a.auditOptions(&f.auditFlags)
	if err != nil {
		return nil, err
	}
	setup, err := f.dnsFlags.build(a)
	if err != nil {
		return nil, err
	}
	for _, w := range setup.Warnings {
		fmt.Fprintf(a.stderr, "mailcheck: warning: %s\n", w)
	}
	setup.Cache.MaxAge = f.cacheMaxAge
	ex := &exporter{a: a, f: f, newEnv: a.envMaker(&f.auditFlags, opts, roots, setup), cache: setup.Cache,
		desc: setup.Description, sem: make(chan struct{}, f.concurrency), reg: prometheus.NewRegistry()}
	ex.probes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailcheck_serve_probes_total",
		Help: "Probes answered, by result (ok, bad_request, busy, error)."}, []string{"result"})
	ex.seconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mailcheck_serve_probe_duration_seconds",
		Help: "How long a probe's audit took.", Buckets: []float64{0.25, 0.5, 1, 2, 5, 10, 20, 30, 60}})
	ex.flight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "mailcheck_serve_probes_in_flight", Help: "Audits running now."})
	cacheSize := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mailcheck_serve_dns_cache_entries",
		Help: "DNS questions held by the shared cache."}, func() float64 { return float64(ex.cache.Len()) })
	ex.reg.MustRegister(ex.probes, ex.seconds, ex.flight, cacheSize,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return ex, nil
}

// handler routes /probe and /metrics.
func (ex *exporter) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/probe", ex.probe)
	mux.Handle("/metrics", promhttp.HandlerFor(ex.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "mailcheck exporter: /probe?target=DOMAIN[&checks=mx,spf] and /metrics")
	})
	return mux
}

// probe runs one audit and answers with its metrics.
func (ex *exporter) probe(w http.ResponseWriter, r *http.Request) {
	name, list, err := probeInput(r, ex.f.checks)
	if err != nil {
		ex.probes.WithLabelValues("bad_request").Inc()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	select {
	case ex.sem <- struct{}{}:
		defer func() { <-ex.sem }()
	default:
		ex.probes.WithLabelValues("busy").Inc()
		http.Error(w, "too many probes at once; try again", http.StatusServiceUnavailable)
		return
	}
	ex.flight.Inc()
	defer ex.flight.Dec()
	ex.cache.Purge()
	started := time.Now()
	rep, err := ex.audit(r.Context(), name, list, ex.timeout(r))
	ex.seconds.Observe(time.Since(started).Seconds())
	if err != nil {
		ex.probes.WithLabelValues("error").Inc()
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	m := report.NewMetrics()
	m.Add(rep)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	if err := m.Write(w); err == nil {
		ex.probes.WithLabelValues("ok").Inc()
	}
}

// probeInput validates the target and the checks of a probe request
// (default: the --checks of the command line).
func probeInput(r *http.Request, defaults []string) (resolve.Name, []checks.Check, error) {
	q := r.URL.Query()
	target := q.Get("target")
	if target == "" {
		return resolve.Name{}, nil, errors.New("target parameter is missing")
	}
	name, err := resolve.ParseDomain(target)
	if err != nil {
		return resolve.Name{}, nil, fmt.Errorf("target: %v", err)
	}
	sel := defaults
	if c := q.Get("checks"); c != "" {
		sel = strings.Split(c, ",")
	}
	list, err := checks.Select(checks.Registry(), sel)
	if err != nil {
		return resolve.Name{}, nil, fmt.Errorf("checks: %v", err)
	}
	return name, list, nil
}

// timeout is the deadline of a probe's audit: the scrape timeout less the
// margin, at most --max-timeout.
func (ex *exporter) timeout(r *http.Request) time.Duration {
	t := ex.f.maxTimeout
	if v, err := strconv.ParseFloat(r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"), 64); err == nil && v > 0 {
		t = min(t, time.Duration(v*float64(time.Second))-ex.f.margin)
	}
	return max(t, 100*time.Millisecond)
}

// audit runs one audit through the scheduler.
func (ex *exporter) audit(ctx context.Context, name resolve.Name, list []checks.Check, deadline time.Duration) (*report.Report, error) {
	var out *report.Report
	cfg := schedule.Config{Checks: list, NewEnv: ex.newEnv, Parallel: 1, Deadline: deadline,
		Resolver: ex.desc, Now: ex.a.now}
	src := schedule.List([]resolve.Name{name})
	err := schedule.Run(ctx, cfg, &src, func(r *report.Report) error {
		out = r
		return nil
	})
	if err == nil && out == nil {
		err = errors.New("the audit gave no report")
	}
	return out, err
}
