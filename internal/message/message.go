// Package message judges one received message as a careful receiver
// would: SPF of the connecting address with MAIL FROM and HELO (RFC 7208
// §2.3/§2.4), every DKIM-Signature (RFC 6376, RFC 8301), DMARC of the
// From domain (RFC 7489), iprev (RFC 8601 §3), the HELO name, the TLS
// the sender used, and the headers and MIME structure (RFC 5322, RFC
// 2045-2049, RFC 8058). The embedded MTA (internal/mta, `mailcheck mta`)
// calls Judge for each message it accepts; the findings have the same
// shape, severities and documentation as the audit's.
package message

import (
	"context"
	"crypto/tls"
	"net/netip"
	"time"

	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/authres"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/sanitize"
	"github.com/mailcheck/mailcheck/internal/spf"
)

// Envelope is what the SMTP session said about a message.
type Envelope struct {
	ClientIP   netip.Addr           // the connecting address
	Helo       string               // the EHLO/HELO argument, as sent
	MailFrom   string               // the reverse path, without <>; "" for the null sender
	Rcpts      []string             // the accepted recipients
	TLS        *tls.ConnectionState // nil: the session was not encrypted
	EightBit   bool                 // MAIL FROM carried BODY=8BITMIME
	ReceivedAt time.Time
}

// Judge judges messages. Resolver is the same per-run resolver (and
// cache) the audit uses; Now is the clock signatures are checked
// against; Hostname is the authserv-id of the Authentication-Results it
// writes.
type Judge struct {
	Resolver resolve.Resolver
	Now      func() time.Time
	Hostname string
}

// Verdict is the judgement of one message.
type Verdict struct {
	Findings []findings.Finding
	// AuthResults is the Authentication-Results header field (name and
	// value, no CRLF) to prepend to the stored copy; any the sender put
	// in are ignored (RFC 8601 §5).
	AuthResults string
	// Passed: no fail finding, and DKIM and DMARC did not fail.
	Passed bool
	// Summary data for the JSON report: identities and results.
	Data any
}

// Catalog declares the finding IDs of the message judges, each once.
var Catalog findings.Catalog

// Bounds on the work one message can cause, whatever it holds: past
// one, a single finding says so and the rest is not examined.
const (
	MaxHeaderBytes  = 256 << 10 // the top-level header block
	MaxHeaderFields = 1000      // header fields examined
	MaxMIMEDepth    = 20        // nesting of multiparts
	MaxMIMEParts    = 1000      // parts examined in the whole message
	MaxSignatures   = 8         // DKIM signatures verified
	MaxPTRNames     = 10        // PTR names tried for iprev
)

// Judge judges raw (the message as received, CRLF line ends) under
// ctx's deadline (a nil Resolver answers nothing, as offline). It never panics on hostile input and reports what it
// could not evaluate (a DNS failure) as error findings.
func (j *Judge) Judge(ctx context.Context, env Envelope, raw []byte) *Verdict {
	if j.Resolver == nil {
		j = &Judge{Resolver: &resolve.Zones{}, Now: j.Now, Hostname: j.Hostname}
	}
	s := &state{j: j, ctx: ctx, env: env, raw: raw, spfRes: spf.None, data: &Data{
		ClientIP: env.ClientIP.String(), Helo: clean(env.Helo), MailFrom: clean(env.MailFrom)}}
	s.connection()
	s.spf()
	if top := s.readHeader(); top != nil {
		s.headers()
		s.dkim()
		s.dmarc()
		s.mime(top)
		s.unsubscribe()
	}
	s.rawLines()
	return s.verdict()
}

// now is the judge's clock.
func (j *Judge) now() time.Time {
	if j.Now != nil {
		return j.Now()
	}
	return time.Now()
}

// state is one judgement in progress.
type state struct {
	j       *Judge
	ctx     context.Context
	env     Envelope
	raw     []byte
	hdr     textproto.Header
	out     []findings.Finding
	results []authres.Result
	data    *Data

	spfRes     spf.Result // MAIL FROM (or HELO for the null sender)
	spfDomain  string
	dkims      []sigResult
	fromDomain string // "" when there is no single author domain
	fromBad    bool   // no single From address
	dmarcRes   authres.ResultValue
}

// add records a finding.
func (s *state) add(f findings.Finding) { s.out = append(s.out, f) }

// clean makes a string from the message or the session safe to quote.
func clean(v string) string { return sanitize.Line(v, 256) }

// verdict assembles the result.
func (s *state) verdict() *Verdict {
	passed := s.dmarcRes != authres.ResultFail
	for _, f := range s.out {
		if f.Severity == findings.Fail {
			passed = false
		}
	}
	for _, d := range s.dkims {
		if d.value == authres.ResultFail || d.value == authres.ResultPermError {
			passed = false
		}
	}
	host := s.j.Hostname
	if host == "" {
		host = "localhost"
	}
	return &Verdict{
		Findings:    s.out,
		AuthResults: "Authentication-Results: " + authres.Format(host, s.results),
		Passed:      passed,
		Data:        s.data,
	}
}
