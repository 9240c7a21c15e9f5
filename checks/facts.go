package checks

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/mailcheck/mailcheck/internal/dnsbl"
	"github.com/mailcheck/mailcheck/internal/dnssec"
	"github.com/mailcheck/mailcheck/internal/orgdomain"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/smtpprobe"
)

// The audit-wide facts several checks start from, each computed once per
// audit (Env) and shared: the MX set (mx, ptr, spf, dkim, dmarc, dnsbl,
// smtp, tls), the service hosts to connect to with their source (smtp,
// tls), and the sessions opened to them (smtp, tls). A fact that a new
// family needs (a TLSA set, an MTA-STS policy) joins here as one more
// field and one accessor; the address policy every check applies to an
// MX or service address is Env.addrPolicy.
type auditFacts struct {
	mxOnce sync.Once
	mx     *MXSet

	planOnce sync.Once
	plan     *smtpPlan

	boundOnce sync.Once
	bound     SessionBound // this audit's own, when Env.Sessions is nil
	sessions  sync.Map     // session key -> *sessionEntry

	// The MTA-STS record and fetched policy (mtasts.go).
	mtastsOnce sync.Once
	mtasts     *mtastsFact

	// DANE (tlsa.go): the TLSA set of each MX host, and the DNSSEC
	// validator their states come from.
	tlsaSets      sync.Map // canonical host -> *tlsaEntry
	validatorOnce sync.Once
	validator     *dnssec.Validator

	mailbox mailboxFacts // the imap and pop3 checks' host plans (below)
}

// MX returns the domain's MX set, looking it up on first use.
func (e *Env) MX(ctx context.Context) *MXSet {
	e.facts.mxOnce.Do(func() { e.facts.mx = lookupMXSet(ctx, e.Resolver, e.Domain.FQDN()) })
	return e.facts.mx
}

// servicePlan returns the servers the smtp and tls checks connect to, and
// the findings made while finding them out (planSMTP), computed once. The
// plan and its findings are shared: callers copy before they append.
func (e *Env) servicePlan(ctx context.Context) *smtpPlan {
	e.facts.planOnce.Do(func() { e.facts.plan = planSMTP(ctx, e) })
	return e.facts.plan
}

// mtastsPolicy returns the domain's MTA-STS record and the policy
// fetched for it, looked up and fetched once per audit: the mtasts
// check, the TLS policy of port-25 sessions (Env.tlsPolicy) and the
// delivery verdict share one fetch. Offline, nothing is looked up.
func (e *Env) mtastsPolicy(ctx context.Context) *mtastsFact {
	e.facts.mtastsOnce.Do(func() { e.facts.mtasts = loadMTASTS(ctx, e) })
	return e.facts.mtasts
}

// tlsa returns the TLSA set of an MX host with its DNSSEC states
// (lookupTLSA), looked up once per host per audit.
func (e *Env) tlsa(ctx context.Context, host string) *TLSASet {
	v, _ := e.facts.tlsaSets.LoadOrStore(resolve.Canonical(host), &tlsaEntry{})
	te := v.(*tlsaEntry)
	te.once.Do(func() { te.set = lookupTLSA(ctx, e, host) })
	return te.set
}

// dnssecValidator returns the audit's validator, nil when the resolver
// cannot ask DNSSEC questions; it keeps each zone's key verdict.
func (e *Env) dnssecValidator() *dnssec.Validator {
	e.facts.validatorOnce.Do(func() {
		if dr, ok := e.Resolver.(resolve.DNSSECResolver); ok {
			e.facts.validator = &dnssec.Validator{Resolver: dr, Anchors: e.Options.DNSSEC.Anchors, Now: e.Now}
		}
	})
	return e.facts.validator
}

// addrPolicy is the one rule for MX and service addresses that other
// servers cannot reach (RFC 6890 special-purpose ranges, see unroutable):
// kind names the range ("" for a public address), and skip says whether
// the address is left out (not flagged as reachable, not probed, not
// looked up), which is always so unless --allow-private.
func (e *Env) addrPolicy(a netip.Addr) (kind string, skip bool) {
	kind = unroutable(a)
	return kind, kind != "" && !e.Options.AllowPrivate
}

// probeTimeout is the per-session timeout: --probe-timeout, or
// smtpprobe.DefaultTimeout.
func (e *Env) probeTimeout() time.Duration {
	if e.Options.ProbeTimeout > 0 {
		return e.Options.ProbeTimeout
	}
	return smtpprobe.DefaultTimeout
}

// sessionBound is the run's bound (Env.Sessions) or this audit's own.
func (e *Env) sessionBound() SessionBound {
	if e.Sessions != nil {
		return e.Sessions
	}
	e.facts.boundOnce.Do(func() { e.facts.bound = NewSessionBound(0) })
	return e.facts.bound
}

// sessionEntry memoizes one session per target per audit.
type sessionEntry struct {
	once sync.Once
	res  *smtpprobe.Result
}

// probe runs (once per audit, or once per run with Env.SharedSessions)
// the session for t; the smtp and tls checks both call it and share the
// result. One bound for the whole audit (or run): the session's runner
// holds a slot, a check waiting for a session another check runs holds
// none.
func (e *Env) probe(ctx context.Context, t smtpTarget) *smtpprobe.Result {
	relay := t.Mode == smtpprobe.Relay && e.relayTested(t)
	key := fmt.Sprintf("%s %s %d %t", t.address(), t.Host, t.Mode, relay)
	entries := &e.facts.sessions
	if e.SharedSessions != nil {
		entries = &e.SharedSessions.entries
	}
	v, _ := entries.LoadOrStore(key, &sessionEntry{})
	se := v.(*sessionEntry)
	se.once.Do(func() { se.res = e.runSession(ctx, t, relay) })
	return se.res
}

// relayTested reports whether t's session runs the open-relay test: in a
// run that shares sessions, only on the domain's own MX hosts (under its
// registered domain), not on a provider's MX host that many domains share.
func (e *Env) relayTested(t smtpTarget) bool {
	return e.SharedSessions == nil || orgdomain.Same(t.Host, e.Domain.ASCII)
}

// runSession opens the session for t within the bounds of the audit or
// run and, in a run that shares sessions, of t's address.
func (e *Env) runSession(ctx context.Context, t smtpTarget, relay bool) *smtpprobe.Result {
	release, err := e.sessionSlot(ctx, t.address())
	if err != nil {
		cut := smtpprobe.CutError(ctx, time.Time{})
		return &smtpprobe.Result{Host: t.Host, Address: t.address(), Mode: t.Mode.String(), Stage: smtpprobe.StageConnect,
			Err: fmt.Errorf("%w of %s before it started", cut, t.address()), Transcript: []string{}}
	}
	defer release()
	cfg := smtpprobe.Config{
		Host: t.Host, Address: t.address(), Mode: t.Mode, Dialer: e.Dialer, RootCAs: e.RootCAs,
		Now: e.Now, Timeout: e.probeTimeout(), Trace: e.Trace,
	}
	if relay {
		cfg.RelayRcpt = e.relayRcpt()
	}
	return smtpprobe.Probe(ctx, cfg)
}

// sessionSlot waits for a slot of the session bound and, with shared
// sessions, of the destination address's bound; release frees both.
func (e *Env) sessionSlot(ctx context.Context, addr string) (release func(), err error) {
	bounds := []SessionBound{e.sessionBound()}
	if e.SharedSessions != nil {
		bounds = append(bounds, e.SharedSessions.addrBound(addr))
	}
	held := 0
	release = func() {
		for _, b := range bounds[:held] {
			<-b
		}
	}
	for _, b := range bounds {
		select {
		case b <- struct{}{}:
			held++
		case <-ctx.Done():
			release()
			return nil, ctx.Err()
		}
	}
	return release, nil
}

// SessionCache shares the SMTP sessions of a run among its audits
// (Env.SharedSessions): a session to an address, port, mode and host
// name is opened once however many domains name it (the MX hosts of a
// mail provider), and each domain judges the same result. At most
// PerAddress sessions to one destination address are open at once.
type SessionCache struct {
	// PerAddress bounds the sessions open at once to one address
	// (host:port); default 1.
	PerAddress int

	entries sync.Map // session key -> *sessionEntry
	mu      sync.Mutex
	addrs   map[string]SessionBound
}

// NewSessionCache returns an empty run-wide session cache.
func NewSessionCache() *SessionCache { return &SessionCache{addrs: map[string]SessionBound{}} }

// addrBound returns the bound of sessions to addr.
func (c *SessionCache) addrBound(addr string) SessionBound {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.addrs[addr]
	if !ok {
		b = make(SessionBound, max(c.PerAddress, 1))
		c.addrs[addr] = b
	}
	return b
}

// ShareRun wraps an environment factory so that every audit it makes
// shares one SessionCache and one blocklist memo: what the CLI does for a
// run of several domains.
func ShareRun(newEnv func(resolve.Name) *Env) func(resolve.Name) *Env {
	sessions, lists := NewSessionCache(), dnsbl.NewMemo()
	return func(n resolve.Name) *Env {
		env := newEnv(n)
		env.SharedSessions, env.SharedLists = sessions, lists
		return env
	}
}

// probeAll runs the sessions of targets, within the session bound of the
// audit or the run (Env.probe).
func probeAll(ctx context.Context, env *Env, targets []smtpTarget) []*smtpprobe.Result {
	out := make([]*smtpprobe.Result, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() { out[i] = env.probe(ctx, t) })
	}
	wg.Wait()
	return out
}

// The imap and pop3 checks' fact: where mail clients read mail from. The
// autoconfig document is fetched once for both; each protocol's host
// plan (planMailbox) is made once. The plans and their findings are
// shared: callers copy before they append.
type mailboxFacts struct {
	acOnce   sync.Once
	ac       *autoconfig
	planOnce [2]sync.Once // by mailboxprobe.Protocol
	plans    [2]*mailboxPlan
}

// mailboxAutoconfig returns the autoconfig document, fetched on first use.
func (e *Env) mailboxAutoconfig(ctx context.Context) *autoconfig {
	e.facts.mailbox.acOnce.Do(func() { e.facts.mailbox.ac = fetchAutoconfig(ctx, e) })
	return e.facts.mailbox.ac
}

// mailboxPlan returns the host plan of svc, made on first use.
func (e *Env) mailboxPlan(ctx context.Context, svc *mailboxService) *mailboxPlan {
	m := &e.facts.mailbox
	m.planOnce[svc.proto].Do(func() {
		m.plans[svc.proto] = planMailbox(ctx, e, svc, svc.hosts(e), e.mailboxAutoconfig(ctx))
	})
	return m.plans[svc.proto]
}
