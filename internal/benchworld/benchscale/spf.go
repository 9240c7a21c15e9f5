//go:build linux

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mailcheck/mailcheck/internal/benchworld"
	"github.com/mailcheck/mailcheck/internal/spf"
)

// spfIP is the client address every SPF evaluation is asked about: in
// no provider's ranges, so each evaluation walks the whole tree.
const spfIP = "198.51.100.7"

// spfMain evaluates SPF (check_host, mfrom postmaster@domain) for every
// domain of the world, with spfquery (Mail::SPF, sequential: one
// process reading the tuples on stdin) or with mailcheck's evaluator
// over the CLI's DNS stack, and prints the metrics as JSON.
func spfMain(args []string) {
	fs := flag.NewFlagSet("spf", flag.ExitOnError)
	n := fs.Int("n", 1000, "domains")
	resolver := fs.String("resolver", "", "server address")
	tool := fs.String("tool", "mailcheck", "spfquery or mailcheck")
	parallel := fs.Int("parallel", 64, "mailcheck: evaluations at once")
	seed := fs.Uint64("seed", 16, "the world's seed")
	fs.Parse(args)
	w := benchworld.New(*n+1, *seed)
	var m metrics
	start := time.Now()
	var results map[string]int
	if *tool == "spfquery" {
		results, m.CPU = runSPFQuery(w, *n, *resolver)
	} else {
		before := cpu()
		results = runSPFEval(w, *n, *resolver, *parallel)
		m.CPU = cpu() - before
	}
	m.Wall = elapsed(start)
	m.Domains = *n
	m.Extra = fmt.Sprintf("%s: %.2f s wall, %.2f s CPU, results %v", *tool, m.Wall, m.CPU, results)
	check(json.NewEncoder(os.Stdout).Encode(m))
}

// runSPFQuery feeds the tuples to one spfquery process pointed at the
// server (Net::DNS: RES_NAMESERVERS, RES_OPTIONS port:N) and counts its
// results; it returns the child's CPU seconds.
func runSPFQuery(w *benchworld.World, n int, resolver string) (map[string]int, float64) {
	host, port, err := net.SplitHostPort(resolver)
	check(err)
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, "%s postmaster@%s\n", spfIP, w.Domain(i))
	}
	cmd := exec.Command("spfquery", "--file", "-")
	cmd.Env = append(os.Environ(), "RES_NAMESERVERS="+host, "RES_OPTIONS=port:"+port)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil && len(out) == 0 {
		check(err)
	}
	results := map[string]int{}
	for _, line := range strings.Split(string(out), "\n") {
		switch l := strings.TrimSpace(line); l {
		case "pass", "fail", "softfail", "neutral", "none", "permerror", "temperror":
			results[l]++
		}
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return results, time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// runSPFEval runs mailcheck's check_host for the tuples, parallel at a
// time, through one cache in front of one client, as the CLI does.
func runSPFEval(w *benchworld.World, n int, resolver string, parallel int) map[string]int {
	c := &spf.Checker{Resolver: newCache(resolver, 0, nil)}
	ip := netip.MustParseAddr(spfIP)
	results := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			o := c.CheckHost(ctx, spf.Request{IP: ip, Sender: "postmaster@" + w.Domain(i)})
			mu.Lock()
			results[string(o.Result)]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return results
}
