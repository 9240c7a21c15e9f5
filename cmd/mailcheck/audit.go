package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/report"
)

const reportSchema = report.SchemaVersion

type auditFlags struct {
	dnsFlags
	checks          []string
	failUnder       int
	allowPrivate    bool
	ips             []string
	dkimSelectors   []string
	dnsbl           []string
	dnsblFile       string
	submissionHosts []string
	relayRcpt       string
	caFile          string
	probeTimeout    time.Duration
	parallel        int
}

func (a *app) rootCmd() *cobra.Command {
	f := &auditFlags{}
	cmd := &cobra.Command{
		Use:   "mailcheck [flags] DOMAIN...",
		Short: "Audit whether mail for a domain will arrive safely",
		Long: `mailcheck audits a domain's mail setup — MX, addresses and reverse DNS,
SPF, DKIM, DMARC, blocklists and the servers' SMTP/TLS — and prints a scored
report saying what is wrong, why (with the RFC), and the record to publish.

Exit codes: 0 passed; 1 a fail finding or score below --fail-under;
2 usage error (bad flag, malformed domain, bad zone file); 3 nothing could
be evaluated.`,
		Example: `  mailcheck example.org
  mailcheck --format json example.org example.net
  mailcheck --offline --zone testdata/zones/example.org.zone example.org
  mailcheck --checks mx,ptr --resolver 9.9.9.9 --fail-under 80 example.org`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
		Args:          cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErr("no domain given; usage: mailcheck [flags] DOMAIN...")
			}
			return a.audit(cmd.Context(), f, args)
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: fmt.Errorf("%v\nRun 'mailcheck --help' for usage", err)}
	})
	fs := cmd.PersistentFlags()
	f.dnsFlags.register(fs)
	lf := cmd.Flags()
	lf.StringSliceVar(&f.checks, "checks", nil, "run only these checks, comma-separated ("+strings.Join(checks.Names(checks.Registry()), ",")+")")
	lf.IntVar(&f.failUnder, "fail-under", 0, "exit 1 when the score is below N (0-100)")
	lf.BoolVar(&f.allowPrivate, "allow-private", false, "lab setups: do not flag MX hosts on private or loopback addresses")
	lf.StringArrayVar(&f.ips, "ip", nil, "an address the domain sends mail from (repeatable): SPF authorization and blocklist lookups")
	lf.StringArrayVar(&f.dkimSelectors, "dkim-selector", nil, "DKIM selector to probe besides the built-in list (repeatable)")
	lf.StringArrayVar(&f.dnsbl, "dnsbl", nil, "blocklist zone to query, replacing the default set (repeatable)")
	lf.StringVar(&f.dnsblFile, "dnsbl-file", "", "load blocklist zones and their return codes from FILE")
	lf.StringArrayVar(&f.submissionHosts, "submission-host", nil, "host to probe for mail submission on ports 587 and 465 (repeatable)")
	lf.StringVar(&f.relayRcpt, "relay-test-rcpt", "", "recipient in a foreign domain for the open-relay test (default: a reserved .invalid address)")
	lf.StringVar(&f.caFile, "ca-file", "", "PEM file of extra trusted CA certificates for the TLS checks")
	lf.DurationVar(&f.probeTimeout, "probe-timeout", 10*time.Second, "timeout of one SMTP/TLS probe connection (connect, dialogue and handshake)")
	lf.IntVar(&f.parallel, "parallel", 8, "how many domains to audit at once")
	cmd.AddCommand(a.versionCmd(), a.findingsCmd())
	for _, sub := range a.subcommands() {
		cmd.AddCommand(sub)
	}
	return cmd
}

// subcommands lists commands contributed by other files (spf eval, mta...).
func (a *app) subcommands() []*cobra.Command {
	var out []*cobra.Command
	for _, mk := range extraCommands {
		out = append(out, mk(a))
	}
	return out
}

// extraCommands is appended to by files of this package that add a
// subcommand, in their var declarations (no init magic needed beyond that).
var extraCommands []func(*app) *cobra.Command

func (a *app) audit(ctx context.Context, f *auditFlags, args []string) error {
	if err := f.dnsFlags.validate(); err != nil {
		return err
	}
	if f.failUnder < 0 || f.failUnder > 100 {
		return usageErr("--fail-under must be between 0 and 100, not %d", f.failUnder)
	}
	if f.probeTimeout <= 0 {
		return usageErr("--probe-timeout must be positive, not %s", f.probeTimeout)
	}
	if f.parallel < 1 {
		return usageErr("--parallel must be at least 1")
	}
	list, err := checks.Select(checks.Registry(), f.checks)
	if err != nil {
		return usageErr("--checks: %v", err)
	}
	opts := checks.Options{
		AllowPrivate:    f.allowPrivate,
		DKIMSelectors:   f.dkimSelectors,
		DNSBLZones:      f.dnsbl,
		DNSBLFile:       f.dnsblFile,
		SubmissionHosts: f.submissionHosts,
		RelayTestRcpt:   f.relayRcpt,
		CAFile:          f.caFile,
		ProbeTimeout:    f.probeTimeout,
		Offline:         f.offline,
	}
	for _, s := range f.ips {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return usageErr("--ip %q is not an IP address", s)
		}
		opts.IPs = append(opts.IPs, ip.Unmap())
	}
	var roots *x509.CertPool
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return usageErr("--ca-file: %v", err)
		}
		roots, err = x509.SystemCertPool()
		if err != nil || roots == nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pem) {
			return usageErr("--ca-file %s: no PEM certificate found", f.caFile)
		}
	} else if a.rootCAs != nil {
		roots = a.rootCAs
	}

	// Validate every domain first: a typo is a usage error, reported
	// without hiding the audits of the other domains.
	var names []resolve.Name
	bad := 0
	for _, arg := range args {
		n, err := resolve.ParseName(arg)
		if err != nil {
			fmt.Fprintf(a.stderr, "mailcheck: %v\n", err)
			bad++
			continue
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		return &exitError{code: exitUsage}
	}

	setup, err := f.dnsFlags.build(a)
	if err != nil {
		return err
	}
	for _, w := range setup.Warnings {
		fmt.Fprintf(a.stderr, "mailcheck: warning: %s\n", w)
	}
	var trace *lockedWriter
	if f.trace {
		trace = &lockedWriter{w: a.stderr}
	}
	dialer := a.dialer
	if f.offline {
		dialer = offlineDialer{}
	}

	reports := make([]chan *report.Report, len(names))
	sem := make(chan struct{}, f.parallel)
	for i, n := range names {
		reports[i] = make(chan *report.Report, 1)
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			env := checks.NewEnv(n, setup.Cache)
			env.Options = opts
			env.Dialer = dialer
			env.RootCAs = roots
			env.Now = a.now
			if trace != nil {
				env.Trace = trace
			}
			started := a.now()
			actx, cancel := context.WithTimeout(ctx, f.deadline)
			defer cancel()
			results := checks.Run(actx, env, list)
			reports[i] <- report.New(n.ASCII, n.Unicode, started, setup.Description, results, list)
		}()
	}

	failed, unevaluated := false, false
	color := f.colorOn(a)
	for i := range names {
		r := <-reports[i]
		var err error
		if f.format == "json" {
			err = report.WriteJSON(a.stdout, r)
		} else {
			err = report.WriteText(a.stdout, r, report.TextOptions{Color: color})
		}
		if err != nil {
			return &exitError{code: exitUnevaluated, err: fmt.Errorf("writing the report: %w", err)}
		}
		switch {
		case !r.Evaluated:
			unevaluated = true
		case r.HasFail() || r.Score < f.failUnder:
			failed = true
		}
	}
	switch {
	case bad > 0:
		return &exitError{code: exitUsage}
	case failed:
		return &exitError{code: exitFail}
	case unevaluated:
		return &exitError{code: exitUnevaluated}
	}
	return nil
}

// offlineDialer refuses every connection: --offline means no network.
type offlineDialer struct{}

var errOffline = errors.New("no network connections with --offline")

func (offlineDialer) DialContext(_ context.Context, network, address string) (net.Conn, error) {
	return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("%w (to %s)", errOffline, address)}
}
