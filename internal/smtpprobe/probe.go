package smtpprobe

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/mailcheck/mailcheck/internal/dialogue"
	"github.com/mailcheck/mailcheck/internal/tlsinspect"
)

// Mode is how a port speaks TLS.
type Mode int

const (
	// Relay is port 25 (MX): plain SMTP, STARTTLS when offered, an
	// open-relay test when Config.RelayRcpt is set.
	Relay Mode = iota
	// Submission is port 587: STARTTLS, and MAIL before STARTTLS is tried
	// to see whether the server requires TLS.
	Submission
	// Implicit is port 465: TLS from the first byte (RFC 8314 §3.3).
	Implicit
)

func (m Mode) String() string {
	switch m {
	case Relay:
		return "smtp"
	case Submission:
		return "submission"
	case Implicit:
		return "submissions"
	}
	return "mode" + strconv.Itoa(int(m))
}

// Dialer opens connections (checks.Dialer satisfies it).
type Dialer = dialogue.Dialer

// Config is one probe: one connection to one address and port.
type Config struct {
	Host    string // the name the server is known by (MX or submission host): SNI and certificate name
	Address string // "ip:port" to dial
	Mode    Mode
	Dialer  Dialer
	RootCAs *x509.CertPool // nil: the system roots
	Now     func() time.Time
	// Timeout bounds the whole session (default 10s), under ctx.
	Timeout time.Duration
	// HeloName is sent in EHLO (default DefaultHelo).
	HeloName string
	// RelayRcpt, in Relay mode, is a recipient outside the server's
	// domains: MAIL FROM:<> and RCPT TO:<RelayRcpt> are sent, then RSET.
	RelayRcpt string
	Limits    Limits
	// Trace receives the transcript live, one line per protocol line,
	// each prefixed with "smtp HOST[ADDRESS] ".
	Trace io.Writer
}

// DefaultHelo is the EHLO argument: a reserved name (RFC 2606), so no
// server mistakes mailcheck for a real mail host.
const DefaultHelo = "mailcheck.invalid"

// DefaultTimeout bounds one session (connect, dialogue and handshake)
// when Config.Timeout is not set; --probe-timeout defaults to it.
const DefaultTimeout = 10 * time.Second

// Stage names where a session stopped.
const (
	StageConnect  = "connect"
	StageTLS      = "tls" // the handshake (STARTTLS or implicit)
	StageBanner   = "banner"
	StageEHLO     = "ehlo"
	StageRelay    = "relay-test"
	StageMail     = "mail-before-tls"
	StageStartTLS = "starttls"
	StageEHLOTLS  = "ehlo-after-tls"
	StageQuit     = "quit"
)

// Result is everything one session saw.
type Result struct {
	Host    string `json:"host"`
	Address string `json:"address"`
	Mode    string `json:"mode"`

	Connected bool `json:"connected"`
	// LocalAddr is mailcheck's end of the connection ("ip:port").
	LocalAddr   string        `json:"local_addr,omitempty"`
	Banner      *Reply        `json:"banner,omitempty"`
	BannerDelay time.Duration `json:"banner_delay_ns,omitempty"`
	// BannerHost is the first word of the greeting: the server's name for
	// itself (RFC 5321 §4.3.1).
	BannerHost string `json:"banner_host,omitempty"`

	EHLO       *Reply   `json:"ehlo,omitempty"`
	ESMTP      bool     `json:"esmtp"`                // the server answered EHLO
	HELO       *Reply   `json:"helo,omitempty"`       // when EHLO was refused
	Extensions []string `json:"extensions,omitempty"` // EHLO keywords with parameters, before TLS (or on 465)

	StartTLSOffered bool             `json:"starttls_offered"`
	StartTLS        *Reply           `json:"starttls,omitempty"`
	TLS             *tlsinspect.Info `json:"tls,omitempty"`
	TLSError        string           `json:"tls_error,omitempty"`
	EHLOAfterTLS    *Reply           `json:"ehlo_after_tls,omitempty"`
	ExtensionsTLS   []string         `json:"extensions_tls,omitempty"`

	// AUTH mechanisms advertised in clear text, and under TLS.
	AuthBeforeTLS []string `json:"auth_before_tls,omitempty"`
	AuthAfterTLS  []string `json:"auth_after_tls,omitempty"`

	MailBeforeTLS *Reply `json:"mail_before_tls,omitempty"` // Submission
	RelayMail     *Reply `json:"relay_mail,omitempty"`      // Relay
	RelayRcpt     *Reply `json:"relay_rcpt,omitempty"`
	RelayTo       string `json:"relay_to,omitempty"`

	// Err is why the session stopped early (nil: it ran to QUIT), Stage
	// where.
	Err   error  `json:"-"`
	Stage string `json:"stage,omitempty"`

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

// TLSAttempted reports whether a TLS handshake was tried.
func (r *Result) TLSAttempted() bool { return r.TLS != nil || r.TLSError != "" }

// ErrNotTLS says a server answered STARTTLS with something other than 220.
var ErrNotTLS = errors.New("smtpprobe: STARTTLS refused")

// Errors of a session ended by the caller, not by the server: the audit
// deadline (the caller's context expired) or an interruption (it was
// cancelled, e.g. by SIGINT). They say nothing about the server.
var (
	ErrDeadline    = dialogue.ErrDeadline
	ErrInterrupted = dialogue.ErrInterrupted
)

// answerErr is an error that rests on a complete reply of the server (a
// refusal): a verdict, whenever the caller's deadline comes.
type answerErr struct{ error }

func (e answerErr) Unwrap() error { return e.error }

func answered(err error) error { return answerErr{err} }

// fromPeer reports an error that rests on what the server sent (a
// refusal, garbage, a flood), not on a read that was cut off.
func fromPeer(err error) bool {
	var ans answerErr
	return errors.As(err, &ans) || errors.Is(err, ErrMalformed) || errors.Is(err, ErrLineTooLong) ||
		errors.Is(err, ErrTooManyLines) || errors.Is(err, ErrCodeMismatch)
}

// CutShort reports whether err means the caller ended the session
// (ErrDeadline or ErrInterrupted).
func CutShort(err error) bool { return dialogue.CutShort(err) }

// CutError returns the error of a session that parent ended, or nil
// (dialogue.CutError).
func CutError(parent context.Context, own time.Time) error { return dialogue.CutError(parent, own) }

// Probe runs one session. It always returns a Result; Result.Err tells
// whether and where it stopped early.
func Probe(ctx context.Context, cfg Config) *Result {
	s := newSession(ctx, cfg.withDefaults())
	defer s.close()
	stages := []func() error{s.dial, s.implicitTLS, s.banner, s.ehlo, s.relayTest, s.submissionTest, s.startTLS}
	for _, stage := range stages {
		if stage() != nil {
			return s.res
		}
	}
	s.quit()
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
	if cfg.HeloName == "" {
		cfg.HeloName = DefaultHelo
	}
	if cfg.Limits.MaxLineLen <= 0 || cfg.Limits.MaxReplyLines <= 0 {
		cfg.Limits = DefaultLimits
	}
	return cfg
}

// greet sends EHLO, falling back to HELO when EHLO is refused with a
// permanent error (RFC 5321 §4.1.4). It returns the EHLO keywords. After
// STARTTLS (afterTLS) the reply goes to EHLOAfterTLS and there is no HELO
// fallback: the server spoke ESMTP already.
func greet(tc *textConn, res *Result, helo string, afterTLS bool) ([]string, error) {
	rep, err := tc.cmd("EHLO " + helo)
	if afterTLS {
		res.EHLOAfterTLS = rep
	} else {
		res.EHLO = rep
	}
	if err != nil {
		return nil, err
	}
	if rep.Class() == 2 {
		res.ESMTP = res.ESMTP || !afterTLS
		return keywords(rep), nil
	}
	if rep.Class() == 5 && !afterTLS {
		res.HELO, err = tc.cmd("HELO " + helo)
		if err != nil {
			return nil, err
		}
		if res.HELO.Class() == 2 {
			return nil, nil
		}
		return nil, answered(fmt.Errorf("EHLO and HELO refused: %s", res.HELO))
	}
	return nil, answered(fmt.Errorf("EHLO refused: %s", rep))
}

// keywords returns the EHLO extension lines (the first line is the
// greeting), upper-cased keyword followed by its parameters.
func keywords(rep *Reply) []string {
	var out []string
	for _, l := range rep.Lines[1:] {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		f[0] = strings.ToUpper(f[0])
		out = append(out, strings.Join(f, " "))
	}
	return out
}

func hasExt(ext []string, kw string) bool {
	for _, e := range ext {
		if e == kw || strings.HasPrefix(e, kw+" ") {
			return true
		}
	}
	return false
}

// authMechs returns the mechanisms of the AUTH extension (also the
// pre-standard "AUTH=" form), nil when AUTH is not offered.
func authMechs(ext []string) []string {
	var out []string
	found := false
	for _, e := range ext {
		f := strings.Fields(e)
		switch {
		case f[0] == "AUTH":
			found = true
			out = append(out, f[1:]...)
		case strings.HasPrefix(f[0], "AUTH="):
			found = true
			out = append(out, strings.TrimPrefix(f[0], "AUTH="))
			out = append(out, f[1:]...)
		}
	}
	if !found {
		return nil
	}
	seen := map[string]bool{}
	var uniq []string
	for _, m := range out {
		m = strings.ToUpper(m)
		if !seen[m] {
			seen[m] = true
			uniq = append(uniq, m)
		}
	}
	if uniq == nil {
		uniq = []string{}
	}
	return uniq
}
