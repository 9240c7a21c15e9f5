package checks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/orgdomain"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/smtpprobe"
)

// Finding IDs of the smtp check.
var (
	SpecSMTPOK              = Spec{ID: "smtp.ok", Severity: Pass, RFC: "RFC 5321 §4.3.1", Summary: "the MX address answers on port 25: banner, time to banner and EHLO extensions"}
	SpecSMTPStartTLS        = Spec{ID: "smtp.starttls", Severity: Pass, RFC: "RFC 3207", Summary: "the server offers STARTTLS (the tls check judges the handshake)"}
	SpecSMTPUnreachable     = Spec{ID: "smtp.unreachable", Severity: Error, RFC: "RFC 5321 §5.1", Summary: "no connection to the address and port (refused, timed out, or --offline)"}
	SpecSMTPPort25Blocked   = Spec{ID: "smtp.port25-blocked", Severity: Error, Summary: "port 25 failed on every MX address: outbound port 25 is probably blocked where mailcheck runs"}
	SpecSMTPGreeting        = Spec{ID: "smtp.greeting-refused", Severity: Error, RFC: "RFC 5321 §3.1", Summary: "the server greeted with a refusal (421/4xx/554: busy, greylisting, rate limit, or mailcheck's address is refused)"}
	SpecSMTPSession         = Spec{ID: "smtp.session-error", Severity: Error, Summary: "the session broke off (timeout, disconnect, garbage, oversized reply); the transcript shows where"}
	SpecSMTPBannerMismatch  = Spec{ID: "smtp.banner-mismatch", Severity: Warn, RFC: "RFC 5321 §4.3.1", Summary: "the greeting's host name is neither the MX name nor a PTR name of the address (nor a host of their organizational domains)"}
	SpecSMTPNoStartTLS      = Spec{ID: "smtp.no-starttls", Severity: Fail, RFC: "RFC 3207", Summary: "the server answered EHLO without offering STARTTLS: mail to it travels in clear text"}
	SpecSMTPOpenRelay       = Spec{ID: "smtp.open-relay", Severity: Fail, RFC: "RFC 5321 §3.9, RFC 2505", Summary: "the server accepted a recipient in a foreign domain from an unauthenticated client: an open relay"}
	SpecSMTPRelayClosed     = Spec{ID: "smtp.relay-closed", Severity: Pass, RFC: "RFC 5321 §3.9", Summary: "the server refused to relay to a foreign domain"}
	SpecSMTPRelayUnclear    = Spec{ID: "smtp.relay-inconclusive", Severity: Info, RFC: "RFC 5321 §3.9", Summary: "the relay test was refused for another reason (sender, recipient domain, greylisting): not a verdict"}
	SpecSMTPAuthBeforeTLS   = Spec{ID: "smtp.auth-before-tls", Severity: Fail, RFC: "RFC 4954 §4, RFC 8314 §3.3", Summary: "AUTH is offered before TLS: passwords can be sent in clear text"}
	SpecSMTPSubmissionNoTLS = Spec{ID: "smtp.submission-no-tls-required", Severity: Fail, RFC: "RFC 8314 §3.3, RFC 3207 §4", Summary: "the submission port accepts MAIL without STARTTLS (or offers no STARTTLS)"}
	SpecSMTPSubmissionOK    = Spec{ID: "smtp.submission-ok", Severity: Pass, RFC: "RFC 8314, RFC 6409", Summary: "the submission port requires TLS (STARTTLS on 587, implicit TLS on 465) and its AUTH mechanisms"}
	SpecSMTPSubmissionNone  = Spec{ID: "smtp.submission-none", Severity: Info, RFC: "RFC 6186", Summary: "no submission host to probe: none given with --submission-host and no _submission(s)._tcp SRV record"}
	SpecSMTPSkipped         = Spec{ID: "smtp.skipped", Severity: Info, Summary: "nothing to probe on port 25 (null MX, no MX address), or an address was skipped (private, see --allow-private)"}
	SpecSMTPTemperror       = Spec{ID: "smtp.temperror", Severity: Error, Summary: "a DNS lookup the probes need (MX, SRV, host address) failed"}
)

// SMTP probes port 25 on every MX address (banner, EHLO, STARTTLS, open
// relay) and the submission ports 587 and 465 of the submission hosts.
// It shares its sessions with the tls check (Env.probe).
type SMTP struct{}

var _ Check = SMTP{}

// Meta implements Check.
func (SMTP) Meta() Meta {
	return Meta{Name: "smtp", Title: "SMTP servers", Weight: 3, Findings: []Spec{
		SpecSMTPOK, SpecSMTPStartTLS, SpecSMTPUnreachable, SpecSMTPPort25Blocked, SpecSMTPGreeting, SpecSMTPSession,
		SpecSMTPBannerMismatch, SpecSMTPNoStartTLS, SpecSMTPOpenRelay, SpecSMTPRelayClosed, SpecSMTPRelayUnclear,
		SpecSMTPAuthBeforeTLS, SpecSMTPSubmissionNoTLS, SpecSMTPSubmissionOK, SpecSMTPSubmissionNone, SpecSMTPSkipped,
		SpecSMTPTemperror,
	}}
}

// DefaultRelayRcpt is the open-relay test recipient when
// --relay-test-rcpt is not given: a reserved domain (RFC 2606) that no
// server serves, so accepting it can only mean relaying.
const DefaultRelayRcpt = "relay-test@mailcheck.invalid"

// probeConcurrency bounds the sessions of an audit (smtp and tls checks
// together) at once.
const probeConcurrency = 8

// smtpTarget is one address and port to probe.
type smtpTarget struct {
	Host   string // MX or submission host name (the certificate must match it)
	Addr   netip.Addr
	Port   uint16
	Mode   smtpprobe.Mode
	Source string // where the target comes from: "MX", "--submission-host", "SRV _submission._tcp"
}

func (t smtpTarget) address() string { return netip.AddrPortFrom(t.Addr, t.Port).String() }

func (t smtpTarget) String() string {
	if t.Host == t.Addr.String() {
		return netip.AddrPortFrom(t.Addr, t.Port).String() // a host given as an address
	}
	return fmt.Sprintf("%s[%s]:%d", t.Host, t.Addr, t.Port)
}

// probeSemKey is the Env.probes key of the audit's session bound.
type probeSemKey struct{}

// probeEntry memoizes one session per audit (Env.probes).
type probeEntry struct {
	once sync.Once
	res  *smtpprobe.Result
}

// probe runs (once per audit) the session for t; the smtp and tls checks
// both call it and share the result.
func (e *Env) probe(ctx context.Context, t smtpTarget) *smtpprobe.Result {
	key := fmt.Sprintf("%s %s %d", t.address(), t.Host, t.Mode)
	v, _ := e.probes.LoadOrStore(key, &probeEntry{})
	pe := v.(*probeEntry)
	pe.once.Do(func() {
		// One bound for the whole audit: the session's runner holds a
		// slot, a check waiting for a session another check runs holds
		// none.
		s, _ := e.probes.LoadOrStore(probeSemKey{}, make(chan struct{}, probeConcurrency))
		sem := s.(chan struct{})
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			pe.res = &smtpprobe.Result{Host: t.Host, Address: t.address(), Mode: t.Mode.String(), Stage: smtpprobe.StageConnect,
				Err: fmt.Errorf("not started before the audit deadline: %w", ctx.Err()), Transcript: []string{}}
			return
		}
		defer func() { <-sem }()
		timeout := e.Options.ProbeTimeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		cfg := smtpprobe.Config{
			Host: t.Host, Address: t.address(), Mode: t.Mode, Dialer: e.Dialer, RootCAs: e.RootCAs,
			Now: e.Now, Timeout: timeout, Trace: e.Trace,
		}
		if t.Mode == smtpprobe.Relay {
			cfg.RelayRcpt = e.relayRcpt()
		}
		pe.res = smtpprobe.Probe(ctx, cfg)
	})
	return pe.res
}

func (e *Env) relayRcpt() string {
	if r := strings.Trim(strings.TrimSpace(e.Options.RelayTestRcpt), "<>"); r != "" {
		return r
	}
	return DefaultRelayRcpt
}

// probeAll runs the sessions of targets, at most probeConcurrency at once
// in the whole audit (Env.probe).
func probeAll(ctx context.Context, env *Env, targets []smtpTarget) []*smtpprobe.Result {
	out := make([]*smtpprobe.Result, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = env.probe(ctx, t)
		}()
	}
	wg.Wait()
	return out
}

// smtpPlan is what the smtp and tls checks probe, and the findings made
// while finding it out (DNS failures, skipped addresses).
type smtpPlan struct {
	MX         []smtpTarget
	Submission []smtpTarget
	Findings   []Finding
	NoMX       bool // nothing to probe on port 25
}

// planSMTP lists the targets: port 25 on every routable MX address (all
// with --allow-private), and 587/465 on the submission hosts of
// --submission-host and of the RFC 6186 SRV records. Every lookup goes
// through env.Resolver (and its per-run cache), so the tls check making
// the same plan sends no query twice.
func planSMTP(ctx context.Context, env *Env) *smtpPlan {
	p := &smtpPlan{}
	set := env.MX(ctx)
	switch {
	case set.Err != nil:
		p.Findings = append(p.Findings, SpecSMTPTemperror.New("the MX set of %s could not be looked up, so no MX host was probed: %v", env.Domain.ASCII, set.Err))
		p.NoMX = true
	case set.NXDomain:
		p.Findings = append(p.Findings, SpecSMTPSkipped.New("%s does not exist (NXDOMAIN): no server to probe", env.Domain.ASCII))
		p.NoMX = true
	case set.Null && len(set.Hosts) == 0:
		p.Findings = append(p.Findings, SpecSMTPSkipped.New("%s publishes a null MX: it receives no mail, so port 25 was not probed", env.Domain.ASCII))
		p.NoMX = true
	}
	seen := map[string]bool{}
	for _, h := range set.Hosts {
		for _, a := range h.Addrs {
			t := smtpTarget{Host: h.Name, Addr: a.Unmap(), Port: 25, Mode: smtpprobe.Relay, Source: "MX"}
			if seen[t.address()] {
				continue
			}
			seen[t.address()] = true
			if why := unroutable(t.Addr); why != "" && !env.Options.AllowPrivate {
				p.Findings = append(p.Findings, SpecSMTPSkipped.New("%s is a %s address: not probed (use --allow-private to probe it from inside its network)", t, why))
				continue
			}
			p.MX = append(p.MX, t)
		}
	}
	if !p.NoMX && len(p.MX) == 0 && len(set.Addrs()) == 0 {
		p.NoMX = true
		p.Findings = append(p.Findings, SpecSMTPSkipped.New("no MX host of %s has an address to probe (see the mx check)", env.Domain.ASCII))
	}

	// Submission hosts: the user's, then the SRV records'.
	type sub struct {
		host   string
		ports  []uint16
		source string
	}
	var subs []sub
	for _, s := range env.Options.SubmissionHosts {
		host, port := s, ""
		if h, pt, err := net.SplitHostPort(s); err == nil {
			host, port = h, pt // NAME:PORT, [IPv6]:PORT
		}
		host = strings.Trim(host, "[]")
		ports := []uint16{587, 465}
		if port != "" {
			n, err := strconv.ParseUint(port, 10, 16)
			if err != nil || n == 0 {
				p.Findings = append(p.Findings, SpecSMTPTemperror.New("--submission-host %q: bad port %q", s, port))
				continue
			}
			ports = []uint16{uint16(n)}
		}
		subs = append(subs, sub{host, ports, "--submission-host"})
	}
	var declined []string
	for _, svc := range []string{"_submission._tcp", "_submissions._tcp"} {
		name := svc + "." + env.Domain.FQDN()
		ans, err := env.Resolver.Query(ctx, name, dns.TypeSRV)
		if err != nil {
			p.Findings = append(p.Findings, SpecSMTPTemperror.New("the SRV record %s could not be looked up: %v", strings.TrimSuffix(name, "."), err))
			continue
		}
		for _, rr := range ans.Of(dns.TypeSRV) {
			srv := rr.(*dns.SRV)
			if srv.Target == "." {
				declined = append(declined, rr.String())
				continue // RFC 6186 §4 (RFC 2782): the service is not offered
			}
			subs = append(subs, sub{strings.TrimSuffix(dns.CanonicalName(srv.Target), "."), []uint16{srv.Port}, "SRV " + svc})
		}
	}
	seenSub := map[string]bool{}
	for _, s := range subs {
		var addrs []netip.Addr
		if ip, err := netip.ParseAddr(s.host); err == nil {
			addrs = []netip.Addr{ip}
		} else {
			n, err := resolve.ParseName(s.host)
			if err != nil {
				p.Findings = append(p.Findings, SpecSMTPTemperror.New("submission host %q (%s) is not a valid host name: %v", s.host, s.source, err))
				continue
			}
			s.host = n.ASCII
			r := resolve.Addrs(ctx, env.Resolver, n.FQDN())
			if len(r.Addrs) == 0 {
				if r.Err != nil {
					p.Findings = append(p.Findings, SpecSMTPTemperror.New("the addresses of submission host %s (%s) could not be looked up: %v", s.host, s.source, r.Err))
				} else {
					p.Findings = append(p.Findings, SpecSMTPUnreachable.New("submission host %s (%s) has no A or AAAA record: %s", s.host, s.source, resolve.Describe(r.A, nil)))
				}
				continue
			}
			addrs = r.Addrs
		}
		for _, a := range addrs {
			for _, port := range s.ports {
				mode := smtpprobe.Submission
				if port == 465 {
					mode = smtpprobe.Implicit
				}
				t := smtpTarget{Host: s.host, Addr: a.Unmap(), Port: port, Mode: mode, Source: s.source}
				k := t.address() + " " + t.Host
				if seenSub[k] {
					continue
				}
				seenSub[k] = true
				// The user named the host: probe it even on a private
				// address. SRV targets follow --allow-private.
				if why := unroutable(t.Addr); why != "" && !env.Options.AllowPrivate && s.source != "--submission-host" {
					p.Findings = append(p.Findings, SpecSMTPSkipped.New("submission host %s is a %s address: not probed (use --allow-private)", t, why))
					continue
				}
				p.Submission = append(p.Submission, t)
			}
		}
	}
	switch {
	case len(subs) == 0 && len(declined) > 0:
		p.Findings = append(p.Findings, SpecSMTPSubmissionNone.New("%s declares that it offers no mail submission (SRV target \".\"), and no --submission-host was given: ports 587 and 465 were not probed", env.Domain.ASCII).
			WithRecords(declined...))
	case len(subs) == 0:
		p.Findings = append(p.Findings, SpecSMTPSubmissionNone.New("%s publishes no _submission._tcp or _submissions._tcp SRV record and no --submission-host was given: ports 587 and 465 were not probed", env.Domain.ASCII).
			WithFix("publish the mail client settings (RFC 6186), e.g. _submissions._tcp.%s. IN SRV 0 1 465 mail.%s. and _submission._tcp.%s. IN SRV 0 1 587 mail.%s.", env.Domain.ASCII, env.Domain.ASCII, env.Domain.ASCII, env.Domain.ASCII))
	}
	return p
}

// smtpItem is the check's structured result per session.
type smtpItem struct {
	Target string `json:"target"`
	Source string `json:"source"`
	*smtpprobe.Result
	Error string `json:"error,omitempty"`
}

// Run implements Check.
func (SMTP) Run(ctx context.Context, env *Env) Result {
	if env.Options.Offline {
		return Result{Findings: []Finding{SpecSMTPUnreachable.New("--offline: no SMTP server was contacted; run without --offline to probe ports 25, 587 and 465")}}
	}
	p := planSMTP(ctx, env)
	fs := append([]Finding{}, p.Findings...)
	targets := append(append([]smtpTarget{}, p.MX...), p.Submission...)
	results := probeAll(ctx, env, targets)

	// Port 25 failing at connect on every MX address is mailcheck's
	// network, not the domain: say so once.
	var items []smtpItem
	for i, t := range targets {
		items = append(items, smtpItem{Target: t.String(), Source: t.Source, Result: results[i], Error: results[i].ErrorText()})
	}
	mxResults := results[:len(p.MX)]
	blocked := len(mxResults) > 0
	for _, r := range mxResults {
		if r.Connected {
			blocked = false
		}
	}
	if blocked {
		var recs []string
		for i, r := range mxResults {
			recs = append(recs, fmt.Sprintf("%s: %v", p.MX[i], r.Err))
		}
		fs = append(fs, SpecSMTPPort25Blocked.New("no connection to port 25 on any of the %d MX address(es) of %s; outbound port 25 is probably blocked where mailcheck runs (common on home and cloud networks), so nothing is known about the servers", len(mxResults), env.Domain.ASCII).
			WithRecords(recs...).
			WithFix("run mailcheck from a host allowed to connect out on port 25 (or ask the network's operator to open it)"))
	}
	for i, t := range targets {
		r := results[i]
		if t.Mode == smtpprobe.Relay {
			if !blocked {
				fs = append(fs, judgeMX(ctx, env, t, r)...)
			}
			continue
		}
		fs = append(fs, judgeSubmission(t, r)...)
	}
	return Result{Findings: fs, Data: items}
}

// sessionFailure turns a session that stopped before EHLO completed into
// its error finding, or returns false when there is something to judge.
func sessionFailure(t smtpTarget, r *smtpprobe.Result) (Finding, bool) {
	switch {
	case !r.Connected:
		return SpecSMTPUnreachable.New("%s (%s): no connection: %v", t, t.Source, r.Err).WithRecords(r.Transcript...), true
	case r.Stage == smtpprobe.StageBanner && r.Banner != nil && r.Banner.Code != 220:
		return SpecSMTPGreeting.New("%s greeted with %q instead of 220: the server is refusing sessions for now (busy, greylisting, rate limiting, or mailcheck's address is refused); nothing else could be checked", t, r.Banner.String()).
			WithRecords(r.Transcript...), true
	case r.Stage == smtpprobe.StageBanner, r.Stage == smtpprobe.StageEHLO:
		return SpecSMTPSession.New("%s: the session broke off at the %s: %v", t, r.Stage, r.Err).WithRecords(r.Transcript...), true
	case t.Mode == smtpprobe.Implicit && r.Stage == smtpprobe.StageTLS:
		return SpecSMTPSession.New("%s: %v (see the tls check)", t, r.Err).WithRecords(r.Transcript...), true
	}
	return Finding{}, false
}

// judgeMX turns one port-25 session into findings.
func judgeMX(ctx context.Context, env *Env, t smtpTarget, r *smtpprobe.Result) []Finding {
	if f, done := sessionFailure(t, r); done {
		return []Finding{f}
	}
	var fs []Finding
	ehloRecs := []string{r.Banner.String()}
	if r.EHLO != nil {
		ehloRecs = append(ehloRecs, r.EHLO.String())
	}
	ext := "none (the server refused EHLO and answered HELO: no ESMTP)"
	if r.ESMTP {
		ext = strings.Join(r.Extensions, ", ")
	}
	fs = append(fs, SpecSMTPOK.New("%s answered in %s: %q; EHLO extensions: %s", t, r.BannerDelay.Round(time.Millisecond), r.Banner.String(), ext).
		WithRecords(ehloRecs...))
	if f, ok := bannerMismatch(ctx, env, t, r); ok {
		fs = append(fs, f)
	}
	switch {
	case !r.ESMTP:
		fs = append(fs, SpecSMTPNoStartTLS.New("%s refused EHLO (%s) and only speaks plain SMTP: no STARTTLS, so mail to it travels in clear text", t, r.EHLO).
			WithRecords(r.Transcript...).
			WithFix("enable ESMTP and STARTTLS on the server (Postfix: smtpd_tls_security_level = may with smtpd_tls_chain_files)"))
	case !r.StartTLSOffered:
		fs = append(fs, SpecSMTPNoStartTLS.New("%s answered EHLO without offering STARTTLS: mail to %s travels in clear text", t, env.Domain.ASCII).
			WithRecords(ehloRecs...).
			WithFix("enable STARTTLS with a certificate for %s (Postfix: smtpd_tls_security_level = may, smtpd_tls_chain_files = /etc/ssl/private/%s.pem)", t.Host, t.Host))
	default:
		fs = append(fs, SpecSMTPStartTLS.New("%s offers STARTTLS", t).WithRecords(ehloRecs...))
	}
	if r.AuthBeforeTLS != nil {
		fs = append(fs, authBeforeTLS(t, r))
	}
	fs = append(fs, judgeRelay(t, r)...)
	if f, ok := lateFailure(t, r); ok {
		fs = append(fs, f)
	}
	return fs
}

// stageText names the probe stages in messages.
var stageText = map[string]string{
	smtpprobe.StageMail:     "MAIL before STARTTLS",
	smtpprobe.StageStartTLS: "the STARTTLS command",
	smtpprobe.StageEHLOTLS:  "EHLO after STARTTLS",
}

// lateFailure reports a session that broke off after EHLO at a stage no
// other finding covers: the STARTTLS command unanswered, EHLO after the
// handshake, MAIL before STARTTLS on 587. A refused STARTTLS and a failed
// handshake are the tls check's (tls.handshake-failed), a broken relay
// test is judgeRelay's.
func lateFailure(t smtpTarget, r *smtpprobe.Result) (Finding, bool) {
	what, ok := stageText[r.Stage]
	if r.Err == nil || !ok || errors.Is(r.Err, smtpprobe.ErrNotTLS) {
		return Finding{}, false
	}
	return SpecSMTPSession.New("%s: the session broke off at %s: %v; what the server does from there on is unknown", t, what, r.Err).
		WithRecords(r.Transcript...), true
}

func authBeforeTLS(t smtpTarget, r *smtpprobe.Result) Finding {
	return SpecSMTPAuthBeforeTLS.New("%s offers AUTH %s before STARTTLS: a client can send its password in clear text", t, strings.Join(r.AuthBeforeTLS, " ")).
		WithRecords(r.EHLO.String()).
		WithFix("offer AUTH only under TLS (Postfix: smtpd_tls_auth_only = yes; Exim: auth_advertise_hosts = ${if eq{$tls_in_cipher}{}{}{*}})")
}

// judgeRelay reads the open-relay test of a port-25 session.
func judgeRelay(t smtpTarget, r *smtpprobe.Result) []Finding {
	if r.Stage == smtpprobe.StageRelay {
		return []Finding{SpecSMTPSession.New("%s: the session broke off during the open-relay test: %v", t, r.Err).WithRecords(r.Transcript...)}
	}
	if r.RelayMail == nil {
		return nil
	}
	recs := relayLines(r.Transcript)
	if r.RelayMail.Class() != 2 {
		return []Finding{SpecSMTPRelayUnclear.New("%s refused MAIL FROM:<> (%s), so relaying could not be tested", t, r.RelayMail).WithRecords(recs...)}
	}
	rc := r.RelayRcpt
	switch {
	case rc.Class() == 2 && probedItself(t, r):
		// Run on the mail server itself, mailcheck connects from the
		// server's own address, which the server trusts (Postfix's
		// default mynetworks holds the host's addresses): relaying is
		// accepted as for local programs, and says nothing about
		// strangers.
		return []Finding{SpecSMTPRelayUnclear.New("%s accepted RCPT TO:<%s> (%s), but mailcheck connected from the server's own address (%s), which a server trusts like its local programs: no verdict on relaying for strangers", t, r.RelayTo, rc, r.LocalAddr).
			WithRecords(recs...).
			WithFix("run mailcheck from another host to test relaying")}
	case rc.Class() == 2:
		return []Finding{SpecSMTPOpenRelay.New("%s accepted RCPT TO:<%s> from an unauthenticated client (%s): it relays mail for anyone, and will be abused for spam and blocklisted", t, r.RelayTo, rc).
			WithRecords(recs...).
			WithFix("relay only for your own domains and authenticated users (Postfix: smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination, with mynetworks limited to your own hosts)")}
	case relayDenied(rc):
		return []Finding{SpecSMTPRelayClosed.New("%s refused to relay to <%s>: %s", t, r.RelayTo, rc).WithRecords(recs...)}
	case rc.Class() == 5 && !strings.HasPrefix(rc.Enhanced(), "5.1.") && !strings.Contains(replyWords(rc), "domain"):
		return []Finding{SpecSMTPRelayClosed.New("%s refused the relay recipient <%s>: %s", t, r.RelayTo, rc).WithRecords(recs...)}
	}
	return []Finding{SpecSMTPRelayUnclear.New("%s refused <%s> with %s, which does not say whether it would relay (a recipient-domain check or greylisting); no verdict", t, r.RelayTo, rc).
		WithRecords(recs...).
		WithFix("rerun with --relay-test-rcpt set to an address in a real domain the server does not serve, e.g. --relay-test-rcpt you@your-other-provider.example")}
}

// probedItself reports whether the session came from the probed address
// itself (mailcheck running on the mail server).
func probedItself(t smtpTarget, r *smtpprobe.Result) bool {
	ap, err := netip.ParseAddrPort(r.LocalAddr)
	return err == nil && ap.Addr().Unmap() == t.Addr.Unmap()
}

// relayDenied reports a reply that refuses relaying as such: Postfix's
// "Relay access denied" (554 5.7.1, or 454 4.7.1 with
// defer_unauth_destination), Exim's "relay not permitted", Exchange's
// "5.7.54 Unable to relay".
func relayDenied(rc *smtpprobe.Reply) bool {
	if rc.Class() != 4 && rc.Class() != 5 {
		return false
	}
	return strings.Contains(replyWords(rc), "relay")
}

// replyWords is the reply text in lower case without <addresses>, whose
// local part ("relay-test@...") must not be mistaken for the reason.
func replyWords(rc *smtpprobe.Reply) string {
	t := strings.ToLower(rc.Text())
	var b strings.Builder
	depth := 0
	for _, r := range t {
		switch {
		case r == '<':
			depth++
		case r == '>' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// relayLines extracts the MAIL/RCPT/RSET exchange from a transcript.
func relayLines(tr []string) []string {
	var out []string
	in := false
	for _, l := range tr {
		if strings.HasPrefix(l, "> ") {
			u := strings.ToUpper(l[2:])
			in = strings.HasPrefix(u, "MAIL") || strings.HasPrefix(u, "RCPT") || strings.HasPrefix(u, "RSET")
		}
		if in {
			out = append(out, l)
		}
	}
	return out
}

// bannerMismatch compares the greeting's host name with the MX name and
// the PTR names of the address.
func bannerMismatch(ctx context.Context, env *Env, t smtpTarget, r *smtpprobe.Result) (Finding, bool) {
	bh := strings.TrimSuffix(strings.ToLower(r.BannerHost), ".")
	// A greeting naming another host of the MX's organization (Google's
	// aspmx.l.google.com greets as mx.google.com, Microsoft's MX hosts
	// with their internal names) is no mismatch: only a name outside the
	// MX's and the PTR's organizations, or none, is worth a warning.
	if strings.EqualFold(bh, t.Host) || sameOrg(bh, t.Host) {
		return Finding{}, false
	}
	names, _, err := resolve.PTR(ctx, env.Resolver, t.Addr)
	var ptrs []string
	for _, n := range names {
		n = strings.TrimSuffix(strings.ToLower(n), ".")
		if n == bh || sameOrg(bh, n) {
			return Finding{}, false
		}
		ptrs = append(ptrs, n)
	}
	if err != nil {
		// Without the PTR names there is no verdict; the ptr check
		// reports the failed lookup.
		return Finding{}, false
	}
	ptrText := "no PTR"
	if len(ptrs) > 0 {
		ptrText = "PTR " + strings.Join(ptrs, ", ")
	}
	what := fmt.Sprintf("names %q", r.BannerHost)
	if bh == "" {
		what = "names no host"
	}
	return SpecSMTPBannerMismatch.New("the greeting of %s %s, which is neither the MX name %s nor the address's %s; some receivers and blocklists score such mismatches", t, what, t.Host, ptrText).
		WithRecords(r.Banner.String()).
		WithFix("make the server greet with its public name (Postfix: myhostname = %s) and set the PTR of %s to that name", t.Host, t.Addr), true
}

// sameOrg reports whether two host names have the same organizational
// domain; names without one ("localhost", a bare TLD) never match.
func sameOrg(a, b string) bool {
	oa, err1 := orgdomain.Lookup(a)
	ob, err2 := orgdomain.Lookup(b)
	return err1 == nil && err2 == nil && oa == ob
}

// judgeSubmission turns one 587/465 session into findings.
func judgeSubmission(t smtpTarget, r *smtpprobe.Result) []Finding {
	if f, done := sessionFailure(t, r); done {
		return []Finding{f}
	}
	var fs []Finding
	if r.AuthBeforeTLS != nil {
		fs = append(fs, authBeforeTLS(t, r))
	}
	if t.Mode == smtpprobe.Implicit {
		auth := "no AUTH offered"
		if r.AuthAfterTLS != nil {
			auth = "AUTH " + strings.Join(r.AuthAfterTLS, " ")
		}
		return append(fs, SpecSMTPSubmissionOK.New("%s speaks implicit TLS (%s); %s", t, r.TLS.Version, auth).WithRecords(r.Banner.String(), r.EHLO.String()))
	}
	mailRefused := r.MailBeforeTLS != nil && r.MailBeforeTLS.Class() != 2
	switch {
	case r.MailBeforeTLS != nil && r.MailBeforeTLS.Class() == 2:
		fs = append(fs, SpecSMTPSubmissionNoTLS.New("%s accepted MAIL FROM before STARTTLS (%s): a client can submit mail in clear text", t, r.MailBeforeTLS).
			WithRecords(relayLines(r.Transcript)...).
			WithFix("require TLS on the submission port (Postfix master.cf: submission inet ... -o smtpd_tls_security_level=encrypt -o smtpd_tls_auth_only=yes)"))
	case !r.StartTLSOffered:
		fs = append(fs, SpecSMTPSubmissionNoTLS.New("%s offers no STARTTLS: mail clients cannot encrypt their session (MAIL before TLS: %s)", t, r.MailBeforeTLS).
			WithRecords(r.EHLO.String()).
			WithFix("enable STARTTLS and require it on port 587 (Postfix: -o smtpd_tls_security_level=encrypt), or offer implicit TLS on port 465 (RFC 8314)"))
	}
	if r.StartTLSOffered && mailRefused && r.Err == nil {
		auth := "no AUTH offered after TLS"
		if r.AuthAfterTLS != nil {
			auth = "AUTH " + strings.Join(r.AuthAfterTLS, " ") + " after TLS"
		}
		fs = append(fs, SpecSMTPSubmissionOK.New("%s requires STARTTLS (MAIL before TLS: %s); %s", t, r.MailBeforeTLS, auth).
			WithRecords(r.EHLO.String(), r.MailBeforeTLS.String()))
	}
	if f, ok := lateFailure(t, r); ok {
		fs = append(fs, f)
	}
	return fs
}
