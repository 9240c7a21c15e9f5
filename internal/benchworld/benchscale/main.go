//go:build linux

// Command benchscale measures a bulk run of mailcheck's DNS checks (mx,
// ptr, spf, dmarc, dkim with the selector sweep, dnsbl) over the
// benchworld (issue 16), the way the CLI runs them: one resolve.Cache in
// front of one resolve.Client, schedule.Run with --parallel domains at
// once. Each measurement runs in two fresh processes: a server (the
// world behind an in-process DNS server adding a delay to every answer)
// and a client, whose own wall time, CPU (user+sys) and peak RSS are
// reported, so the server's work is not counted.
//
//	go run ./internal/benchworld/benchscale            # N=1000 at 0 and 20 ms
//	go run ./internal/benchworld/benchscale -n 1000,10000,100000 -delay 0
//
// Profiles: BENCH_CPUPROFILE and BENCH_MEMPROFILE name the client's CPU
// and heap profiles, BENCH_SRVPROFILE the servers' CPU profiles (the
// process ID is appended); BENCH_DUPS prints the questions asked twice.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// metrics is what one client run reports (JSON on its stdout).
type metrics struct {
	Domains   int     `json:"domains"`
	Wall      float64 `json:"wall_s"`
	CPU       float64 `json:"cpu_s"`
	MaxRSSMB  float64 `json:"max_rss_mb"`
	Errors    int     `json:"errors"` // checks with status error
	CacheHits int64   `json:"cache_hits"`
	CacheMiss int64   `json:"cache_misses"`
	CacheLen  int     `json:"cache_len"`
	DKIMKeys  int     `json:"dkim_keys"`    // dkim.ok findings: selectors found
	OneDomain float64 `json:"one_domain_s"` // wall of the first domain alone, cold cache
	Extra     string  `json:"extra,omitempty"`
}

// serverStats is what the server reports when its stdin closes.
type serverStats struct {
	Total, Distinct, Duplicates int
	CPU                         float64
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "serve":
			serveMain(os.Args[2:])
			return
		case "client":
			clientMain(os.Args[2:])
			return
		case "spf":
			spfMain(os.Args[2:])
			return
		}
	}
	driverMain(os.Args[1:])
}

// driverMain runs one server and one client per (n, delay) and prints
// a table.
func driverMain(args []string) {
	fs := flag.NewFlagSet("benchscale", flag.ExitOnError)
	ns := fs.String("n", "1000", "domain counts, comma-separated")
	delays := fs.String("delay", "0,20ms", "per-answer delays, comma-separated")
	parallel := fs.Int("parallel", 64, "domains audited at once (--parallel)")
	cacheMax := fs.Int("cache-max", 0, "the cache's entry bound (0: the CLI default, -1: none)")
	cut := fs.Bool("dkim-cut", true, "cut the DKIM sweep on NXDOMAIN at _domainkey (as the CLI does)")
	spf := fs.Bool("spfquery", false, "also time spfquery and mailcheck's SPF evaluation over the same world")
	oneOnly := fs.Bool("one", false, "time only the one domain alone (1dom_ms), not the bulk run")
	trace := fs.Bool("trace", false, "print the one domain's questions: sent and answered, in ms from the start")
	fs.Parse(args)
	if *oneOnly {
		oneMain(*ns, *delays, *trace)
		return
	}
	fmt.Printf("%-7s %-6s %8s %8s %9s %9s %9s %6s %9s %7s %9s %8s\n", "N", "delay", "wall_s", "cpu_s", "rss_MB", "questions", "distinct", "dups", "domain/s", "errors", "1dom_ms", "srv_cpu")
	for _, n := range strings.Split(*ns, ",") {
		for _, d := range strings.Split(*delays, ",") {
			if d == "0" {
				d = "0s"
			}
			m, st := measure(n, d, []string{"client", "-n", n, "-parallel", strconv.Itoa(*parallel), "-cache-max", strconv.Itoa(*cacheMax), "-dkim-cut=" + strconv.FormatBool(*cut)})
			one, _ := measure(n, d, []string{"client", "-n", n, "-one"})
			m.OneDomain = one.OneDomain
			fmt.Printf("%-7s %-6s %8.2f %8.2f %9.1f %9d %9d %6d %9.0f %7d %9.1f %8.2f\n", n, d, m.Wall, m.CPU, m.MaxRSSMB, st.Total, st.Distinct, st.Duplicates,
				float64(m.Domains)/m.Wall, m.Errors, m.OneDomain*1000, st.CPU)
			fmt.Printf("        client: %s; cache %d entries, %d hits, %d misses; %d DKIM keys found\n", m.Extra, m.CacheLen, m.CacheHits, m.CacheMiss, m.DKIMKeys)
			if *spf {
				spfCompare(n, d, *parallel)
			}
		}
	}
}

// oneMain times one domain audited alone (the 1dom_ms column) for each
// (n, delay), printing its questions with trace.
func oneMain(ns, delays string, trace bool) {
	fmt.Printf("%-7s %-6s %9s\n", "N", "delay", "1dom_ms")
	for _, n := range strings.Split(ns, ",") {
		for _, d := range strings.Split(delays, ",") {
			if d == "0" {
				d = "0s"
			}
			one, _ := measure(n, d, []string{"client", "-n", n, "-one", "-trace=" + strconv.FormatBool(trace)})
			fmt.Printf("%-7s %-6s %9.1f\n", n, d, one.OneDomain*1000)
		}
	}
}

// spfCompare evaluates SPF for every domain with spfquery and with
// mailcheck (sequential and parallel), each against a fresh server, and
// prints the ratios.
func spfCompare(n, d string, parallel int) {
	q, qst := measure(n, d, []string{"spf", "-n", n, "-tool", "spfquery"})
	fmt.Printf("        spf part: %s; %d questions\n", q.Extra, qst.Total)
	for _, p := range []int{1, parallel} {
		m, st := measure(n, d, []string{"spf", "-n", n, "-tool", "mailcheck", "-parallel", strconv.Itoa(p)})
		fmt.Printf("        spf part: %s (parallel %d); %d questions; spfquery/mailcheck: wall %.1fx, CPU %.1fx\n",
			m.Extra, p, st.Total, q.Wall/m.Wall, q.CPU/m.CPU)
	}
}

// measure starts a server for n domains with delay d and runs the client
// with args against it.
func measure(n, d string, args []string) (metrics, serverStats) {
	self, err := os.Executable()
	check(err)
	n1, err := strconv.Atoi(n)
	check(err)
	// One domain more than the run: the client times it alone first.
	srv := exec.Command(self, "serve", "-n", strconv.Itoa(n1+1), "-delay", d)
	in, err := srv.StdinPipe()
	check(err)
	out, err := srv.StdoutPipe()
	check(err)
	srv.Stderr = os.Stderr
	check(srv.Start())
	rd := bufio.NewReader(out)
	addr, err := rd.ReadString('\n')
	check(err)
	cl := exec.Command(self, append(args, "-resolver", strings.TrimSpace(addr))...)
	cl.Stderr = os.Stderr
	b, err := cl.Output()
	check(err)
	var m metrics
	check(json.Unmarshal(b, &m))
	in.Close()
	var st serverStats
	line, _ := io.ReadAll(rd)
	fmt.Sscan(string(line), &st.Total, &st.Distinct, &st.Duplicates, &st.CPU)
	srv.Wait()
	return m, st
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchscale:", err)
		os.Exit(1)
	}
}

// elapsed is a helper for wall times in seconds.
func elapsed(start time.Time) float64 { return time.Since(start).Seconds() }
