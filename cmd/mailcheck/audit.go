package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/schedule"
	"github.com/mailcheck/mailcheck/internal/smtpprobe"
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
	trustAnchor     string
	submissionHosts []string
	imapHosts       []string
	pop3Hosts       []string
	relayRcpt       string
	caFile          string
	probeTimeout    time.Duration
	parallel        int
	allowIncomplete bool
	allowSRVPorts   bool
	checksSet       bool
	out             outputFlags
	bulk            bulkFlags
}

func (a *app) rootCmd() *cobra.Command {
	f := &auditFlags{}
	cmd := &cobra.Command{
		Use:   "mailcheck [flags] DOMAIN...",
		Short: "Audit whether mail for a domain will arrive safely",
		Long: `mailcheck audits a domain's mail setup — MX, addresses and reverse DNS,
SPF, DKIM, DMARC, blocklists and the servers' SMTP/TLS — and prints a scored
report saying what is wrong, why (with the RFC), and the record to publish.

Exit codes: 0 passed (every check evaluated, no fail, score at least
--fail-under); 1 a fail finding, a domain that does not exist, or a score
below --fail-under; 2 usage error (bad flag, malformed domain, bad zone
file); 3 could not be evaluated (no grade, or incomplete without
--allow-incomplete); 4 the report could not be written; 130/143
interrupted by SIGINT/SIGTERM. With --format nagios the exit code is the
plugin state instead: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (docs/formats.md).`,
		Example: `  mailcheck example.org
  mailcheck --format json example.org example.net
  mailcheck --offline --zone testdata/zones/example.org.zone example.org
  mailcheck --checks mx,ptr --resolver 9.9.9.9 --fail-under 80 example.org
  mailcheck --input domains.txt --format json --order completion > results.jsonl`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
		Args:          cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && f.bulk.input == "" {
				return usageErr("no domain given; usage: mailcheck [flags] DOMAIN... (or --input FILE)")
			}
			f.checksSet = cmd.Flags().Changed("checks")
			f.bulk.summarySet = cmd.Flags().Changed("summary")
			return a.audit(cmd.Context(), f, args)
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: fmt.Errorf("%v\nRun 'mailcheck --help' for usage", err)}
	})
	fs := cmd.PersistentFlags()
	f.dnsFlags.register(fs)
	f.register(cmd.Flags())
	f.out.register(cmd.Flags())
	f.bulk.register(cmd.Flags())
	cmd.AddCommand(a.versionCmd(), a.findingsCmd())
	for _, sub := range a.subcommands() {
		cmd.AddCommand(sub)
	}
	return cmd
}

// register adds the audit's flags (those of one audit: checks, options,
// gate) to fs; the root command and serve share them.
func (f *auditFlags) register(lf *pflag.FlagSet) {
	lf.StringSliceVar(&f.checks, "checks", nil, "run only these checks, comma-separated ("+strings.Join(checks.Names(checks.Registry()), ",")+")")
	lf.IntVar(&f.failUnder, "fail-under", 0, "exit 1 when the score is below N (0-100)")
	lf.BoolVar(&f.allowPrivate, "allow-private", false, "lab setups: do not flag MX hosts on private or loopback addresses")
	lf.StringArrayVar(&f.ips, "ip", nil, "an address the domain sends mail from (repeatable): SPF authorization and blocklist lookups")
	lf.StringArrayVar(&f.dkimSelectors, "dkim-selector", nil, "DKIM selector to probe besides the built-in list (repeatable)")
	lf.StringArrayVar(&f.dnsbl, "dnsbl", nil, "blocklist zone to query, replacing the default set (repeatable)")
	lf.StringVar(&f.dnsblFile, "dnsbl-file", "", "load blocklist zones and their return codes from FILE")
	lf.StringVar(&f.trustAnchor, "trust-anchor", "", "DNSSEC trust anchors (DS or DNSKEY records, zone-file format) from FILE instead of the IANA root anchors")
	lf.StringArrayVar(&f.submissionHosts, "submission-host", nil, "host to probe for mail submission on ports 587 and 465 (repeatable)")
	lf.StringArrayVar(&f.imapHosts, "imap-host", nil, "host to probe for IMAP on ports 143 and 993, or HOST:PORT (repeatable)")
	lf.StringArrayVar(&f.pop3Hosts, "pop3-host", nil, "host to probe for POP3 on ports 110 and 995, or HOST:PORT (repeatable)")
	lf.StringVar(&f.relayRcpt, "relay-test-rcpt", "", "recipient in a foreign domain for the open-relay test (default: a reserved .invalid address)")
	lf.StringVar(&f.caFile, "ca-file", "", "PEM file of extra trusted CA certificates for the TLS checks")
	lf.DurationVar(&f.probeTimeout, "probe-timeout", smtpprobe.DefaultTimeout, "timeout of one SMTP/TLS probe connection (connect, dialogue and handshake)")
	lf.IntVar(&f.parallel, "parallel", 8, "how many domains to audit at once")
	lf.BoolVar(&f.allowIncomplete, "allow-incomplete", false, "let a graded report pass (exit 0) even when some checks or lookups could not be evaluated")
	lf.BoolVar(&f.allowSRVPorts, "allow-srv-ports", false, "probe submission SRV targets on ports other than 587 and 465")
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
	opts, roots, err := a.auditOptions(f)
	if err != nil {
		return err
	}
	list, err := checks.Select(checks.Registry(), f.checks)
	if err != nil {
		return usageErr("--checks: %v", err)
	}
	if err := f.bulk.validate(); err != nil {
		return err
	}
	in, err := a.openInput(f, args)
	if err != nil {
		return err
	}
	defer in.close()
	setup, err := f.dnsFlags.build(a)
	if err != nil {
		return err
	}
	for _, w := range setup.Warnings {
		fmt.Fprintf(a.stderr, "mailcheck: warning: %s\n", w)
	}
	newEnv := a.envMaker(f, opts, roots, setup)
	if in.total != 1 { // several domains, or a list of unknown length
		newEnv = checks.ShareRun(newEnv) // one session per MX address and host, one probe per blocklist, per run
	}
	code, err := a.runAudits(ctx, f, in, list, setup, newEnv)
	switch {
	case err != nil:
		return err
	case in.malformed() > 0 && !f.bulk.reportOnly:
		return &exitError{code: exitUsage}
	case code != exitOK:
		return &exitError{code: code}
	}
	return nil
}

// auditOptions validates the audit's flags and turns them into the
// checks' options and the trust roots.
func (a *app) auditOptions(f *auditFlags) (checks.Options, *x509.CertPool, error) {
	var opts checks.Options
	if err := f.dnsFlags.validate(); err != nil {
		return opts, nil, err
	}
	if f.failUnder < 0 || f.failUnder > 100 {
		return opts, nil, usageErr("--fail-under must be between 0 and 100, not %d", f.failUnder)
	}
	if f.probeTimeout <= 0 {
		return opts, nil, usageErr("--probe-timeout must be positive, not %s", f.probeTimeout)
	}
	if f.parallel < 1 {
		return opts, nil, usageErr("--parallel must be at least 1")
	}
	if f.checksSet && len(f.checks) == 0 {
		return opts, nil, usageErr("--checks: empty list (known: %s)", strings.Join(checks.Names(checks.Registry()), ", "))
	}
	if err := validateAuditFlags(f); err != nil {
		return opts, nil, err
	}
	if err := f.out.validate(); err != nil {
		return opts, nil, err
	}
	anchors, err := loadTrustAnchor(f.trustAnchor)
	if err != nil {
		return opts, nil, err
	}
	opts = checks.Options{
		DNSSEC:       checks.DNSSECOptions{AnchorFile: f.trustAnchor, Anchors: anchors},
		AllowPrivate: f.allowPrivate,
		DKIM:         checks.DKIMOptions{Selectors: f.dkimSelectors, Cut: true},
		DNSBL:        checks.DNSBLOptions{Zones: f.dnsbl, File: f.dnsblFile},
		SMTP:         checks.SMTPOptions{SubmissionHosts: f.submissionHosts, RelayTestRcpt: f.relayRcpt, AllowSRVPorts: f.allowSRVPorts},
		IMAP:         checks.IMAPOptions{Hosts: f.imapHosts},
		POP3:         checks.POP3Options{Hosts: f.pop3Hosts},
		ProbeTimeout: f.probeTimeout,
		Offline:      f.offline,
	}
	// The lists once for the run, not the --dnsbl-file read again for
	// each domain (validated before: an error here is a file changed since).
	if opts.DNSBL.Lists, err = checks.DNSBLLists(opts.DNSBL); err != nil {
		return opts, nil, usageErr("--dnsbl-file: %v", err)
	}
	for _, s := range f.ips {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return opts, nil, usageErr("--ip %q is not an IP address", s)
		}
		opts.IPs = append(opts.IPs, ip.Unmap())
	}
	roots, err := a.trustRoots(f.caFile)
	return opts, roots, err
}

func (a *app) trustRoots(caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return a.rootCAs, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, usageErr("--ca-file: %v", err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, usageErr("--ca-file %s: no PEM certificate found", caFile)
	}
	return roots, nil
}

// envMaker returns a function that builds the environment of one audit.
func (a *app) envMaker(f *auditFlags, opts checks.Options, roots *x509.CertPool, setup *resolverSetup) func(resolve.Name) *checks.Env {
	var trace *lockedWriter
	if f.trace {
		trace = &lockedWriter{w: a.stderr}
	}
	dialer := a.dialer
	if f.offline {
		dialer = offlineDialer{}
	}
	logger := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	sessions := checks.NewSessionBound(checks.DefaultSessions) // one bound for the whole run
	return func(n resolve.Name) *checks.Env {
		env := checks.NewEnv(n, setup.Cache)
		env.Options = opts
		env.Dialer = dialer
		env.RootCAs = roots
		env.Now = a.now
		env.Log = logger
		env.Sessions = sessions
		if trace != nil {
			env.Trace = trace
		}
		return env
	}
}

// runAudits audits the domains through the scheduler and writes each
// report with the chosen format as soon as its turn comes; it returns the
// run's exit code: 1 if any domain failed, else 3 if any could not be
// (completely) evaluated, else 0.
func (a *app) runAudits(ctx context.Context, f *auditFlags, in *runInput, list []checks.Check,
	setup *resolverSetup, newEnv func(resolve.Name) *checks.Env) (int, error) {
	rep, err := a.openOutputs(f, in.total, in.resume)
	if err != nil {
		return exitUsage, err
	}
	defer rep.close()
	run := report.Run{Tool: "mailcheck " + version, Started: a.now(), Domains: in.total,
		Checks: checks.Names(list), Catalogue: checks.Catalogue(list)}
	if err := rep.Begin(run); err != nil {
		return exitOutput, &exitError{code: exitOutput, err: fmt.Errorf("writing the report: %w", err)}
	}
	var sum report.RunSummary
	if in.total != 1 {
		schedule.TuneMemory()
	}
	mon := a.newMonitor(f, in)
	cfg := schedule.Config{Checks: list, NewEnv: newEnv, Parallel: f.parallel, Deadline: f.deadline,
		Resolver: setup.Description, Now: a.now, Progress: mon.hook(), Order: f.bulk.scheduleOrder(),
		Abandon: in.lines != nil}
	err = schedule.Run(ctx, cfg, in.src, func(r *report.Report) error {
		f.out.apply(r)
		tally(&sum, f.out.gate(r, f.failUnder, f.allowIncomplete), r)
		mon.add(r)
		return rep.Report(r)
	})
	if err == nil {
		err = rep.End(sum)
	}
	mon.finish(a.stderr, in)
	if err != nil {
		return exitOutput, &exitError{code: exitOutput, err: fmt.Errorf("writing the report: %w", err)}
	}
	if in.lines != nil && in.lines.Err != nil {
		return exitUsage, usageErr("--input: %v", in.lines.Err)
	}
	return runCode(sum, rep, f.bulk.reportOnly), nil
}

// tally counts one report's gate outcome in the run's summary.
func tally(sum *report.RunSummary, outcome report.Outcome, r *report.Report) {
	sum.Domains++
	switch outcome {
	case report.Failed:
		sum.Failed++
	case report.Unevaluated:
		sum.Unevaluated++
	}
	sum.Interrupted = sum.Interrupted || r.Interrupted
}

// runCode is the exit code of a finished run.
func runCode(sum report.RunSummary, rep *outputs, reportOnly bool) int {
	if code, ok := report.NagiosResult(rep.stdout); ok {
		return code // the plugin convention (docs/formats.md)
	}
	switch {
	case reportOnly:
		return exitOK
	case sum.Failed > 0:
		return exitFail
	case sum.Unevaluated > 0:
		return exitUnevaluated
	}
	return exitOK
}

// offlineDialer refuses every connection: --offline means no network.
type offlineDialer struct{}

var errOffline = errors.New("no network connections with --offline")

func (offlineDialer) DialContext(_ context.Context, network, address string) (net.Conn, error) {
	return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("%w (to %s)", errOffline, address)}
}
