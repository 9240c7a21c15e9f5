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

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/resolve"
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

// Judge judges raw (the message as received, CRLF line ends) under
// ctx's deadline. It never panics on hostile input and reports what it
// could not evaluate (a DNS failure) as error findings.
func (j *Judge) Judge(ctx context.Context, env Envelope, raw []byte) *Verdict {
	panic("message.Judge: not implemented yet")
}
