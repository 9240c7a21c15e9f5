// Package mailboxprobe is mailcheck's client for the servers mail clients
// read their mailboxes from: IMAP (RFC 3501, RFC 9051) with STARTTLS on
// port 143 and implicit TLS on 993 (RFC 8314), and POP3 (RFC 1939, CAPA
// RFC 2449) with STLS (RFC 2595 §4) on 110 and implicit TLS on 995. One
// session per address and port records the greeting, the capabilities
// before and after TLS and the TLS session, with a deadline on the whole
// session and caps on everything read (package dialogue). It never sends
// credentials: the session ends with LOGOUT or QUIT.
package mailboxprobe

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/mailcheck/mailcheck/internal/dialogue"
	"github.com/mailcheck/mailcheck/internal/tlsinspect"
)

// Protocol is the mailbox access protocol of a session.
type Protocol int

// The protocols.
const (
	IMAP Protocol = iota
	POP3
)

// String names the protocol ("imap", "pop3").
func (p Protocol) String() string {
	if p == POP3 {
		return "pop3"
	}
	return "imap"
}

// Ports are the protocol's standard ports: clear text with STARTTLS (or
// STLS) and implicit TLS (RFC 8314 §7.3).
func (p Protocol) Ports() (plain, implicit uint16) {
	if p == POP3 {
		return 110, 995
	}
	return 143, 993
}

// Dialer opens connections (checks.Dialer satisfies it).
type Dialer = dialogue.Dialer

// Limits cap what a session reads from the peer.
type Limits = dialogue.Limits

// DefaultTimeout bounds one session when Config.Timeout is not set.
const DefaultTimeout = 10 * time.Second

// Config is one probe: one connection to one address and port.
type Config struct {
	Protocol Protocol
	Implicit bool   // TLS from the first byte (993, 995); else STARTTLS/STLS when offered
	Host     string // the name clients are configured with: SNI and certificate name
	Address  string // "ip:port" to dial
	Dialer   Dialer
	RootCAs  *x509.CertPool // nil: the system roots
	Now      func() time.Time
	Timeout  time.Duration // the whole session, under ctx (default DefaultTimeout)
	Limits   Limits
	// Trace receives the transcript live, each line prefixed with
	// "imap HOST[ADDRESS] " (or pop3).
	Trace io.Writer
}

// Stage names where a session stopped.
const (
	StageConnect       = "connect"
	StageTLS           = "tls" // the handshake (STARTTLS or implicit)
	StageGreeting      = "greeting"
	StageCapability    = "capability"
	StageStartTLS      = "starttls"
	StageCapabilityTLS = "capability-after-tls"
)

// Result is everything one session saw.
type Result struct {
	Protocol  string `json:"protocol"` // imap, imaps, pop3, pop3s
	Host      string `json:"host"`
	Address   string `json:"address"`
	Implicit  bool   `json:"implicit_tls"`
	Connected bool   `json:"connected"`
	Greeting  string `json:"greeting,omitempty"`
	// Capabilities are the CAPABILITY atoms (IMAP) or CAPA lines (POP3),
	// upper-cased, before TLS (or under implicit TLS); CapaRefused says a
	// POP3 server answered CAPA with -ERR (it lists none).
	Capabilities    []string         `json:"capabilities,omitempty"`
	CapaRefused     bool             `json:"capa_refused,omitempty"`
	StartTLSOffered bool             `json:"starttls_offered"`
	StartTLS        string           `json:"starttls,omitempty"` // the answer to STARTTLS or STLS
	TLS             *tlsinspect.Info `json:"tls,omitempty"`
	TLSError        string           `json:"tls_error,omitempty"`
	CapabilitiesTLS []string         `json:"capabilities_tls,omitempty"`

	Err        error         `json:"-"` // why the session stopped early (nil: it ran to the end)
	Stage      string        `json:"stage,omitempty"`
	Transcript []string      `json:"transcript"`
	Duration   time.Duration `json:"duration_ns"`
}

// ErrorText is Err as text, "" when the session completed.
func (r *Result) ErrorText() string {
	if r.Err == nil {
		return ""
	}
	return r.Err.Error()
}

// Sentinel errors of a session; test with errors.Is.
var (
	ErrLineTooLong  = errors.New("mailboxprobe: response line too long")
	ErrTooManyLines = errors.New("mailboxprobe: too many response lines")
	ErrMalformed    = errors.New("mailboxprobe: malformed response")
	ErrClosed       = errors.New("mailboxprobe: connection closed by the server")
	ErrTimeout      = errors.New("mailboxprobe: timeout")
	ErrBadCommand   = errors.New("mailboxprobe: command with CR, LF or NUL not sent")
	// ErrRefused says the server answered with a refusal: a BYE or -ERR
	// greeting, a NO/BAD/-ERR answer to a command the probe needs.
	ErrRefused = errors.New("mailboxprobe: the server refused")
)

// Errors of a session ended by the caller (dialogue).
var (
	ErrDeadline    = dialogue.ErrDeadline
	ErrInterrupted = dialogue.ErrInterrupted
)

// CutShort reports whether err means the caller ended the session.
func CutShort(err error) bool { return dialogue.CutShort(err) }

// CutError returns the error of a session that parent ended, or nil
// (dialogue.CutError).
func CutError(parent context.Context, own time.Time) error { return dialogue.CutError(parent, own) }

var proto = dialogue.Protocol{ErrClosed: ErrClosed, ErrTimeout: ErrTimeout, ErrLineTooLong: ErrLineTooLong, ErrBadCommand: ErrBadCommand}

// fromPeer reports an error that rests on what the server sent, not on
// a read that was cut off.
func fromPeer(err error) bool {
	return errors.Is(err, ErrRefused) || errors.Is(err, ErrMalformed) || errors.Is(err, ErrLineTooLong) ||
		errors.Is(err, ErrTooManyLines)
}

// Probe runs one session. It always returns a Result; Result.Err tells
// whether and where it stopped early.
func Probe(ctx context.Context, cfg Config) *Result {
	s := newSession(ctx, cfg.withDefaults())
	defer s.close()
	for _, stage := range []func() error{s.dial, s.implicitTLS, s.greeting, s.capability, s.startTLS} {
		if stage() != nil {
			return s.res
		}
	}
	s.logout()
	return s.res
}

// withDefaults fills in the unset fields of cfg.
func (cfg Config) withDefaults() Config {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Limits.MaxLineLen <= 0 || cfg.Limits.MaxReplyLines <= 0 {
		cfg.Limits = dialogue.DefaultLimits
	}
	return cfg
}

// Has reports whether caps holds the capability c (IMAP atom or POP3 CAPA
// keyword), case-insensitively.
func Has(caps []string, c string) bool {
	for _, x := range caps {
		if strings.EqualFold(x, c) || strings.HasPrefix(strings.ToUpper(x), strings.ToUpper(c)+" ") {
			return true
		}
	}
	return false
}

// IMAPRevision returns the IMAP revision the capabilities name
// ("IMAP4rev2", "IMAP4rev1"), "" when neither.
func IMAPRevision(caps []string) string {
	for _, r := range []string{"IMAP4rev2", "IMAP4rev1"} {
		if Has(caps, r) {
			return r
		}
	}
	return ""
}

// CleartextAuth lists the ways r's server lets a client send a password
// before TLS, nil when none: in IMAP, LOGIN unless LOGINDISABLED (RFC
// 3501 §6.2.3, RFC 2595 §3.2) and AUTH=PLAIN or AUTH=LOGIN; in POP3, USER
// and SASL PLAIN or LOGIN (RFC 2449 §6.3, §6.8). Only sessions in clear
// text are judged; a POP3 server that refused CAPA lists nothing.
func (r *Result) CleartextAuth() []string {
	if r.Implicit || r.Capabilities == nil {
		return nil
	}
	var out []string
	if r.Protocol == "imap" {
		if !Has(r.Capabilities, "LOGINDISABLED") {
			out = append(out, "LOGIN")
		}
		for _, m := range []string{"AUTH=PLAIN", "AUTH=LOGIN"} {
			if Has(r.Capabilities, m) {
				out = append(out, m)
			}
		}
		return out
	}
	if Has(r.Capabilities, "USER") {
		out = append(out, "USER")
	}
	for _, c := range r.Capabilities {
		f := strings.Fields(c)
		if len(f) > 1 && f[0] == "SASL" {
			for _, m := range f[1:] {
				if m = strings.ToUpper(m); m == "PLAIN" || m == "LOGIN" {
					out = append(out, "SASL "+m)
				}
			}
		}
	}
	return out
}
