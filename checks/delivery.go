package checks

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/mtasts"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// deliveryCatalog declares the finding IDs of the delivery check, each once (findings.Catalog).
var deliveryCatalog findings.Catalog

// Finding IDs of the delivery check: one finding per MX host.
var (
	SpecDeliveryOK           = deliveryCatalog.Add(Spec{ID: "delivery.ok", Severity: Pass, RFC: "RFC 7672 §2.2, RFC 8461 §4", Summary: "DANE or MTA-STS applies to the MX host, and senders enforcing them deliver there"})
	SpecDeliveryBlocked      = deliveryCatalog.Add(Spec{ID: "delivery.blocked", Severity: Fail, RFC: "RFC 7672 §2.2, RFC 8461 §2, §4", Summary: "a sender enforcing DANE or MTA-STS will not deliver to the MX host (MTA-STS never overrides a failing DANE)"})
	SpecDeliveryUnprotected  = deliveryCatalog.Add(Spec{ID: "delivery.unprotected", Severity: Info, RFC: "RFC 7435", Summary: "neither DANE nor an enforced MTA-STS policy applies to the MX host: every sender delivers with opportunistic TLS"})
	SpecDeliveryNoHost       = deliveryCatalog.Add(Spec{ID: "delivery.no-host", Severity: Info, RFC: "RFC 7505", Summary: "the domain has no MX host to deliver to (null MX, or it does not exist)"})
	SpecDeliveryNotEvaluated = deliveryCatalog.Add(Spec{ID: "delivery.not-evaluated", Severity: Error, Summary: "the facts of an MX host (TLSA set, MTA-STS policy, sessions) could not be established: no verdict"})
)

// Delivery sums up, per MX host and in plain words, whether a sender
// that enforces DANE and one that enforces MTA-STS will deliver there.
// It asks nothing itself: it reads the facts the dane, mtasts, smtp and
// tls checks share (Env.tlsa, Env.mtastsPolicy, Env.servicePlan,
// Env.probe) and judges them as those checks do.
type Delivery struct{}

var _ Check = Delivery{}

// Meta implements Check. Weight 1: the verdict repeats what the dane and
// mtasts checks already score, so it gets the smallest share (the report
// counts a weight of 0 as 1 anyway); it still counts towards coverage.
func (Delivery) Meta() Meta {
	return Meta{Name: "delivery", Title: "Delivery verdict", Weight: 1, Findings: deliveryCatalog.Specs()}
}

// deliveryState is what an enforcing sender does at one MX host.
type deliveryState int

const (
	stateUnused   deliveryState = iota // the mechanism does not apply: the sender delivers as without it
	stateDelivers                      // the mechanism applies and the sender delivers
	stateBlocked                       // the sender will not deliver
	stateUnknown                       // the facts could not be established
)

var stateNames = [...]string{"not in use", "delivers", "will not deliver", "not evaluated"}

func (s deliveryState) String() string { return stateNames[s] }

// MarshalText writes the state's name in the JSON report.
func (s deliveryState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// deliveryPart is the verdict of one mechanism at one host, and why.
type deliveryPart struct {
	State deliveryState `json:"state"`
	Why   string        `json:"why"`
}

// deliveryHost is one MX host in the JSON report.
type deliveryHost struct {
	Host   string       `json:"host"`
	DANE   deliveryPart `json:"dane"`
	MTASTS deliveryPart `json:"mtasts"`
}

// Run implements Check.
func (Delivery) Run(ctx context.Context, env *Env) Result {
	d := env.Domain.ASCII
	if env.Options.Offline {
		return Result{Findings: []Finding{SpecDeliveryNotEvaluated.New("--offline: no TLSA record, MTA-STS policy or session to judge, so no delivery verdict for %s", d)}}
	}
	set := env.MX(ctx)
	switch {
	case set.Err != nil:
		return Result{Findings: []Finding{SpecDeliveryNotEvaluated.New("the MX set of %s could not be looked up: %s; no delivery verdict", d, resolve.Describe(nil, set.Err))}}
	case set.NXDomain:
		return Result{Findings: []Finding{SpecDeliveryNoHost.New("%s does not exist: no sender delivers mail to it", d)}}
	case len(set.Hosts) == 0:
		return Result{Findings: []Finding{SpecDeliveryNoHost.New("%s publishes a null MX: it accepts no mail, so there is no delivery to judge", d)}}
	}
	var fs []Finding
	data := []deliveryHost{}
	for _, h := range set.Hosts {
		dh := deliveryHost{Host: h.Name, DANE: daneDelivery(ctx, env, h)}
		dh.MTASTS = mtastsDelivery(ctx, env, h, dh.DANE)
		fs, data = append(fs, dh.finding()), append(data, dh)
	}
	return Result{Findings: fs, Data: data}
}

// finding states the host's verdict: a blocked part is a fail whatever
// the other (it is established), then an unknown part is an error, then
// a mechanism that delivers is a pass; otherwise neither applies.
func (dh deliveryHost) finding() Finding {
	msg := fmt.Sprintf("%s: %s; %s", dh.Host, dh.DANE.sentence("DANE"), dh.MTASTS.sentence("MTA-STS"))
	s := map[deliveryState]bool{dh.DANE.State: true, dh.MTASTS.State: true}
	switch {
	case s[stateBlocked]:
		return SpecDeliveryBlocked.New("%s", msg).
			WithFix("the fixes of the dane and mtasts findings for %s restore delivery (see also the smtp and tls checks)", dh.Host)
	case s[stateUnknown]:
		return SpecDeliveryNotEvaluated.New("%s", msg)
	case s[stateDelivers]:
		return SpecDeliveryOK.New("%s", msg)
	}
	return SpecDeliveryUnprotected.New("%s", msg)
}

// sentence is the plain-words verdict of one mechanism.
func (p deliveryPart) sentence(mech string) string {
	switch p.State {
	case stateDelivers:
		return fmt.Sprintf("a sender enforcing %s will deliver here, because %s", mech, p.Why)
	case stateBlocked:
		return fmt.Sprintf("a sender enforcing %s will not deliver here, because %s", mech, p.Why)
	case stateUnknown:
		return fmt.Sprintf("whether a sender enforcing %s will deliver here was not evaluated, because %s", mech, p.Why)
	}
	return fmt.Sprintf("a sender enforcing %s will deliver here as to any server, without %s's protection, because %s", mech, mech, p.Why)
}

// daneDelivery judges the host's TLSA set and, when it is usable, each
// address's session, exactly as the dane check does (tlsaSetFinding,
// daneServerFinding), in plain words.
func daneDelivery(ctx context.Context, env *Env, h MXHost) deliveryPart {
	if h.IPLiteral {
		return deliveryPart{stateUnused, "an address literal has no TLSA records"}
	}
	ts := env.tlsa(ctx, h.Name)
	if f, done := tlsaSetFinding(ts); done {
		return daneSetPart(f.ID, ts)
	}
	if len(h.Addrs) == 0 {
		return deliveryPart{stateUnknown, fmt.Sprintf("%s has no address to inspect (see the mx check)", h.Name)}
	}
	var parts []deliveryPart
	for _, a := range h.Addrs {
		f, _ := daneServerFinding(ctx, env, ts, a.Unmap())
		parts = append(parts, daneServerPart(f.ID, ts, a.Unmap()))
	}
	return worstPart(parts)
}

// daneSetPart says what a set that no session is judged against means.
func daneSetPart(id string, ts *TLSASet) deliveryPart {
	switch id {
	case SpecDANELookup.ID:
		return deliveryPart{stateBlocked, fmt.Sprintf("the TLSA lookup of %s fails or is bogus in a signed zone, so such a sender defers the mail", ts.Name)}
	case SpecDANENone.ID:
		return deliveryPart{stateUnused, fmt.Sprintf("there are no TLSA records at %s", ts.Name)}
	case SpecDANEInsecure.ID:
		return deliveryPart{stateUnused, fmt.Sprintf("the TLSA records at %s are not DNSSEC-secure, so senders ignore them", ts.Name)}
	}
	why := ts.NotEvaluated
	if why == "" {
		why = "the TLSA records could not be looked up"
	}
	return deliveryPart{stateUnknown, why}
}

// daneServerPart says what the dane check's verdict on one address means.
func daneServerPart(id string, ts *TLSASet, a netip.Addr) deliveryPart {
	switch id {
	case SpecDANEMatch.ID:
		return deliveryPart{stateDelivers, fmt.Sprintf("a TLSA record at %s matches the certificate %s presents", ts.Name, a)}
	case SpecDANENoUsable.ID:
		return deliveryPart{stateDelivers, fmt.Sprintf("%s offers TLS and no TLSA record at %s is usable: it encrypts but authenticates nothing", a, ts.Name)}
	case SpecDANEMismatch.ID:
		return deliveryPart{stateBlocked, fmt.Sprintf("no TLSA record at %s matches the certificate %s presents", ts.Name, a)}
	case SpecDANENoTLS.ID:
		return deliveryPart{stateBlocked, fmt.Sprintf("%s publishes TLSA records but %s offers no working STARTTLS", ts.Name, a)}
	}
	return deliveryPart{stateUnknown, fmt.Sprintf("the session with %s could not be inspected (see the smtp check)", a)}
}

// worstPart merges the verdicts of a host's addresses: blocked first,
// then unknown, then delivers; the reasons of that state, joined.
func worstPart(parts []deliveryPart) deliveryPart {
	worst := stateUnused
	for _, p := range parts {
		worst = max(worst, p.State)
	}
	var why []string
	for _, p := range parts {
		if p.State == worst && !slices.Contains(why, p.Why) {
			why = append(why, p.Why)
		}
	}
	return deliveryPart{worst, strings.Join(why, "; ")}
}

// mtastsDelivery judges the domain's MTA-STS policy for one host as the
// mtasts check does, then applies DANE's precedence: a sender that
// supports both never lets MTA-STS override a failing DANE (RFC 8461 §2).
func mtastsDelivery(ctx context.Context, env *Env, h MXHost, dane deliveryPart) deliveryPart {
	p := mtastsPolicyPart(env, env.mtastsPolicy(ctx))
	if p.State == stateDelivers {
		p = mtastsHostPart(ctx, env, env.mtastsPolicy(ctx).enforced(), h)
	}
	switch {
	case dane.State == stateBlocked && p.State == stateDelivers:
		return deliveryPart{stateBlocked, "DANE takes precedence over MTA-STS (RFC 8461 §2) and fails here; the MTA-STS policy alone would let it deliver (" + p.Why + ")"}
	case dane.State == stateDelivers && p.State == stateBlocked:
		p.Why += " (a sender that also implements DANE uses DANE here, RFC 8461 §2, and delivers)"
	}
	return p
}

// mtastsPolicyPart judges the record and the policy: stateDelivers means
// a valid policy in enforce mode, whose hosts are judged next.
func mtastsPolicyPart(env *Env, f *mtastsFact) deliveryPart {
	d := env.Domain.ASCII
	switch {
	case f.Lookup == nil:
		return deliveryPart{stateUnknown, "the MTA-STS record was not looked up"}
	case f.Err != nil:
		return deliveryPart{stateUnknown, "the MTA-STS record lookup failed: " + resolve.Describe(nil, f.Err)}
	case len(f.Lookup.Selected) == 0:
		return deliveryPart{stateUnused, d + " publishes no MTA-STS policy"}
	case len(f.Lookup.Selected) > 1 || !f.Lookup.Record.Valid():
		return deliveryPart{stateUnused, "the MTA-STS record of " + d + " is invalid, so senders ignore the policy"}
	case f.Fetch.Err != nil && (f.Fetch.Err.Kind == mtasts.FailTimeout || f.Fetch.Err.Kind == mtasts.FailNetwork):
		return deliveryPart{stateUnknown, "the MTA-STS policy could not be fetched: " + f.Fetch.Err.Message}
	case f.Fetch.Err != nil:
		return deliveryPart{stateUnused, "senders cannot fetch the MTA-STS policy (" + string(f.Fetch.Err.Kind) + "), so those without a cached copy deliver as without one"}
	case !f.Fetch.Policy.Valid():
		return deliveryPart{stateUnused, "the MTA-STS policy has syntax errors, so senders ignore it"}
	case f.Fetch.Policy.Mode != mtasts.ModeEnforce:
		return deliveryPart{stateUnused, "the MTA-STS policy is in mode " + f.Fetch.Policy.Mode + ", which senders do not enforce"}
	}
	return deliveryPart{State: stateDelivers}
}

// mtastsHostPart judges one host under an enforce policy: it must match
// a pattern, and each of its sessions must meet RFC 8461 §4.2
// (mtastsTLSVerdict).
func mtastsHostPart(ctx context.Context, env *Env, pol *mtasts.Policy, h MXHost) deliveryPart {
	pat := mtasts.Matching(pol.MX, h.Name)
	if pat == "" {
		return deliveryPart{stateBlocked, fmt.Sprintf("%s matches no mx pattern of the enforced policy (%s)", h.Name, strings.Join(pol.MX, ", "))}
	}
	if len(h.Addrs) == 0 {
		return deliveryPart{stateUnknown, fmt.Sprintf("%s has no address to inspect (see the mx check)", h.Name)}
	}
	plan := env.servicePlan(ctx)
	var parts []deliveryPart
	for _, a := range h.Addrs {
		t, ok := planTarget(plan, a.Unmap())
		if !ok {
			parts = append(parts, deliveryPart{stateUnknown, fmt.Sprintf("%s was not probed (see the smtp check)", a)})
			continue
		}
		s := env.smtpTLSSession(ctx, t, env.probe(ctx, t))
		switch verdict, evaluated := mtastsTLSVerdict(s); {
		case !evaluated:
			parts = append(parts, deliveryPart{stateUnknown, fmt.Sprintf("%s: %s", s.Label, verdict)})
		case verdict != "valid":
			parts = append(parts, deliveryPart{stateBlocked, fmt.Sprintf("the policy is enforced and %s: %s", s.Label, verdict)})
		default:
			parts = append(parts, deliveryPart{stateDelivers, fmt.Sprintf("the policy is enforced, %s matches %s and %s offers valid TLS", h.Name, pat, a)})
		}
	}
	return worstPart(parts)
}
