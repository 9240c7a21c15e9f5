package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailcheck/mailcheck/internal/message"
	"github.com/mailcheck/mailcheck/internal/mta"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// mtaFlags are the flags of `mailcheck mta`.
type mtaFlags struct {
	dnsFlags
	listen         []string
	listenTLS      []string
	public         bool
	hostname       string
	tlsCert        string
	tlsKey         string
	accept         []string
	maildir        string
	count          int
	wait           time.Duration
	maxSize        int64
	maxRcpts       int
	maxConns       int
	commandTimeout time.Duration
	sessionTimeout time.Duration
}

// mtaStopGrace is how long open sessions may take to end once the run
// is over (the last sender reads its 250 and says QUIT).
const mtaStopGrace = 5 * time.Second

// newMTAJudge makes the judge of received messages; tests replace it
// with a stub.
var newMTAJudge = func(r resolve.Resolver, now func() time.Time, host string) mta.JudgeFunc {
	j := &message.Judge{Resolver: r, Now: now, Hostname: host}
	return j.Judge
}

var _ = func() int {
	extraCommands = append(extraCommands, (*app).mtaCmd)
	return 0
}()

func (a *app) mtaCmd() *cobra.Command {
	f := &mtaFlags{}
	cmd := &cobra.Command{
		Use:   "mta [flags]",
		Short: "Receive test mail on a local SMTP port and judge each message as a receiver would",
		Long: `mta runs a minimal receiving SMTP server that accepts mail only for the
--accept addresses (by default a random token address printed at start),
judges each message as a careful receiver would (SPF, DKIM, DMARC, iprev,
HELO, TLS, headers and MIME) and prints one report per message. It never
relays, bounces or delivers; with --maildir it stores what it accepts.
It binds 127.0.0.1:2525 unless told otherwise; any address that is not a
loopback one needs --listen-public. See docs/mta.md.

Exit codes: 0 every message passed; 1 a message failed; 2 usage error
(bad flag, address, certificate or Maildir; the port cannot be bound);
3 --wait ended with no message; 4 the report could not be written;
130/143 interrupted by SIGINT/SIGTERM.`,
		Example: `  mailcheck mta --accept test@example.test --count 1
  mailcheck mta --count 1 --format json --wait 2m --accept @example.test > verdict.jsonl &
  mailcheck mta --listen-public --listen 0.0.0.0:25 --hostname mx.example.org --tls-cert cert.pem --tls-key key.pem --maildir ./Maildir`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.mta(cmd.Context(), f)
		},
	}
	f.register(cmd)
	return cmd
}

// register declares the flags, the DNS ones shared with the audit.
func (f *mtaFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	f.dnsFlags.register(fs)
	fs.Lookup("deadline").Usage = "deadline for judging one message (its DNS lookups)"
	fs.Lookup("trace").Usage = "print every DNS query of the judges on stderr"
	fs.Lookup("no-color").Usage = "accepted for symmetry with the audit; the message reports are not coloured"
	l := mta.DefaultLimits()
	fs.StringArrayVar(&f.listen, "listen", nil, "listen on HOST:PORT with STARTTLS (repeatable; default "+mta.DefaultListen+"; port 0 picks a free one)")
	fs.StringArrayVar(&f.listenTLS, "listen-tls", nil, "also listen on HOST:PORT with implicit TLS (repeatable)")
	fs.BoolVar(&f.public, "listen-public", false, "allow --listen/--listen-tls addresses that are not loopback addresses")
	fs.StringVar(&f.hostname, "hostname", "", "the server's name in its greeting, EHLO reply, certificate and Authentication-Results (default: this host's name)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate chain for STARTTLS and implicit TLS (default: a self-signed one made at start)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringArrayVar(&f.accept, "accept", nil, "accept mail for ADDR or for any address @DOMAIN (repeatable; default: a random token address printed at start)")
	fs.StringVar(&f.maildir, "maildir", "", "store accepted messages in this Maildir (created 0700 if missing; default: store nothing)")
	fs.IntVar(&f.count, "count", 0, "exit after N messages (0: no limit)")
	fs.DurationVar(&f.wait, "wait", 0, "exit after this long (0: no limit); with no message the exit code is 3")
	fs.Int64Var(&f.maxSize, "max-size", l.MaxMessageBytes, "largest message in octets (advertised with SIZE; 552 beyond)")
	fs.IntVar(&f.maxRcpts, "max-rcpts", l.MaxRecipients, "most recipients of one message (452 beyond)")
	fs.IntVar(&f.maxConns, "max-conns", l.MaxConns, "most connections open at once (421 beyond)")
	fs.DurationVar(&f.commandTimeout, "command-timeout", l.CommandTimeout, "time a client has to send one command")
	fs.DurationVar(&f.sessionTimeout, "session-timeout", l.SessionTimeout, "time one connection may stay open")
}

// config checks the flags and makes the server's configuration; every
// error is a usage error, found before anything binds.
func (f *mtaFlags) config(a *app) (mta.Config, error) {
	var cfg mta.Config
	if err := f.dnsFlags.validate(); err != nil {
		return cfg, err
	}
	if err := f.checkNumbers(); err != nil {
		return cfg, err
	}
	host, err := f.host()
	if err != nil {
		return cfg, err
	}
	cfg = mta.Config{Listen: f.listen, ListenTLS: f.listenTLS, Public: f.public, Hostname: host,
		Maildir: f.maildir, Now: a.now, Limits: f.limits()}
	if len(cfg.Listen) == 0 && len(cfg.ListenTLS) == 0 {
		cfg.Listen = []string{mta.DefaultListen}
	}
	for flag, list := range map[string][]string{"--listen": cfg.Listen, "--listen-tls": cfg.ListenTLS} {
		for _, l := range list {
			if err := mta.CheckListen(l, f.public); err != nil {
				return cfg, usageErr("%s: %v", flag, err)
			}
		}
	}
	for _, s := range f.accept {
		v, err := mta.ParseAccept(s)
		if err != nil {
			return cfg, usageErr("--accept: %v", err)
		}
		cfg.Accept = append(cfg.Accept, v)
	}
	cfg.Certificate, err = f.certificate()
	return cfg, err
}

// checkNumbers checks the counts, bounds and durations.
func (f *mtaFlags) checkNumbers() error {
	switch {
	case f.count < 0:
		return usageErr("--count must not be negative, not %d", f.count)
	case f.wait < 0:
		return usageErr("--wait must not be negative, not %s", f.wait)
	case f.maxSize < 1024:
		return usageErr("--max-size must be at least 1024 octets, not %d", f.maxSize)
	case f.maxRcpts < 1:
		return usageErr("--max-rcpts must be at least 1, not %d", f.maxRcpts)
	case f.maxConns < 1:
		return usageErr("--max-conns must be at least 1, not %d", f.maxConns)
	case f.commandTimeout <= 0 || f.sessionTimeout <= 0:
		return usageErr("--command-timeout and --session-timeout must be positive")
	}
	return nil
}

// limits are the defaults with the flags' changes.
func (f *mtaFlags) limits() mta.Limits {
	l := mta.DefaultLimits()
	l.MaxMessageBytes, l.MaxRecipients, l.MaxConns = f.maxSize, f.maxRcpts, f.maxConns
	l.CommandTimeout, l.SessionTimeout, l.JudgeTimeout = f.commandTimeout, f.sessionTimeout, f.deadline
	return l
}

// host is --hostname, or this host's name, or "localhost".
func (f *mtaFlags) host() (string, error) {
	if f.hostname != "" {
		if !validHostName(f.hostname) {
			return "", usageErr("--hostname %q is not a host name", f.hostname)
		}
		return strings.ToLower(strings.TrimSuffix(f.hostname, ".")), nil
	}
	if h, err := os.Hostname(); err == nil && validHostName(h) {
		return strings.ToLower(h), nil
	}
	return "localhost", nil
}

// certificate loads --tls-cert and --tls-key; nil without them (the
// server makes a self-signed one).
func (f *mtaFlags) certificate() (*mta.Certificate, error) {
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return nil, usageErr("--tls-cert and --tls-key go together")
	}
	if f.tlsCert == "" {
		return nil, nil
	}
	c, err := mta.LoadCertificate(f.tlsCert, f.tlsKey)
	if err != nil {
		return nil, usageErr("--tls-cert/--tls-key: %v", err)
	}
	return c, nil
}

// mta runs the server until --count messages, --wait, or a signal.
func (a *app) mta(ctx context.Context, f *mtaFlags) error {
	cfg, err := f.config(a)
	if err != nil {
		return err
	}
	setup, err := f.dnsFlags.build(a)
	if err != nil {
		return err
	}
	logw := &lockedWriter{w: a.stderr}
	for _, w := range setup.Warnings {
		fmt.Fprintf(logw, "mailcheck: warning: %s\n", w)
	}
	out := &mtaOutput{w: a.stdout, json: f.format == "json", count: f.count, done: make(chan struct{})}
	srv, err := a.startMTA(ctx, cfg, setup.Cache, logw, "mailcheck mta", out.report)
	if err != nil {
		return err
	}
	timedOut := waitFor(ctx, out.done, f.wait)
	srv.Stop(mtaStopGrace)
	return out.result(ctx, timedOut)
}

// startMTA starts the embedded MTA of cfg with the real judge (DNS
// through r), logging to logw under prefix and handing each judged
// message to onMessage: `mailcheck mta` and `send-test --receive`.
func (a *app) startMTA(ctx context.Context, cfg mta.Config, r resolve.Resolver, logw io.Writer, prefix string, onMessage func(*mta.Result)) (*mta.Server, error) {
	cfg.Judge = newMTAJudge(r, a.now, cfg.Hostname)
	cfg.OnMessage = onMessage
	cfg.Logf = func(format string, args ...any) {
		fmt.Fprintf(logw, "%s: %s\n", prefix, strings.TrimRight(fmt.Sprintf(format, args...), "\n"))
	}
	srv, err := mta.New(cfg)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	if err := srv.Listen(); err != nil {
		return nil, usageErr("--listen: %v", err)
	}
	announce(logw, srv, cfg)
	srv.Serve(ctx)
	return srv, nil
}

// announce prints where the server listens and what it accepts.
func announce(w io.Writer, srv *mta.Server, cfg mta.Config) {
	for _, l := range srv.Listeners() {
		mode := "STARTTLS"
		if l.Implicit {
			mode = "implicit TLS"
		}
		fmt.Fprintf(w, "mailcheck mta: listening on %s (%s)\n", l.Addr, mode)
	}
	fmt.Fprintf(w, "mailcheck mta: accepting mail for %s\n", strings.Join(srv.Accepted(), ", "))
	if cfg.Certificate == nil {
		fmt.Fprintf(w, "mailcheck mta: TLS certificate: self-signed for %s\n", cfg.Hostname)
	}
	if cfg.Maildir != "" {
		fmt.Fprintf(w, "mailcheck mta: storing accepted mail in %s\n", cfg.Maildir)
	}
}

// waitFor waits for done, ctx or the wait (0: no limit); true when the
// wait ended it.
func waitFor(ctx context.Context, done <-chan struct{}, wait time.Duration) bool {
	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-done:
	case <-ctx.Done():
	case <-timeout:
		return true
	}
	return false
}

// mtaOutput writes the message reports as they come, from any session.
type mtaOutput struct {
	w     io.Writer
	json  bool
	count int // close done after this many; 0: never
	done  chan struct{}

	stop   sync.Once
	mu     sync.Mutex
	n      int
	failed int
	err    error
}

// report writes one message's report and counts it.
func (o *mtaOutput) report(r *mta.Result) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n++
	if !r.Passed {
		o.failed++
	}
	var err error
	if o.json {
		err = r.WriteJSON(o.w)
	} else {
		err = r.WriteText(o.w)
	}
	if err != nil && o.err == nil {
		o.err = err
	}
	if o.n == o.count || err != nil {
		o.stop.Do(func() { close(o.done) })
	}
}

// result is the run's outcome: 4 if a report could not be written, 1 if
// a message failed, 3 if the wait (or the run) ended with no message.
func (o *mtaOutput) result(ctx context.Context, timedOut bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.err != nil:
		return &exitError{code: exitOutput, err: fmt.Errorf("writing the report: %w", o.err)}
	case o.failed > 0:
		return &exitError{code: exitFail}
	case o.n == 0 && timedOut:
		return &exitError{code: exitUnevaluated, err: fmt.Errorf("no message arrived within --wait")}
	case ctx.Err() != nil && o.n < o.count:
		return &exitError{code: exitUnevaluated, err: context.Cause(ctx)}
	}
	return nil
}
