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

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/mailboxprobe"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/sanitize"
)

// The imap and pop3 checks share this file: where the servers mail
// clients read mail from are found (--imap-host/--pop3-host, the RFC 6186
// SRV records, the autoconfig document), the sessions to them, and their
// judgement. Each check declares its own finding IDs (mailboxSpecs).

// mailboxSpecs are one check's finding specs, in the same roles.
type mailboxSpecs struct {
	OK, StartTLS, NoStartTLS, CleartextAuth, Implicit, StartTLSOnly, NoCapability Spec
	NotOffered, None, Unreachable, Session, Skipped, Temperror, PortUnusual       Spec
	Autoconfig, AutoconfigPlain, CutShort                                         Spec
}

// mailboxService is one protocol as the plan and the judgement see it.
type mailboxService struct {
	proto   mailboxprobe.Protocol
	name    string // "IMAP", "POP3"
	flag    string // "--imap-host"
	srv     [2]string
	specs   *mailboxSpecs
	tls     map[string]Spec // the shared TLS judge's IDs -> the check's own (mailboxTLSSpecs)
	dane    *mailboxDANE    // the check's DANE findings (mailboxDANESpecs)
	fixHint string          // how to disable passwords before TLS
	hosts   func(*Env) []string
}

// mailboxTarget is one address and port to probe.
type mailboxTarget struct {
	Host     string
	Addr     netip.Addr
	Port     uint16
	Implicit bool
	Source   string // "--imap-host", "SRV _imaps._tcp", "autoconfig", joined with ", " when several name it
	SRV      string // the SRV RRset that names the host ("_imaps._tcp.example.org."), "" when none does
}

func (t mailboxTarget) address() string { return netip.AddrPortFrom(t.Addr, t.Port).String() }

func (t mailboxTarget) String() string {
	if t.Host == t.Addr.String() {
		return t.address()
	}
	return fmt.Sprintf("%s[%s]:%d", t.Host, t.Addr, t.Port)
}

// mailboxHost is a host named for the service, and its ports.
type mailboxHost struct {
	host   string
	ports  []uint16
	source string
	user   bool   // named by the user: probed even on a private address
	srv    string // the SRV RRset that names it, "" for a flag or autoconfig
}

// mailboxPlan is what one check probes and the findings made while
// finding it out.
type mailboxPlan struct {
	Targets  []mailboxTarget
	Findings []Finding
	Declined []string // SRV records with target "."
	Failed   bool     // a lookup failed: absence is unknown
	Sources  []string // what was consulted, for the none finding
}

// planMailbox lists the targets of svc from the user's hosts, the SRV
// records and the autoconfig document ac.
func planMailbox(ctx context.Context, env *Env, svc *mailboxService, hosts []string, ac *autoconfig) *mailboxPlan {
	p := &mailboxPlan{Targets: []mailboxTarget{}}
	list := p.userHosts(svc, hosts)
	list = append(list, p.srvHosts(ctx, env, svc)...)
	list = append(list, p.autoconfigHosts(svc, ac)...)
	p.resolve(ctx, env, svc, list)
	return p
}

// userHosts parses --imap-host/--pop3-host: a host without a port is
// probed on both standard ports.
func (p *mailboxPlan) userHosts(svc *mailboxService, hosts []string) []mailboxHost {
	plain, implicit := svc.proto.Ports()
	var out []mailboxHost
	for _, s := range hosts {
		host, port := s, ""
		if h, pt, err := net.SplitHostPort(s); err == nil {
			host, port = h, pt
		}
		ports := []uint16{plain, implicit}
		if port != "" {
			n, err := strconv.ParseUint(port, 10, 16)
			if err != nil || n == 0 {
				p.Findings = append(p.Findings, svc.specs.Temperror.New("%s %q: bad port %q", svc.flag, sanitize.Line(s, 255), sanitize.Line(port, 20)))
				continue
			}
			ports = []uint16{uint16(n)}
		}
		out = append(out, mailboxHost{strings.Trim(host, "[]"), ports, svc.flag, true, ""})
	}
	return out
}

// srvHosts looks up the RFC 6186 SRV records of svc. A target of "."
// declares the service not offered; a port other than the standard one
// is reported, not probed.
func (p *mailboxPlan) srvHosts(ctx context.Context, env *Env, svc *mailboxService) []mailboxHost {
	plain, implicit := svc.proto.Ports()
	var out []mailboxHost
	for i, label := range svc.srv {
		std := []uint16{plain, implicit}[i]
		name := label + "." + env.Domain.FQDN()
		ans, err := env.Resolver.Query(ctx, name, dns.TypeSRV)
		if err != nil {
			p.Failed = true
			p.Findings = append(p.Findings, svc.specs.Temperror.New("the SRV lookup of %s failed, so whether %s publishes %s settings is unknown: %s", strings.TrimSuffix(name, "."), env.Domain.ASCII, svc.name, resolve.Describe(nil, err)))
			continue
		}
		for _, rr := range ans.Of(dns.TypeSRV) {
			srv := rr.(*dns.SRV)
			rec := sanitize.Line(rr.String(), MaxRecordBytes)
			target := sanitize.Line(strings.TrimSuffix(dns.CanonicalName(srv.Target), "."), 255)
			switch {
			case srv.Target == ".":
				p.Declined = append(p.Declined, rec)
			case srv.Port != std:
				p.Findings = append(p.Findings, svc.specs.PortUnusual.New("%s names port %d of %s; mailcheck probes only port %d from this record, so that server was not contacted (use %s %s)", strings.TrimSuffix(name, "."), srv.Port, target, std, svc.flag, net.JoinHostPort(target, strconv.Itoa(int(srv.Port)))).WithRecords(rec))
			default:
				out = append(out, mailboxHost{target, []uint16{srv.Port}, "SRV " + label, false, name})
			}
		}
	}
	p.Sources = append(p.Sources, "no "+svc.srv[0]+" or "+svc.srv[1]+" SRV record")
	return out
}

// autoconfigHosts takes the incoming servers of svc's type from ac.
func (p *mailboxPlan) autoconfigHosts(svc *mailboxService, ac *autoconfig) []mailboxHost {
	switch {
	case ac.Failed != "":
		p.Failed = true
		p.Findings = append(p.Findings, svc.specs.Temperror.New("the client autoconfiguration document could not be fetched, so the %s servers it may name are unknown: %s", svc.name, ac.Failed))
		return nil
	case ac.Problem != "":
		p.Findings = append(p.Findings, svc.specs.Autoconfig.New("%s", ac.Problem))
		return nil
	case ac.Absent != "":
		p.Sources = append(p.Sources, "no autoconfig document ("+ac.Absent+")")
	}
	plain, implicit := svc.proto.Ports()
	var out []mailboxHost
	for _, s := range ac.Servers {
		if s.Type != svc.proto.String() {
			continue
		}
		if s.SocketType == "PLAIN" {
			p.Findings = append(p.Findings, svc.specs.AutoconfigPlain.New("the autoconfig document tells mail clients to connect to %s without TLS (socketType plain): they send the password in clear text", net.JoinHostPort(sanitize.Line(s.Hostname, 255), strconv.Itoa(s.Port))).
				WithRecords(s.record()).WithFix("set <socketType>SSL</socketType> with port %d (or STARTTLS with port %d) in %s", implicit, plain, ac.URL))
		}
		port := uint16(s.Port)
		if s.Port == 0 {
			port = map[bool]uint16{true: implicit, false: plain}[s.SocketType == "SSL"]
		}
		if port != plain && port != implicit {
			p.Findings = append(p.Findings, svc.specs.PortUnusual.New("the autoconfig document names port %d of %s; mailcheck probes only ports %d and %d from it (use %s %s)", s.Port, sanitize.Line(s.Hostname, 255), plain, implicit, svc.flag, net.JoinHostPort(sanitize.Line(s.Hostname, 255), strconv.Itoa(s.Port))).WithRecords(s.record()))
			continue
		}
		out = append(out, mailboxHost{s.Hostname, []uint16{port}, "autoconfig", false, ""})
	}
	if ac.Absent == "" && len(out) == 0 {
		p.Sources = append(p.Sources, "no "+svc.name+" server in "+ac.URL)
	}
	return out
}

// resolve turns the hosts into targets, one per address and port; a
// target several sources name is probed once, with every source.
func (p *mailboxPlan) resolve(ctx context.Context, env *Env, svc *mailboxService, hosts []mailboxHost) {
	_, implicit := svc.proto.Ports()
	seen := map[string]int{}
	for _, h := range hosts {
		addrs := p.hostAddrs(ctx, env, svc, &h)
		for _, a := range addrs {
			for _, port := range h.ports {
				t := mailboxTarget{Host: h.host, Addr: a.Unmap(), Port: port, Implicit: port == implicit, Source: h.source, SRV: h.srv}
				k := t.address() + " " + t.Host
				if i, dup := seen[k]; dup {
					if !strings.Contains(p.Targets[i].Source, h.source) {
						p.Targets[i].Source += ", " + h.source
					}
					if p.Targets[i].SRV == "" {
						p.Targets[i].SRV = h.srv
					}
					continue
				}
				if why, skip := env.addrPolicy(t.Addr); skip && !h.user {
					p.Findings = append(p.Findings, svc.specs.Skipped.New("%s (%s) is a %s address: not probed (use --allow-private)", t, h.source, why))
					continue
				}
				seen[k] = len(p.Targets)
				p.Targets = append(p.Targets, t)
			}
		}
	}
}

// hostAddrs returns the addresses of a host (an address given as such,
// or the A and AAAA records of a name), or none with a finding.
func (p *mailboxPlan) hostAddrs(ctx context.Context, env *Env, svc *mailboxService, h *mailboxHost) []netip.Addr {
	if ip, err := netip.ParseAddr(h.host); err == nil {
		return []netip.Addr{ip}
	}
	n, err := resolve.ParseName(h.host)
	if err != nil {
		p.Findings = append(p.Findings, svc.specs.Temperror.New("%s host %q (%s) is not a valid host name: %v", svc.name, sanitize.Line(h.host, 255), h.source, err))
		return nil
	}
	h.host = n.ASCII
	r := resolve.Addrs(ctx, env.Resolver, n.FQDN())
	switch {
	case len(r.Addrs) > 0:
		return r.Addrs
	case r.Err != nil:
		p.Failed = true
		p.Findings = append(p.Findings, svc.specs.Temperror.New("the addresses of %s host %s (%s) could not be looked up: %s", svc.name, h.host, h.source, resolve.Describe(nil, r.Err)))
	default:
		p.Findings = append(p.Findings, svc.specs.Unreachable.New("%s host %s (%s) has no A or AAAA record: %s", svc.name, h.host, h.source, resolve.Describe(r.A, nil)))
	}
	return nil
}

// probeMailboxes runs the sessions of targets, each holding a slot of
// the audit's or the run's session bound (the one SMTP sessions take).
func probeMailboxes(ctx context.Context, env *Env, svc *mailboxService, targets []mailboxTarget) []*mailboxprobe.Result {
	out := make([]*mailboxprobe.Result, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() { out[i] = probeMailbox(ctx, env, svc, t) })
	}
	wg.Wait()
	return out
}

// probeMailbox runs one session within the session bound.
func probeMailbox(ctx context.Context, env *Env, svc *mailboxService, t mailboxTarget) *mailboxprobe.Result {
	sem := env.sessionBound()
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		cut := mailboxprobe.CutError(ctx, time.Time{})
		return &mailboxprobe.Result{Protocol: svc.proto.String(), Host: t.Host, Address: t.address(), Implicit: t.Implicit,
			Stage: mailboxprobe.StageConnect, Err: fmt.Errorf("%w of %s before it started", cut, t.address()), Transcript: []string{}}
	}
	defer func() { <-sem }()
	return mailboxprobe.Probe(ctx, mailboxprobe.Config{Protocol: svc.proto, Implicit: t.Implicit, Host: t.Host, Address: t.address(),
		Dialer: env.Dialer, RootCAs: env.RootCAs, Now: env.Now, Timeout: env.probeTimeout(), Trace: env.Trace})
}

// mailboxItem is the checks' structured result per session.
type mailboxItem struct {
	Target string `json:"target"`
	Source string `json:"source"`
	*mailboxprobe.Result
	Error string `json:"error,omitempty"`
}

// runMailbox is the Run of the imap and pop3 checks.
func runMailbox(ctx context.Context, env *Env, svc *mailboxService) Result {
	if env.Options.Offline {
		return Result{Findings: []Finding{svc.specs.Unreachable.New("--offline: no %s server was looked for or contacted; run without --offline to probe them", svc.name)}}
	}
	p := env.mailboxPlan(ctx, svc)
	fs := append([]Finding{}, p.Findings...)
	fs = append(fs, p.noTargets(env, svc)...)
	results := probeMailboxes(ctx, env, svc, p.Targets)
	var items []mailboxItem
	st := &mailboxDANEState{srv: map[string]bool{}, tlsa: map[string]*TLSASet{}}
	for i, t := range p.Targets {
		r := results[i]
		items = append(items, mailboxItem{Target: t.String(), Source: t.Source, Result: r, Error: r.ErrorText()})
		fs = append(fs, judgeMailbox(svc, t, r)...)
		fs = append(fs, judgeMailboxTLS(svc, t, r)...)
		fs = append(fs, judgeMailboxDANE(ctx, env, st, svc, t, r)...)
	}
	fs = append(fs, starttlsOnly(env, svc, p.Targets, results)...)
	return Result{Findings: fs, Data: items}
}

// noTargets says what the plan found when the service is declined or
// no host is named.
func (p *mailboxPlan) noTargets(env *Env, svc *mailboxService) []Finding {
	var fs []Finding
	if len(p.Declined) > 0 {
		fs = append(fs, svc.specs.NotOffered.New("%s declares that it offers no %s service here (SRV target \".\"): not probed", env.Domain.ASCII, svc.name).WithRecords(p.Declined...))
	}
	if len(p.Targets) > 0 || len(p.Declined) > 0 || p.Failed || len(p.Findings) > 0 {
		return fs
	}
	return append(fs, svc.specs.None.New("no %s server to probe for %s: %s, and no %s was given", svc.name, env.Domain.ASCII, strings.Join(p.Sources, ", "), svc.flag).
		WithFix("if %s offers %s, publish the mail client settings (RFC 6186) naming the host that serves it, e.g. %s.%s. IN SRV 0 1 %d HOST. (HOST being that server's name); or probe a host with %s", env.Domain.ASCII, svc.name, svc.srv[1], env.Domain.ASCII, implicitPort(svc), svc.flag))
}

func implicitPort(svc *mailboxService) uint16 {
	_, implicit := svc.proto.Ports()
	return implicit
}

// judgeMailbox turns one session into the service's findings (its TLS
// is judgeMailboxTLS's).
func judgeMailbox(svc *mailboxService, t mailboxTarget, r *mailboxprobe.Result) []Finding {
	sp := svc.specs
	if f, done := mailboxFailure(svc, t, r); done {
		return f
	}
	fs := []Finding{sp.OK.New("%s (%s) greeted %q; capabilities: %s", t, t.Source, r.Greeting, capsText(r)).WithRecords(r.Transcript...)}
	fs = append(fs, capabilityFindings(svc, t, r)...)
	if f, ok := lateMailboxFailure(svc, t, r); ok {
		fs = append(fs, f)
	}
	return fs
}

// capsText renders the capabilities of a session.
func capsText(r *mailboxprobe.Result) string {
	switch {
	case r.CapaRefused:
		return "none listed (CAPA refused)"
	case len(r.Capabilities) == 0:
		return "none listed"
	}
	return strings.Join(r.Capabilities, " ")
}

// mailboxFailure reports a session that stopped before its capabilities
// were known, or returns false when there is something to judge.
func mailboxFailure(svc *mailboxService, t mailboxTarget, r *mailboxprobe.Result) ([]Finding, bool) {
	sp := svc.specs
	early := !r.Connected || r.Stage == mailboxprobe.StageGreeting || r.Stage == mailboxprobe.StageCapability || r.Stage == mailboxprobe.StageTLS && t.Implicit
	switch {
	case !early:
		return nil, false
	case mailboxprobe.CutShort(r.Err):
		return []Finding{sp.CutShort.New("%s (%s): %v; what the server does from there on is unknown", t, t.Source, r.Err).WithRecords(r.Transcript...)}, true
	case !r.Connected:
		return []Finding{sp.Unreachable.New("%s (%s): no connection: %v", t, t.Source, r.Err).WithRecords(r.Transcript...)}, true
	case r.Stage == mailboxprobe.StageTLS:
		return nil, true // the TLS judge reports the handshake
	}
	return []Finding{sp.Session.New("%s (%s): the session broke off at the %s: %v; nothing could be checked", t, t.Source, r.Stage, r.Err).WithRecords(r.Transcript...)}, true
}

// lateMailboxFailure reports a session that broke off after the
// capabilities, where no TLS finding covers it.
func lateMailboxFailure(svc *mailboxService, t mailboxTarget, r *mailboxprobe.Result) (Finding, bool) {
	switch {
	case r.Err == nil, r.Stage == mailboxprobe.StageTLS, r.TLSError != "":
		return Finding{}, false
	case mailboxprobe.CutShort(r.Err):
		return svc.specs.CutShort.New("%s (%s): %v; what the server does from there on is unknown", t, t.Source, r.Err).WithRecords(r.Transcript...), true
	}
	return svc.specs.Session.New("%s (%s): the session broke off at the %s: %v; what the server does from there on is unknown", t, t.Source, r.Stage, r.Err).WithRecords(r.Transcript...), true
}

// capabilityFindings judges the capabilities: the protocol revision,
// STARTTLS on the clear-text port, passwords before TLS, implicit TLS.
func capabilityFindings(svc *mailboxService, t mailboxTarget, r *mailboxprobe.Result) []Finding {
	sp := svc.specs
	var fs []Finding
	caps := r.Capabilities
	if r.CapabilitiesTLS != nil {
		caps = r.CapabilitiesTLS
	}
	switch {
	case svc.proto == mailboxprobe.IMAP && mailboxprobe.IMAPRevision(caps) == "":
		fs = append(fs, sp.NoCapability.New("%s lists neither IMAP4rev1 nor IMAP4rev2 in its CAPABILITY response: clients cannot tell which IMAP it speaks", t).WithRecords(capsText(r)))
	case svc.proto == mailboxprobe.POP3 && r.CapaRefused:
		fs = append(fs, sp.NoCapability.New("%s refused CAPA (RFC 2449): whether it offers STLS and which logins it accepts before TLS is unknown", t).WithRecords(r.Transcript...))
	}
	if t.Implicit {
		return append(fs, sp.Implicit.New("%s speaks implicit TLS (%s) and answered in it", t, r.TLS.Version).WithRecords(capsText(r)))
	}
	if auth := r.CleartextAuth(); auth != nil {
		fs = append(fs, sp.CleartextAuth.New("%s offers %s before TLS: a client can send its password in clear text", t, strings.Join(auth, ", ")).
			WithRecords(capsText(r)).WithFix("%s", svc.fixHint))
	}
	switch {
	case r.CapaRefused:
	case !r.StartTLSOffered:
		fs = append(fs, sp.NoStartTLS.New("%s does not offer %s: clients reading mail on port %d do so in clear text", t, startTLSName(svc), t.Port).
			WithRecords(capsText(r)).WithFix("enable TLS with a certificate for %s (Dovecot: ssl = required, ssl_cert and ssl_key), and offer implicit TLS on port %d (RFC 8314)", t.Host, implicitPort(svc)))
	case r.CleartextAuth() == nil:
		fs = append(fs, sp.StartTLS.New("%s offers %s and no password login before it", t, startTLSName(svc)).WithRecords(capsText(r)))
	}
	return fs
}

func startTLSName(svc *mailboxService) string {
	if svc.proto == mailboxprobe.POP3 {
		return "STLS"
	}
	return "STARTTLS"
}

// judgeMailboxTLS judges the TLS of a session with the shared judge,
// strictly: a mail client must verify (PolicyRequired).
func judgeMailboxTLS(svc *mailboxService, t mailboxTarget, r *mailboxprobe.Result) []Finding {
	if r.TLS == nil && r.TLSError == "" {
		return nil
	}
	s := tlsSession{Label: t.String(), Host: t.Host, Address: t.address(), StartTLS: svc.proto.String(), Policy: PolicyRequired,
		Info: r.TLS, TLSError: r.TLSError, Cut: mailboxprobe.CutShort(r.Err), Err: r.Err, Transcript: r.Transcript}
	if t.Implicit {
		s.StartTLS = ""
	}
	// A handshake that timed out, or on an implicit-TLS port a
	// connection closed before any TLS answer, says nothing about the
	// server's TLS.
	s.Inconclusive = errors.Is(r.Err, mailboxprobe.ErrTimeout) || t.Implicit && errors.Is(r.Err, mailboxprobe.ErrClosed)
	fs := []Finding{}
	if s.Info != nil {
		fs = judgeTLS(s)
	} else {
		fs = append(fs, handshakeFailure(s))
	}
	for i := range fs {
		fs[i].ID = svc.tls[fs[i].ID].ID
	}
	return fs
}

// mailboxTLSSpecs declares in cat the check's own copy of each finding
// the shared TLS judge (judgeTLS, handshakeFailure) makes, "imap.tls-ok"
// for "tls.ok", at the strict policy's severity: a certificate a mail
// client cannot verify is a fail.
func mailboxTLSSpecs(cat *findings.Catalog, prefix, who string) map[string]Spec {
	out := map[string]Spec{}
	for _, s := range []Spec{SpecTLSOK, SpecTLSVersionOld, SpecTLSCipherWeak, SpecTLSCertUntrusted, SpecTLSCertName,
		SpecTLSCertExpired, SpecTLSCertExpiring, SpecTLSKeyWeak, SpecTLSHandshakeFailed, SpecTLSNotEvaluated} {
		c := s
		c.ID = prefix + ".tls-" + strings.TrimPrefix(s.ID, "tls.")
		switch s.ID {
		case SpecTLSCertUntrusted.ID:
			c.Severity, c.Summary = Fail, "the certificate chain does not verify against the trusted roots: "+who+" refuse it"
		case SpecTLSCertName.ID:
			c.Severity, c.Summary = Fail, "the certificate is not valid for the host name "+who+" are configured with"
		case SpecTLSHandshakeFailed.ID:
			c.RFC, c.Summary = "RFC 8314 §3", "STARTTLS was offered (or the implicit-TLS port reached) but no TLS session could be set up"
		}
		out[s.ID] = cat.Add(c)
	}
	return out
}

// starttlsOnly notes each host reached with STARTTLS that offers no
// working implicit TLS (RFC 8314 §3.3 prefers implicit TLS).
func starttlsOnly(env *Env, svc *mailboxService, targets []mailboxTarget, results []*mailboxprobe.Result) []Finding {
	implicitOK := map[string]bool{}
	for i, t := range targets {
		if t.Implicit && results[i].TLS != nil {
			implicitOK[t.Host] = true
		}
	}
	var fs []Finding
	noted := map[string]bool{}
	for i, t := range targets {
		if t.Implicit || results[i].TLS == nil || implicitOK[t.Host] || noted[t.Host] {
			continue
		}
		noted[t.Host] = true
		_, port := svc.proto.Ports()
		fs = append(fs, svc.specs.StartTLSOnly.New("%s offers %s only with %s on port %d: RFC 8314 prefers implicit TLS on port %d, which no client can be downgraded from", t.Host, svc.name, startTLSName(svc), t.Port, port).
			WithFix("offer %s with implicit TLS on port %d (Dovecot: %s service listener with ssl = yes) and publish it: %s.%s. IN SRV 0 1 %d %s.", svc.name, port, svc.proto, svc.srv[1], env.Domain.ASCII, port, t.Host))
	}
	return fs
}
