package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/pflag"

	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/report"
)

// dnsFlags are the flags every command that resolves names shares
// (the audit and `spf eval`): where answers come from and how long to wait.
type dnsFlags struct {
	resolvers []string
	zones     []string
	offline   bool
	timeout   time.Duration
	deadline  time.Duration
	trace     bool
	qps       float64
	format    string
	textFlags
}

func (f *dnsFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.resolvers, "resolver", nil, "DNS resolver HOST[:PORT] to query (repeatable; default: the nameservers of /etc/resolv.conf)")
	fs.StringArrayVar(&f.zones, "zone", nil, "answer names inside this BIND zone file from the file (repeatable; FILE or ORIGIN=FILE)")
	fs.BoolVar(&f.offline, "offline", false, "use no network at all: names outside --zone files are reported as errors")
	fs.DurationVar(&f.timeout, "timeout", 2*time.Second, "timeout of one DNS query attempt")
	fs.DurationVar(&f.deadline, "deadline", 30*time.Second, "deadline for the whole audit of one domain")
	fs.Float64Var(&f.qps, "qps", 0, "send at most N DNS questions per second to each resolver (0: no limit)")
	fs.BoolVar(&f.trace, "trace", false, "print every DNS query (server, rcode, round-trip time) and SMTP transcript on stderr")
	fs.StringVar(&f.format, "format", "text", "output format: "+strings.Join(report.FormatNames(), " or "))
	f.textFlags.register(fs)
}

func (f *dnsFlags) validate() error {
	f.format = strings.ToLower(f.format)
	if _, err := report.LookupFormat(f.format); err != nil {
		return usageErr("--format must be %s, not %q", strings.Join(report.FormatNames(), " or "), f.format)
	}
	if err := f.textFlags.validate(); err != nil {
		return err
	}
	if f.timeout <= 0 {
		return usageErr("--timeout must be positive, not %s", f.timeout)
	}
	if f.deadline <= 0 {
		return usageErr("--deadline must be positive, not %s", f.deadline)
	}
	if f.qps < 0 {
		return usageErr("--qps must not be negative, not %g", f.qps)
	}
	if f.offline && len(f.resolvers) > 0 {
		return usageErr("--offline and --resolver exclude each other")
	}
	for _, r := range f.resolvers {
		if err := validHostPort(r, false); err != nil {
			return usageErr("--resolver: %v", err)
		}
	}
	return nil
}

// resolverSetup is the per-run DNS stack: zones over a network client,
// behind one cache shared by every check and every domain of the run.
type resolverSetup struct {
	Cache       *resolve.Cache
	Description []string // for the report's "resolver" field
	Warnings    []string
}

func (f *dnsFlags) build(a *app) (*resolverSetup, error) {
	var traceFn func(resolve.TraceEvent)
	if f.trace {
		w := &lockedWriter{w: a.stderr}
		traceFn = func(e resolve.TraceEvent) { fmt.Fprintln(w, e.String()) }
	}
	setup := &resolverSetup{}
	var zones []*resolve.Zone
	for _, spec := range f.zones {
		origin, path := "", spec
		if i := strings.Index(spec, "="); i > 0 {
			origin, path = spec[:i], spec[i+1:]
		}
		z, err := resolve.LoadZoneFile(path, origin)
		if err != nil {
			return nil, &exitError{code: exitUsage, err: err}
		}
		zones = append(zones, z)
		setup.Description = append(setup.Description, fmt.Sprintf("zone:%s (%s)", path, strings.TrimSuffix(z.Origin, ".")))
	}
	var upstream resolve.Resolver
	if !f.offline {
		servers := []string{}
		for _, s := range f.resolvers {
			n, err := resolve.NormalizeServer(s)
			if err != nil {
				return nil, usageErr("--resolver: %v", err)
			}
			servers = append(servers, n)
		}
		if len(servers) == 0 {
			sys, err := resolve.SystemServers("")
			if err != nil {
				setup.Warnings = append(setup.Warnings, fmt.Sprintf("no resolver: %v; pass --resolver or --offline", err))
			}
			servers = sys
		}
		// No retry round in the client: the run's cache retries a
		// transient failure once (resolve.Cache).
		upstream = &resolve.Client{Servers: servers, Timeout: f.timeout, Retries: 0, QPS: f.qps, Trace: traceFn,
			Warn: func(msg string) { fmt.Fprintf(a.stderr, "mailcheck: warning: %s\n", msg) }}
		setup.Description = append(setup.Description, servers...)
	} else {
		setup.Description = append(setup.Description, "offline")
	}
	var r resolve.Resolver = upstream
	if len(zones) > 0 || f.offline {
		r = &resolve.Zones{List: zones, Upstream: upstream, Trace: traceFn}
	}
	setup.Cache = resolve.NewCache(r)
	setup.Cache.MaxEntries = resolve.DefaultMaxEntries // memory bounded over many domains
	return setup, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// lockedWriter serializes writes from concurrent checks.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
