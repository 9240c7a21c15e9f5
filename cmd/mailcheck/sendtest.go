package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/mail"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/mta"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/submit"
)

// sendFlags are the flags of `mailcheck send-test`.
type sendFlags struct {
	dnsFlags
	via, from, to, helo   string
	implicit, receive     bool
	caFile                string
	authUser, authPWFile  string
	dkimKey, dkimSelector string
	dkimDomain            string
	listen, hostname      string
	wait                  time.Duration
}

// passwordEnv is where the AUTH password comes from without a file.
const passwordEnv = "MAILCHECK_AUTH_PASSWORD"

var _ = func() int {
	extraCommands = append(extraCommands, (*app).sendTestCmd)
	return 0
}()

func (a *app) sendTestCmd() *cobra.Command {
	f := &sendFlags{}
	cmd := &cobra.Command{
		Use:   "send-test [flags]",
		Short: "Compose, optionally DKIM-sign, and submit a test message; with --receive, judge it on arrival",
		Long: `send-test composes a realistic MIME test message (text and HTML
alternatives, a UTF-8 subject, Message-ID, Date), optionally DKIM-signs it
with --dkim-key after checking that key against its published selector,
and submits it through --via with STARTTLS (or implicit TLS on port 465 or
with --implicit-tls), AUTH PLAIN only after TLS and only to a server whose
certificate verified. The password comes from --auth-password-file or
` + passwordEnv + `; it is never printed, not even with --trace.

With --receive it also starts the embedded MTA (as 'mailcheck mta' does),
sends the message to its token address, waits for it (--wait) and prints
the received message's verdict: the loopback send test in one command.
Without --via, --receive delivers straight to the embedded MTA.
See docs/sendtest.md.

Exit codes: 0 submitted (and, with --receive, the message passed); 1 a
fail finding; 2 usage error, before any traffic; 3 not evaluated (no
connection, or no message within --wait); 4 the report could not be
written.`,
		Example: `  MAILCHECK_AUTH_PASSWORD=... mailcheck send-test --via smtp.example.org:587 --auth-user me@example.org --from me@example.org --to someone@example.net
  mailcheck send-test --via 127.0.0.1:587 --auth-user me --auth-password-file pw --from me@example.org --receive --hostname sink.test --wait 1m
  mailcheck send-test --receive --from me@example.org --dkim-key key.pem --dkim-selector s1 --zone example.org.zone --offline`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.sendTest(cmd.Context(), f)
		},
	}
	f.register(cmd)
	return cmd
}

// register declares the flags, the DNS ones shared with the audit.
func (f *sendFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	f.dnsFlags.register(fs)
	fs.Lookup("deadline").Usage = "deadline for the DNS lookups of the key check and of judging the received message"
	fs.Lookup("trace").Usage = "print every DNS query and the submission dialogue on stderr (never the password)"
	fs.Lookup("format").Usage = "output format: text or json"
	fs.StringVar(&f.via, "via", "", "submit through this server, HOST:PORT (587: STARTTLS; 465: implicit TLS)")
	fs.BoolVar(&f.implicit, "implicit-tls", false, "TLS from the first byte (implied by port 465)")
	fs.StringVar(&f.caFile, "ca-file", "", "PEM CA certificates to verify the server's certificate with (default: the system roots)")
	fs.StringVar(&f.authUser, "auth-user", "", "authenticate as this user with AUTH PLAIN, after TLS only")
	fs.StringVar(&f.authPWFile, "auth-password-file", "", "read the AUTH password from this file (default: $"+passwordEnv+")")
	fs.StringVar(&f.from, "from", "", "the author and envelope sender address")
	fs.StringVar(&f.to, "to", "", "the recipient address (with --receive: the embedded MTA's token address)")
	fs.StringVar(&f.helo, "helo", "", "the EHLO name (default: this host's name)")
	fs.StringVar(&f.dkimKey, "dkim-key", "", "DKIM-sign with this PEM private key (RSA PKCS#1/PKCS#8 or Ed25519 PKCS#8)")
	fs.StringVar(&f.dkimSelector, "dkim-selector", "", "the selector of --dkim-key")
	fs.StringVar(&f.dkimDomain, "dkim-domain", "", "the signing domain d= (default: the domain of --from)")
	fs.BoolVar(&f.receive, "receive", false, "also run the embedded MTA, send to its token address and judge the message on arrival")
	fs.StringVar(&f.listen, "listen", mta.DefaultListen, "with --receive: where the embedded MTA listens (loopback; port 0 picks a free one)")
	fs.StringVar(&f.hostname, "hostname", "", "with --receive: the embedded MTA's name, the token address's domain (default: this host's name)")
	fs.DurationVar(&f.wait, "wait", 2*time.Minute, "with --receive: how long to wait for the message")
}

// sendPlan is what the flags ask for, checked before any traffic.
type sendPlan struct {
	opts     submit.Options
	key      crypto.Signer
	domain   string // d= of the signature
	host     string // the Message-ID host and the MTA's name
	direct   bool   // --receive without --via: straight to the embedded MTA
	mtaCfg   mta.Config
	fromAddr string
}

// plan checks the flags; every error is a usage error.
func (f *sendFlags) plan(a *app) (*sendPlan, error) {
	if err := f.dnsFlags.validate(); err != nil {
		return nil, err
	}
	if f.format != "text" && f.format != "json" {
		return nil, usageErr("send-test --format must be text or json, not %q", f.format)
	}
	p := &sendPlan{}
	if err := f.addresses(p); err != nil {
		return nil, err
	}
	if err := f.server(a, p); err != nil {
		return nil, err
	}
	if err := f.signing(p); err != nil {
		return nil, err
	}
	if f.receive {
		return p, f.mtaConfig(a, p)
	}
	return p, nil
}

// addresses checks --from, --to, --helo and --hostname.
func (f *sendFlags) addresses(p *sendPlan) error {
	from, err := mail.ParseAddress(f.from)
	if err != nil || !strings.Contains(from.Address, "@") {
		return usageErr("--from %q is not an address", f.from)
	}
	p.fromAddr = from.Address
	switch {
	case f.receive && f.to != "":
		return usageErr("--to and --receive exclude each other: the recipient is the embedded MTA's token address")
	case !f.receive && f.to == "":
		return usageErr("--to is required (or --receive)")
	case f.to != "":
		if _, err := mail.ParseAddress(f.to); err != nil {
			return usageErr("--to %q is not an address", f.to)
		}
	}
	hf := mtaFlags{hostname: f.hostname}
	if p.host, err = hf.host(); err != nil {
		return err
	}
	if f.helo == "" {
		f.helo = p.host
	} else if !validHostName(f.helo) {
		return usageErr("--helo %q is not a host name", f.helo)
	}
	if f.wait <= 0 {
		return usageErr("--wait must be positive, not %s", f.wait)
	}
	return nil
}

// server checks --via, TLS and AUTH; the password is read here.
func (f *sendFlags) server(a *app, p *sendPlan) error {
	o := &p.opts
	o.Helo, o.From, o.User, o.Now, o.Dialer = f.helo, p.fromAddr, f.authUser, a.now, a.dialer
	switch {
	case f.via == "" && !f.receive:
		return usageErr("--via HOST:PORT is required (or --receive)")
	case f.via == "":
		p.direct = true
		if f.authUser != "" || f.implicit || f.caFile != "" {
			return usageErr("--auth-user, --implicit-tls and --ca-file need --via")
		}
		return nil
	}
	if err := validHostPort(f.via, true); err != nil {
		return usageErr("--via: %v", err)
	}
	o.Addr = f.via
	_, port, _ := net.SplitHostPort(f.via)
	o.Implicit = f.implicit || port == "465"
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		o.Roots = x509.NewCertPool()
		if err != nil || !o.Roots.AppendCertsFromPEM(pem) {
			return usageErr("--ca-file %s: no PEM certificate could be read", f.caFile)
		}
	}
	return f.password(a, o)
}

// password reads the AUTH password from the file or the environment.
func (f *sendFlags) password(a *app, o *submit.Options) error {
	if f.authUser == "" {
		if f.authPWFile != "" {
			return usageErr("--auth-password-file needs --auth-user")
		}
		return nil
	}
	if f.authPWFile != "" {
		b, err := os.ReadFile(f.authPWFile)
		if err != nil {
			return usageErr("--auth-password-file: %v", err)
		}
		o.Password = strings.TrimRight(string(b), "\r\n")
	} else {
		o.Password = a.getenv(passwordEnv)
	}
	if o.Password == "" {
		return usageErr("--auth-user needs a password: --auth-password-file FILE or $%s", passwordEnv)
	}
	return nil
}

// signing loads --dkim-key.
func (f *sendFlags) signing(p *sendPlan) error {
	if f.dkimKey == "" {
		if f.dkimSelector != "" || f.dkimDomain != "" {
			return usageErr("--dkim-selector and --dkim-domain need --dkim-key")
		}
		return nil
	}
	if f.dkimSelector == "" {
		return usageErr("--dkim-key needs --dkim-selector")
	}
	b, err := os.ReadFile(f.dkimKey)
	if err != nil {
		return usageErr("--dkim-key: %v", err)
	}
	if p.key, err = submit.LoadKey(b); err != nil {
		return usageErr("--dkim-key %s: %v", f.dkimKey, err)
	}
	p.domain = strings.ToLower(f.dkimDomain)
	if p.domain == "" {
		p.domain = strings.ToLower(p.fromAddr[strings.LastIndexByte(p.fromAddr, '@')+1:])
	}
	if !validHostName(p.domain) {
		return usageErr("--dkim-domain %q is not a domain", p.domain)
	}
	return nil
}

// mtaConfig prepares the embedded MTA of --receive: a token address, a
// self-signed certificate (trusted for a direct delivery to it).
func (f *sendFlags) mtaConfig(a *app, p *sendPlan) error {
	if err := mta.CheckListen(f.listen, false); err != nil {
		return usageErr("--listen: %v", err)
	}
	cert, err := mta.SelfSigned(p.host, a.now())
	if err != nil {
		return usageErr("self-signed certificate: %v", err)
	}
	l := mta.DefaultLimits()
	l.JudgeTimeout = f.deadline
	p.mtaCfg = mta.Config{Listen: []string{f.listen}, Hostname: p.host, Accept: []string{mta.TokenAddress(p.host)},
		Certificate: cert, Limits: l, Now: a.now}
	f.to = p.mtaCfg.Accept[0]
	if p.direct {
		leaf, _ := x509.ParseCertificate(cert.Certificate[0])
		p.opts.Roots = x509.NewCertPool()
		p.opts.Roots.AddCert(leaf)
		p.opts.ServerName = p.host
	}
	return nil
}

// sendReport is the JSON form of a send test.
type sendReport struct {
	Via        string         `json:"via"`
	From       string         `json:"from"`
	To         string         `json:"to"`
	MessageID  string         `json:"message_id"`
	Passed     bool           `json:"passed"`
	Submission *submit.Result `json:"submission"`
	Received   *mta.Result    `json:"received,omitempty"`
	// Waited: --receive ended its wait with no message.
	Waited bool `json:"no_message_within_wait,omitempty"`
}

// sendTest runs the send test: compose, sign, (receive,) submit, report.
func (a *app) sendTest(ctx context.Context, f *sendFlags) error {
	p, err := f.plan(a)
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
	var got chan *mta.Result
	if f.receive {
		srv, ch, err := a.startReceiver(ctx, p, setup.Cache, logw)
		if err != nil {
			return err
		}
		defer srv.Stop(mtaStopGrace)
		got = ch
		if p.direct {
			p.opts.Addr = srv.Listeners()[0].Addr.String()
		}
	}
	rep, raw, err := f.message(ctx, a, p, setup)
	if err != nil {
		return err
	}
	if f.trace {
		p.opts.Trace = logw
	}
	p.opts.To = []string{f.to}
	res := submit.Send(ctx, p.opts, raw)
	res.Findings = append(rep.Submission.Findings, res.Findings...)
	rep.Submission = res
	if f.receive && res.Sent {
		rep.Received, rep.Waited = awaitMessage(ctx, got, f.wait)
	}
	return rep.finish(ctx, a.stdout, f.format == "json")
}

// message composes the test message and signs it, with the key check as
// the report's first finding.
func (f *sendFlags) message(ctx context.Context, a *app, p *sendPlan, setup *resolverSetup) (*sendReport, []byte, error) {
	raw, id, err := submit.Compose(submit.Message{From: p.fromAddr, To: f.to, Hostname: p.host, Date: a.now()})
	if err != nil {
		return nil, nil, usageErr("composing the message: %v", err)
	}
	via := p.opts.Addr
	if p.direct {
		via += " (the embedded MTA, directly)"
	}
	rep := &sendReport{Via: via, From: p.fromAddr, To: f.to, MessageID: id, Submission: &submit.Result{}}
	if p.key == nil {
		return rep, raw, nil
	}
	kctx, cancel := context.WithTimeout(ctx, f.deadline)
	defer cancel()
	rep.Submission.Findings = append(rep.Submission.Findings, submit.CheckKey(kctx, setup.Cache, p.domain, f.dkimSelector, p.key).Bounded())
	if raw, err = submit.Sign(raw, p.key, p.domain, f.dkimSelector); err != nil {
		return nil, nil, &exitError{code: exitUnevaluated, err: fmt.Errorf("DKIM signing: %w", err)}
	}
	return rep, raw, nil
}

// startReceiver starts the embedded MTA with the real judge; each
// judged message goes to the channel.
func (a *app) startReceiver(ctx context.Context, p *sendPlan, r resolve.Resolver, logw io.Writer) (*mta.Server, chan *mta.Result, error) {
	got := make(chan *mta.Result, 4)
	onMessage := func(res *mta.Result) {
		select {
		case got <- res:
		default:
		}
	}
	srv, err := a.startMTA(ctx, p.mtaCfg, r, logw, "mailcheck send-test: mta", onMessage)
	if err != nil {
		return nil, nil, err
	}
	return srv, got, nil
}

// awaitMessage waits for the judged message; true when the wait ended first.
func awaitMessage(ctx context.Context, got <-chan *mta.Result, wait time.Duration) (*mta.Result, bool) {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case r := <-got:
		return r, false
	case <-ctx.Done():
		return nil, false
	case <-t.C:
		return nil, true
	}
}

// finish writes the report and returns the exit status: 1 for a fail
// finding or a failed verdict, 3 when nothing was sent or no message
// arrived, 4 when the report could not be written.
func (r *sendReport) finish(ctx context.Context, w io.Writer, asJSON bool) error {
	failed, unevaluated := false, !r.Submission.Sent || r.Waited
	for _, f := range r.Submission.Findings {
		failed = failed || f.Severity == findings.Fail
		unevaluated = unevaluated || f.Severity == findings.Error
	}
	if r.Received != nil && !r.Received.Passed {
		failed = true
	}
	r.Passed = !failed && !unevaluated && ctx.Err() == nil
	var err error
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		err = enc.Encode(r)
	} else {
		err = r.writeText(w)
	}
	switch {
	case err != nil:
		return &exitError{code: exitOutput, err: fmt.Errorf("writing the report: %w", err)}
	case failed:
		return &exitError{code: exitFail}
	case r.Waited:
		return &exitError{code: exitUnevaluated, err: fmt.Errorf("no message arrived within --wait")}
	case unevaluated:
		return &exitError{code: exitUnevaluated}
	}
	return nil
}

// writeText writes the submission's findings, then the received
// message's report.
func (r *sendReport) writeText(w io.Writer) error {
	verdict := "PASS"
	if !r.Passed {
		verdict = "FAIL"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "send-test %s  via %s\n", verdict, r.Via)
	fmt.Fprintf(&b, "  from: <%s>  to: <%s>  message-id <%s>\n", r.From, r.To, r.MessageID)
	for _, f := range r.Submission.Findings {
		fmt.Fprintf(&b, "  %-5s %s  %s\n", f.Severity, f.ID, strings.ReplaceAll(f.Message, "\n", "\n        "))
		if f.Fix != "" {
			fmt.Fprintf(&b, "        fix: %s\n", strings.ReplaceAll(f.Fix, "\n", "\n        "))
		}
	}
	if r.Waited {
		b.WriteString("  no message arrived within --wait\n")
	}
	b.WriteString("\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if r.Received != nil {
		return r.Received.WriteText(w)
	}
	return nil
}
