package checks

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/mailcheck/mailcheck/internal/dnssec"
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

// probe runs (once per audit) the session for t; the smtp and tls checks
// both call it and share the result. One bound for the whole audit (or
// run): the session's runner holds a slot, a check waiting for a session
// another check runs holds none.
func (e *Env) probe(ctx context.Context, t smtpTarget) *smtpprobe.Result {
	key := fmt.Sprintf("%s %s %d", t.address(), t.Host, t.Mode)
	v, _ := e.facts.sessions.LoadOrStore(key, &sessionEntry{})
	se := v.(*sessionEntry)
	se.once.Do(func() {
		sem := e.sessionBound()
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			cut := smtpprobe.CutError(ctx, time.Time{})
			se.res = &smtpprobe.Result{Host: t.Host, Address: t.address(), Mode: t.Mode.String(), Stage: smtpprobe.StageConnect,
				Err: fmt.Errorf("%w of %s before it started", cut, t.address()), Transcript: []string{}}
			return
		}
		defer func() { <-sem }()
		cfg := smtpprobe.Config{
			Host: t.Host, Address: t.address(), Mode: t.Mode, Dialer: e.Dialer, RootCAs: e.RootCAs,
			Now: e.Now, Timeout: e.probeTimeout(), Trace: e.Trace,
		}
		if t.Mode == smtpprobe.Relay {
			cfg.RelayRcpt = e.relayRcpt()
		}
		se.res = smtpprobe.Probe(ctx, cfg)
	})
	return se.res
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
