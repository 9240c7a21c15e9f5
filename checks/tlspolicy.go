package checks

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mailcheck/mailcheck/internal/mtasts"
	"github.com/mailcheck/mailcheck/internal/smtpprobe"
	"github.com/mailcheck/mailcheck/internal/tlsinspect"
)

// TLSPolicy is what a server's TLS is judged against. The facts supply
// it per session (Env.tlsPolicy): opportunistic STARTTLS on port 25 (RFC
// 3207, RFC 7435), TLS required on the submission ports (RFC 8314); an
// MTA-STS policy in enforce mode (RFC 8461 §4) or a usable TLSA RRset
// (RFC 7672) make port 25 as strict as submission, once their checks
// supply those facts.
type TLSPolicy int

// The policies, weakest first.
const (
	PolicyOpportunistic TLSPolicy = iota // a sender falls back to clear text
	PolicyRequired                       // a client must not continue without valid TLS
	PolicyMTASTSEnforce                  // senders enforcing MTA-STS do not deliver without valid WebPKI TLS
	PolicyDANE                           // senders enforcing DANE do not deliver unless a TLSA record matches
)

var policyNames = [...]string{"opportunistic", "required", "mta-sts-enforce", "dane"}

func (p TLSPolicy) String() string { return policyNames[p] }

// strict reports whether a certificate the policy's peers cannot verify
// stops delivery (fail) rather than weakening it (warn). DANE senders
// authenticate the server through its TLSA records, not its WebPKI chain,
// name or dates (RFC 7672 §3.1): the dane check judges that match.
func (p TLSPolicy) strict() bool { return p != PolicyOpportunistic && p != PolicyDANE }

// severity is the severity of a certificate problem under the policy.
func (p TLSPolicy) severity() Severity {
	if p.strict() {
		return Fail
	}
	return Warn
}

// untrustedConsequence says what an unverifiable certificate means for
// the policy's peers.
func (p TLSPolicy) untrustedConsequence() string {
	switch p {
	case PolicyRequired:
		return "mail clients will refuse it or train users to click through warnings"
	case PolicyMTASTSEnforce:
		return "senders that enforce MTA-STS will not deliver"
	case PolicyDANE:
		return "senders that enforce DANE rely on the TLSA records, not on this chain"
	}
	return "opportunistic TLS still encrypts, but MTA-STS and DANE senders will not deliver"
}

// handshakeConsequence says what a failed handshake means for the
// policy's peers.
func (p TLSPolicy) handshakeConsequence() string {
	switch p {
	case PolicyRequired:
		return "mail clients cannot connect securely"
	case PolicyMTASTSEnforce:
		return "senders enforcing MTA-STS cannot deliver"
	case PolicyDANE:
		return "senders enforcing DANE cannot deliver"
	}
	return "senders that insist on TLS cannot deliver, the others fall back to clear text"
}

// tlsPolicy is the policy a session is judged against: required on the
// submission ports; on port 25 DANE when the host has a usable TLSA set
// (Env.tlsa; DANE takes precedence over MTA-STS, RFC 8461 §2), else
// MTA-STS enforce when the domain's policy is valid, in enforce mode and
// names the MX host (RFC 8461 §4), opportunistic otherwise.
func (e *Env) tlsPolicy(ctx context.Context, t smtpTarget) TLSPolicy {
	if t.Mode != smtpprobe.Relay {
		return PolicyRequired
	}
	if e.tlsa(ctx, t.Host).Usable() {
		return PolicyDANE
	}
	if p := e.mtastsPolicy(ctx).enforced(); p != nil && mtasts.Matching(p.MX, t.Host) != "" {
		return PolicyMTASTSEnforce
	}
	return PolicyOpportunistic
}

// tlsSession is one session the tls check judges, whatever dialogue
// (SMTP now, IMAP and POP3 next) opened it: its TLS, or why there is
// none.
type tlsSession struct {
	Label        string           // "mx1.example.org[192.0.2.1]:25"
	Host         string           // the name the certificate must match
	Address      string           // address:port, for the openssl command of a fix
	StartTLS     string           // openssl's -starttls protocol; "" for implicit TLS
	Policy       TLSPolicy        // what the TLS is judged against
	Info         *tlsinspect.Info // the inspected TLS; nil when none was set up
	TLSError     string           // the handshake (or STARTTLS) failed: why
	Plain        string           // the server was reached but offers no TLS: the finding ID that says so
	Inconclusive bool             // the handshake failure says nothing about the server (timeout, busy 465)
	Cut          bool             // the audit deadline or an interruption ended the session
	Stopped      string           // where and why a session that reached no TLS stopped
	Err          error
	Transcript   []string
}

// smtpTLSSession describes an SMTP probe for the tls check.
func (e *Env) smtpTLSSession(ctx context.Context, t smtpTarget, r *smtpprobe.Result) tlsSession {
	s := tlsSession{Label: t.String(), Host: t.Host, Address: t.address(), StartTLS: "smtp", Policy: e.tlsPolicy(ctx, t),
		Info: r.TLS, TLSError: r.TLSError, Cut: smtpprobe.CutShort(r.Err), Stopped: stoppedAt(r), Err: r.Err, Transcript: r.Transcript}
	if t.Mode == smtpprobe.Implicit {
		s.StartTLS = ""
	}
	// A handshake that timed out, or on 465 a connection closed before
	// any TLS answer (a busy or rate-limiting server), is no verdict on
	// the server's TLS.
	closed := t.Mode == smtpprobe.Implicit && strings.Contains(r.TLSError, smtpprobe.ErrClosed.Error())
	s.Inconclusive = closed || errors.Is(r.Err, smtpprobe.ErrTimeout) || strings.Contains(r.TLSError, smtpprobe.ErrTimeout.Error())
	if r.Connected && r.Banner != nil && r.Banner.Code == 220 && r.Stage == "" && !r.StartTLSOffered {
		s.Plain = SpecSMTPNoStartTLS.ID
		if t.Mode != smtpprobe.Relay {
			s.Plain = SpecSMTPSubmissionNoTLS.ID
		}
	}
	return s
}

func stoppedAt(r *smtpprobe.Result) string {
	if r.Err == nil {
		return "no TLS reached"
	}
	return fmt.Sprintf("stopped at %s: %v", r.Stage, r.Err)
}
