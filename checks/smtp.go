package checks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/orgdomain"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/sanitize"
	"github.com/mailcheck/mailcheck/internal/smtpprobe"
)

// smtpCatalog declares the finding IDs of the smtp check, each once (findings.Catalog).
var smtpCatalog findings.Catalog

// Finding IDs of the smtp check.
var (
	SpecSMTPOK              = smtpCatalog.Add(Spec{ID: "smtp.ok", Severity: Pass, RFC: "RFC 5321 §4.3.1", Summary: "the MX address answers on port 25: banner, time to banner and EHLO extensions"})
	SpecSMTPStartTLS        = smtpCatalog.Add(Spec{ID: "smtp.starttls", Severity: Pass, RFC: "RFC 3207", Summary: "the server offers STARTTLS (the tls check judges the handshake)"})
	SpecSMTPUnreachable     = smtpCatalog.Add(Spec{ID: "smtp.unreachable", Severity: Error, RFC: "RFC 5321 §5.1", Summary: "no connection to the address and port (refused, timed out, or --offline)"})
	SpecSMTPPort25Blocked   = smtpCatalog.Add(Spec{ID: "smtp.port25-blocked", Severity: Error, Summary: "port 25 failed on every MX address: outbound port 25 is probably blocked where mailcheck runs"})
	SpecSMTPGreeting        = smtpCatalog.Add(Spec{ID: "smtp.greeting-refused", Severity: Error, RFC: "RFC 5321 §3.1", Summary: "the server greeted with a refusal (421/4xx/554: busy, greylisting, rate limit, or mailcheck's address is refused)"})
	SpecSMTPSession         = smtpCatalog.Add(Spec{ID: "smtp.session-error", Severity: Error, Summary: "the session broke off (timeout, disconnect, garbage, oversized reply); the transcript shows where"})
	SpecSMTPBannerMismatch  = smtpCatalog.Add(Spec{ID: "smtp.banner-mismatch", Severity: Warn, RFC: "RFC 5321 §4.3.1", Summary: "the greeting's host name is neither the MX name nor a PTR name of the address (nor a host of their organizational domains)"})
	SpecSMTPNoStartTLS      = smtpCatalog.Add(Spec{ID: "smtp.no-starttls", Severity: Fail, RFC: "RFC 3207", Summary: "the server answered EHLO without offering STARTTLS: mail to it travels in clear text"})
	SpecSMTPOpenRelay       = smtpCatalog.Add(Spec{ID: "smtp.open-relay", Severity: Fail, RFC: "RFC 5321 §3.9, RFC 2505", Summary: "the server accepted a recipient in a foreign domain from an unauthenticated client: an open relay"})
	SpecSMTPRelayClosed     = smtpCatalog.Add(Spec{ID: "smtp.relay-closed", Severity: Pass, RFC: "RFC 5321 §3.9", Summary: "the server refused to relay to a foreign domain"})
	SpecSMTPRelayUnclear    = smtpCatalog.Add(Spec{ID: "smtp.relay-inconclusive", Severity: Info, RFC: "RFC 5321 §3.9", Summary: "the relay test was refused for another reason (sender, recipient domain, greylisting): not a verdict"})
	SpecSMTPAuthBeforeTLS   = smtpCatalog.Add(Spec{ID: "smtp.auth-before-tls", Severity: Fail, RFC: "RFC 4954 §4, RFC 8314 §3.3", Summary: "AUTH is offered before TLS: passwords can be sent in clear text"})
	SpecSMTPSubmissionNoTLS = smtpCatalog.Add(Spec{ID: "smtp.submission-no-tls-required", Severity: Fail, RFC: "RFC 8314 §3.3, RFC 3207 §4", Summary: "the submission port accepts MAIL without STARTTLS (or offers no STARTTLS)"})
	SpecSMTPSubmissionOK    = smtpCatalog.Add(Spec{ID: "smtp.submission-ok", Severity: Pass, RFC: "RFC 8314, RFC 6409", Summary: "the submission port requires TLS (STARTTLS on 587, implicit TLS on 465) and its AUTH mechanisms"})
	SpecSMTPSubmissionNone  = smtpCatalog.Add(Spec{ID: "smtp.submission-none", Severity: Info, RFC: "RFC 6186", Summary: "no submission host to probe: none given with --submission-host and no _submission(s)._tcp SRV record"})
	SpecSMTPSkipped         = smtpCatalog.Add(Spec{ID: "smtp.skipped", Severity: Info, Summary: "nothing to probe on port 25 (null MX, no MX address), or an address was skipped (private, see --allow-private)"})
	SpecSMTPTemperror       = smtpCatalog.Add(Spec{ID: "smtp.temperror", Severity: Error, Summary: "a DNS lookup the probes need (MX, SRV, host address) failed"})
	SpecSMTPSRVPortUnusual  = smtpCatalog.Add(Spec{ID: "smtp.srv-port-unusual", Severity: Info, RFC: "RFC 6186 §3.1, RFC 8314 §5.1", Summary: "a submission SRV record names a port other than 587 or 465: that server is not contacted (unless --allow-srv-ports)"})
	SpecSMTPCutShort        = smtpCatalog.Add(Spec{ID: "smtp.cut-short", Severity: Error, Summary: "the audit deadline (--deadline) or an interruption ended the probe: nothing is said about that server"})
)

// SMTP probes port 25 on every MX address (banner, EHLO, STARTTLS, open
// relay) and the submission ports 587 and 465 of the submission hosts.
// It shares its sessions with the tls check (Env.probe).
type SMTP struct{}

var _ Check = SMTP{}

// Meta implements Check.
func (SMTP) Meta() Meta {
	return Meta{Name: "smtp", Title: "SMTP servers", Weight: 3, Findings: smtpCatalog.Specs()}
}

// DefaultRelayRcpt is the open-relay test recipient when
// --relay-test-rcpt is not given: a reserved domain (RFC 2606) that no
// server serves, so accepting it can only mean relaying.
const DefaultRelayRcpt = "relay-test@mailcheck.invalid"

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

// relayRcpt is the open-relay test recipient, "" when the one given is
// not an address the test can use (the CLI refuses it first).
func (e *Env) relayRcpt() string {
	r := strings.Trim(strings.TrimSpace(e.Options.SMTP.RelayTestRcpt), "<>")
	if r == "" {
		return DefaultRelayRcpt
	}
	if !ValidRelayRcpt(r) {
		return ""
	}
	return r
}

// ValidRelayRcpt accepts local@domain with a printable ASCII local part
// and a valid domain name: nothing that changes the RCPT command.
func ValidRelayRcpt(r string) bool {
	at := strings.LastIndex(r, "@")
	if at <= 0 || len(r) > 254 {
		return false
	}
	for _, c := range []byte(r[:at]) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte("<>()[]\\,;:\"", c) >= 0 {
			return false
		}
	}
	_, err := resolve.ParseName(r[at+1:])
	return err == nil && strings.Contains(r[at+1:], ".")
}

// smtpPlan is what the smtp and tls checks probe, and the findings made
// while finding it out (DNS failures, skipped addresses).
type smtpPlan struct {
	MX         []smtpTarget
	Submission []smtpTarget
	Findings   []Finding
	NoMX       bool // nothing to probe on port 25
	NullMX     bool // the domain publishes a null MX (RFC 7505)
}

// planSMTP lists the targets: port 25 on every routable MX address (all
// with --allow-private), and 587/465 on the submission hosts of
// --submission-host and of the RFC 6186 SRV records. Every lookup goes
// through env.Resolver (and its per-run cache), so the tls check making
// the same plan sends no query twice.
func planSMTP(ctx context.Context, env *Env) *smtpPlan {
	p := &smtpPlan{}
	set := env.MX(ctx)
	p.planMX(env, set)
	subs := p.userSubmissionHosts(env)
	srv := p.srvSubmissionHosts(ctx, env)
	p.resolveSubmission(ctx, env, append(subs, srv.hosts...))
	switch {
	case len(subs) > 0 || len(srv.hosts) > 0 || srv.unusual > 0:
	case srv.failed:
		// The SRV lookup's error finding says what is unknown: no
		// statement about the records rests on a failed lookup.
	case len(srv.declined) > 0:
		p.Findings = append(p.Findings, SpecSMTPSubmissionNone.New("%s declares that it offers no mail submission (SRV target \".\"), and no --submission-host was given: ports 587 and 465 were not probed", env.Domain.ASCII).
			WithRecords(srv.declined...))
	default:
		f := SpecSMTPSubmissionNone.New("%s publishes no _submission._tcp or _submissions._tcp SRV record and no --submission-host was given: ports 587 and 465 were not probed", env.Domain.ASCII)
		if host := submissionFixHost(set); host != "" {
			d := env.Domain.ASCII
			f = f.WithFix("if %s offers mail submission, publish the mail client settings (RFC 6186), naming the host that serves them, e.g. with your MX host %s: _submissions._tcp.%s. IN SRV 0 1 465 %s. and _submission._tcp.%s. IN SRV 0 1 587 %s.; or probe a host with --submission-host", d, host, d, host, d, host)
		}
		p.Findings = append(p.Findings, f)
	}
	return p
}

// submissionFixHost is a host the submission fix can name: the first MX
// host with an address (the one mail clients most often use), "" when
// there is none (no MX host found, null MX).
func submissionFixHost(set *MXSet) string {
	for _, h := range set.Hosts {
		if len(h.Addrs) > 0 && !h.IPLiteral {
			return h.Name
		}
	}
	return ""
}

// planMX adds port 25 on every MX address.
func (p *smtpPlan) planMX(env *Env, set *MXSet) {
	switch {
	case set.Err != nil:
		p.Findings = append(p.Findings, SpecSMTPTemperror.New("the MX set of %s could not be looked up, so no MX host was probed: %s", env.Domain.ASCII, resolve.Describe(nil, set.Err)))
		p.NoMX = true
	case set.NXDomain:
		p.Findings = append(p.Findings, SpecSMTPSkipped.New("%s does not exist (NXDOMAIN): no server to probe", env.Domain.ASCII))
		p.NoMX = true
	case set.Null && len(set.Hosts) == 0:
		p.NullMX = true
		p.Findings = append(p.Findings, SpecSMTPSkipped.New("%s publishes a null MX: it receives no mail, so port 25 was not probed", env.Domain.ASCII))
		p.NoMX = true
	}
	seen := map[netip.Addr]bool{} // an IPv4-mapped AAAA is its IPv4 address
	for _, m := range set.Targets() {
		t := smtpTarget{Host: m.Host, Addr: m.Addr.Unmap(), Port: 25, Mode: smtpprobe.Relay, Source: "MX"}
		if seen[t.Addr] {
			continue
		}
		seen[t.Addr] = true
		if why, skip := env.addrPolicy(t.Addr); skip {
			p.Findings = append(p.Findings, SpecSMTPSkipped.New("%s is a %s address: not probed (use --allow-private to probe it from inside its network)", t, why))
			continue
		}
		p.MX = append(p.MX, t)
	}
	if !p.NoMX && len(p.MX) == 0 && len(set.Addrs()) == 0 {
		p.NoMX = true
		p.Findings = append(p.Findings, SpecSMTPSkipped.New("no MX host of %s has an address to probe (see the mx check)", env.Domain.ASCII))
	}
}

// submissionHost is a host to probe for mail submission, and on which
// ports.
type submissionHost struct {
	host   string
	ports  []uint16
	mode   smtpprobe.Mode // for ports other than 587 and 465
	source string
}

// userSubmissionHosts parses --submission-host: NAME, ADDRESS, NAME:PORT,
// [IPv6]:PORT. A host without a port is probed on 587 and 465.
func (p *smtpPlan) userSubmissionHosts(env *Env) []submissionHost {
	var subs []submissionHost
	for _, s := range env.Options.SMTP.SubmissionHosts {
		host, port := s, ""
		if h, pt, err := net.SplitHostPort(s); err == nil {
			host, port = h, pt
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
		subs = append(subs, submissionHost{host, ports, smtpprobe.Submission, "--submission-host"})
	}
	return subs
}

// srvPlan is what the RFC 6186 SRV lookups found.
type srvPlan struct {
	hosts    []submissionHost
	declined []string // records with target "." (no service)
	unusual  int      // records naming a port that was not probed
	failed   bool     // a lookup failed: absence is unknown
}

// srvServices are the RFC 6186 submission services, their standard port
// and how that port speaks TLS (RFC 8314 §5.1).
var srvServices = []struct {
	name string
	port uint16
	mode smtpprobe.Mode
}{
	{"_submission._tcp", 587, smtpprobe.Submission},
	{"_submissions._tcp", 465, smtpprobe.Implicit},
}

// srvSubmissionHosts looks up the submission SRV records. A record
// naming a port other than 587 or 465 is reported, not probed, unless
// --allow-srv-ports: a DNS record must not make mailcheck speak SMTP to
// any port of any host.
func (p *smtpPlan) srvSubmissionHosts(ctx context.Context, env *Env) srvPlan {
	var sp srvPlan
	for _, svc := range srvServices {
		name := svc.name + "." + env.Domain.FQDN()
		ans, err := env.Resolver.Query(ctx, name, dns.TypeSRV)
		if err != nil {
			sp.failed = true
			p.Findings = append(p.Findings, SpecSMTPTemperror.New("the SRV lookup of %s failed, so whether %s publishes mail submission settings is unknown: %s", strings.TrimSuffix(name, "."), env.Domain.ASCII, resolve.Describe(nil, err)))
			continue
		}
		for _, rr := range ans.Of(dns.TypeSRV) {
			srv := rr.(*dns.SRV)
			rec := sanitize.Line(rr.String(), MaxRecordBytes)
			target := strings.TrimSuffix(dns.CanonicalName(srv.Target), ".")
			switch {
			case srv.Target == ".":
				sp.declined = append(sp.declined, rec)
				continue // RFC 6186 §4 (RFC 2782): the service is not offered
			case srv.Port != 587 && srv.Port != 465 && !env.Options.SMTP.AllowSRVPorts:
				sp.unusual++
				p.Findings = append(p.Findings, SpecSMTPSRVPortUnusual.New("%s names port %d of %s for mail submission; mailcheck probes only ports 587 and 465 from SRV records, so that server was not contacted (use --allow-srv-ports to probe it, or --submission-host %s)", strings.TrimSuffix(name, "."), srv.Port, sanitize.Line(target, 255), net.JoinHostPort(sanitize.Line(target, 255), strconv.Itoa(int(srv.Port)))).
					WithRecords(rec).
					WithFix("unless the port is deliberate, publish the standard port: %s. IN SRV %d %d %d %s.", strings.TrimSuffix(name, "."), srv.Priority, srv.Weight, svc.port, sanitize.Line(target, 255)))
				continue
			}
			sp.hosts = append(sp.hosts, submissionHost{target, []uint16{srv.Port}, svc.mode, "SRV " + svc.name})
		}
	}
	return sp
}

// resolveSubmission turns the submission hosts into targets.
func (p *smtpPlan) resolveSubmission(ctx context.Context, env *Env, subs []submissionHost) {
	seen := map[string]bool{}
	for _, s := range subs {
		addrs, ok := p.submissionAddrs(ctx, env, &s)
		if !ok {
			continue
		}
		for _, a := range addrs {
			for _, port := range s.ports {
				t := smtpTarget{Host: s.host, Addr: a.Unmap(), Port: port, Mode: portMode(port, s.mode), Source: s.source}
				k := t.address() + " " + t.Host
				if seen[k] {
					continue
				}
				seen[k] = true
				// The user named the host: probe it even on a private
				// address. SRV targets follow --allow-private.
				if why, skip := env.addrPolicy(t.Addr); skip && s.source != "--submission-host" {
					p.Findings = append(p.Findings, SpecSMTPSkipped.New("submission host %s is a %s address: not probed (use --allow-private)", t, why))
					continue
				}
				p.Submission = append(p.Submission, t)
			}
		}
	}
}

// portMode is how a submission port speaks TLS: 465 implicit TLS, 587
// STARTTLS, any other port as its source says.
func portMode(port uint16, other smtpprobe.Mode) smtpprobe.Mode {
	switch port {
	case 465:
		return smtpprobe.Implicit
	case 587:
		return smtpprobe.Submission
	}
	return other
}

// submissionAddrs returns the addresses of a submission host (an address
// given as such, or the A and AAAA records of a name), or false with a
// finding saying why there are none.
func (p *smtpPlan) submissionAddrs(ctx context.Context, env *Env, s *submissionHost) ([]netip.Addr, bool) {
	if ip, err := netip.ParseAddr(s.host); err == nil {
		return []netip.Addr{ip}, true
	}
	n, err := resolve.ParseName(s.host)
	if err != nil {
		p.Findings = append(p.Findings, SpecSMTPTemperror.New("submission host %q (%s) is not a valid host name: %v", sanitize.Line(s.host, 255), s.source, err))
		return nil, false
	}
	s.host = n.ASCII
	r := resolve.Addrs(ctx, env.Resolver, n.FQDN())
	switch {
	case len(r.Addrs) > 0:
		return r.Addrs, true
	case r.Err != nil:
		p.Findings = append(p.Findings, SpecSMTPTemperror.New("the addresses of submission host %s (%s) could not be looked up: %s", s.host, s.source, resolve.Describe(nil, r.Err)))
	default:
		p.Findings = append(p.Findings, SpecSMTPUnreachable.New("submission host %s (%s) has no A or AAAA record: %s", s.host, s.source, resolve.Describe(r.A, nil)))
	}
	return nil, false
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
	p := env.servicePlan(ctx)
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
	blocked := port25Blocked(mxResults)
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

// port25Blocked reports whether the port-25 sessions suggest that
// mailcheck's own network blocks outbound port 25: every attempt timed out
// connecting, without an answer (a refusal is an answer: something at the
// address reset the connection), none connected, and none was cut short by
// the audit deadline or an interruption. A local "network unreachable"
// (no IPv6 route here) is neither evidence for nor against.
func port25Blocked(rs []*smtpprobe.Result) bool {
	timedOut := 0
	for _, r := range rs {
		switch {
		case r.Connected, smtpprobe.CutShort(r.Err):
			return false
		case errors.Is(r.Err, smtpprobe.ErrTimeout):
			timedOut++
		case errors.Is(r.Err, syscall.ENETUNREACH):
		default:
			return false
		}
	}
	return timedOut > 0
}

// cutFinding reports a session the audit deadline or an interruption
// ended: no verdict on the server, whatever the last read said.
func cutFinding(t smtpTarget, r *smtpprobe.Result) (Finding, bool) {
	if !smtpprobe.CutShort(r.Err) {
		return Finding{}, false
	}
	return SpecSMTPCutShort.New("%s (%s): %v; what the server does from there on is unknown", t, t.Source, r.Err).
		WithRecords(r.Transcript...), true
}

// sessionFailure turns a session that stopped before EHLO completed into
// its error finding, or returns false when there is something to judge.
func sessionFailure(t smtpTarget, r *smtpprobe.Result) (Finding, bool) {
	if f, ok := cutFinding(t, r); ok && (!r.Connected || r.Stage == smtpprobe.StageBanner || r.Stage == smtpprobe.StageEHLO || r.Stage == smtpprobe.StageTLS && t.Mode == smtpprobe.Implicit) {
		return f, true
	}
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
	// No time to banner in the message: it varies from run to run and
	// lives in the check's data (banner_delay_ns).
	fs = append(fs, SpecSMTPOK.New("%s answered: %q; EHLO extensions: %s", t, r.Banner.String(), ext).
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
	if env.relayRcpt() == "" {
		fs = append(fs, SpecSMTPRelayUnclear.New("%s: the open-relay test was not run: the relay test recipient %q is not an address (local@domain)", t, sanitize.Line(env.Options.SMTP.RelayTestRcpt, 100)).
			WithFix("give --relay-test-rcpt as an address in a real domain the server does not serve, e.g. you@your-other-provider.example"))
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
	if f, ok := cutFinding(t, r); ok && r.Stage != smtpprobe.StageRelay {
		return f, true
	}
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
	if f, ok := cutFinding(t, r); ok && r.Stage == smtpprobe.StageRelay {
		return []Finding{f}
	}
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
	case syntaxReply(rc):
		return []Finding{SpecSMTPRelayUnclear.New("%s answered RCPT TO:<%s> with %s, a syntax or command error: the recipient was not judged, so there is no verdict on relaying", t, r.RelayTo, rc).
			WithRecords(recs...).
			WithFix("rerun with --relay-test-rcpt set to a plain address in a real domain the server does not serve, e.g. --relay-test-rcpt you@your-other-provider.example")}
	case relayDenied(rc):
		return []Finding{SpecSMTPRelayClosed.New("%s refused to relay to <%s>: %s", t, r.RelayTo, rc).WithRecords(recs...)}
	case rc.Class() == 5 && !strings.HasPrefix(rc.Enhanced(), "5.1.") && !strings.Contains(replyWords(rc), "domain"):
		return []Finding{SpecSMTPRelayClosed.New("%s refused the relay recipient <%s>: %s", t, r.RelayTo, rc).WithRecords(recs...)}
	}
	return []Finding{SpecSMTPRelayUnclear.New("%s refused <%s> with %s, which does not say whether it would relay (a recipient-domain check or greylisting); no verdict", t, r.RelayTo, rc).
		WithRecords(recs...).
		WithFix("rerun with --relay-test-rcpt set to an address in a real domain the server does not serve, e.g. --relay-test-rcpt you@your-other-provider.example")}
}

// syntaxReply reports a reply that refuses the command, not the
// recipient: 500-504 and 555 (RFC 5321 §4.2.2), or enhanced status 5.5.x
// (RFC 3463 §3.6: protocol or syntax) and 5.1.3 (bad address syntax).
func syntaxReply(rc *smtpprobe.Reply) bool {
	switch rc.Code {
	case 500, 501, 502, 503, 504, 555:
		return true
	}
	e := rc.Enhanced()
	return strings.HasPrefix(e, "5.5.") || strings.HasPrefix(e, "4.5.") || e == "5.1.3"
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
