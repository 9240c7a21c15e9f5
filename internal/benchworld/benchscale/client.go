//go:build linux

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/benchworld"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/schedule"
	"github.com/mailcheck/mailcheck/report"
)

// dnsChecks are the checks a bulk DNS run runs.
var dnsChecks = []string{"mx", "ptr", "spf", "dmarc", "dkim", "dnsbl"}

// source yields the world's domains in order, generated on demand.
type source struct {
	w    *benchworld.World
	i, n int
}

// Next implements schedule.Source.
func (s *source) Next() (resolve.Name, bool) {
	if s.i >= s.n {
		return resolve.Name{}, false
	}
	n, err := resolve.ParseName(s.w.Domain(s.i))
	check(err)
	s.i++
	return n, true
}

// clientMain audits -n domains through -resolver as the CLI does and
// prints its metrics as JSON.
func clientMain(args []string) {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	n := fs.Int("n", 1000, "domains")
	parallel := fs.Int("parallel", 64, "domains at once")
	resolver := fs.String("resolver", "", "server address")
	cacheMax := fs.Int("cache-max", 0, "cache entry bound (0: the CLI's, -1: none)")
	seed := fs.Uint64("seed", 16, "the world's seed")
	one := fs.Bool("one", false, "time the audit of domain n alone instead")
	cut := fs.Bool("dkim-cut", true, "cut the DKIM sweep on NXDOMAIN at _domainkey, as the CLI does")
	trace := fs.Bool("trace", false, "with -one: print each question's start and end (ms) to stderr")
	fs.Parse(args)
	list, err := checks.Select(checks.Registry(), dnsChecks)
	check(err)
	w := benchworld.New(*n+1, *seed)
	if *one {
		check(json.NewEncoder(os.Stdout).Encode(metrics{OneDomain: oneDomain(w, *n, *resolver, list, *trace)}))
		return
	}
	var m metrics
	cache := newCache(*resolver, *cacheMax, nil)
	sessions := checks.NewSessionBound(checks.DefaultSessions)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	lists, err := checks.DNSBLLists(checks.DNSBLOptions{}) // the default lists, once per run as the CLI decides them
	check(err)
	newEnv := checks.ShareRun(func(n resolve.Name) *checks.Env { // as the CLI does for more than one domain
		env := checks.NewEnv(n, cache)
		env.Log, env.Sessions = logger, sessions
		env.Options.DKIM.Cut = *cut
		env.Options.DNSBL.Lists = lists
		return env
	})
	cfg := schedule.Config{Checks: list, NewEnv: newEnv, Parallel: *parallel, Resolver: []string{*resolver}}
	if path := os.Getenv("BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	schedule.TuneMemory() // as the CLI does for more than one domain
	before := cpu()
	start := time.Now()
	err = schedule.Run(context.Background(), cfg, &source{w: w, n: *n}, m.count)
	check(err)
	m.Wall = elapsed(start)
	m.CPU = cpu() - before
	m.MaxRSSMB = maxRSS()
	m.CacheHits, m.CacheMiss = cache.Stats()
	m.CacheLen = cache.Len()
	if path := os.Getenv("BENCH_MEMPROFILE"); path != "" {
		f, err := os.Create(path)
		check(err)
		check(pprof.Lookup("allocs").WriteTo(f, 0))
		f.Close()
	}
	m.Extra = fmt.Sprintf("failed attempts %d", timeouts.Load())
	check(json.NewEncoder(os.Stdout).Encode(m))
}

// count takes in one report: its errors and DKIM keys; the report is
// JSON-encoded, as the CLI encodes each.
func (m *metrics) count(r *report.Report) error {
	m.Domains++
	for _, c := range r.Checks {
		if c.Status == checks.Error {
			m.Errors++
		}
		for _, f := range c.Findings {
			if f.ID == "dkim.ok" {
				m.DKIMKeys++
			}
		}
	}
	_, err := json.Marshal(r)
	return err
}

// oneDomain audits domain i (not one of the run's) alone with a cold
// cache of its own and returns its wall time; with trace, it prints each
// question sent, by the time its answer came, with when it was sent.
func oneDomain(w *benchworld.World, i int, resolver string, list []checks.Check, trace bool) float64 {
	name, err := resolve.ParseName(w.Domain(i))
	check(err)
	var start time.Time
	var mu sync.Mutex
	show := func(e resolve.TraceEvent) {
		end := time.Since(start)
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stderr, "%6.1f %6.1f  %s\n", ms(end-e.RTT), ms(end), e)
	}
	if !trace {
		show = nil
	}
	env := checks.NewEnv(name, newCache(resolver, 0, show))
	env.Options.DKIM.Cut = true
	start = time.Now()
	checks.Run(context.Background(), env, list)
	return elapsed(start)
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// timeouts counts the attempts that got no answer in time.
var timeouts atomic.Int64

// newCache is the CLI's DNS stack: a cache in front of a client; show,
// when set, is called with every question's trace event too.
func newCache(resolver string, max int, show func(resolve.TraceEvent)) *resolve.Cache {
	if max == 0 {
		max = resolve.DefaultMaxEntries // as the CLI sets it
	}
	c := resolve.NewCache(&resolve.Client{Servers: []string{resolver}, Timeout: 2 * time.Second,
		Trace: func(e resolve.TraceEvent) {
			if e.Err != nil {
				timeouts.Add(1)
			}
			if show != nil {
				show(e)
			}
		}})
	c.MaxEntries = max
	return c
}

// cpu returns the process's user+sys CPU seconds so far.
func cpu() float64 {
	var ru syscall.Rusage
	check(syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// maxRSS returns the process's peak resident set size in MB.
func maxRSS() float64 {
	var ru syscall.Rusage
	check(syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return float64(ru.Maxrss) / 1024
}

var _ = fmt.Sprint
