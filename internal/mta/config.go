// Package mta is the embedded receiving SMTP server of `mailcheck mta`:
// it accepts test mail for the recipients it is told to, and nothing
// else, hands each message to a judge and reports the verdict. It never
// relays, never bounces and never delivers: what it accepts is stored
// only in the Maildir it is given, if any.
//
// Every resource a client can make it spend is bounded: connections,
// the time of a command, of the message data and of a whole session,
// the message size, the recipients of a message, the header section and
// the MIME nesting of the message.
package mta

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/mailcheck/mailcheck/internal/message"
)

// DefaultListen is where the server binds when no address is given.
const DefaultListen = "127.0.0.1:2525"

// Limits bound what one client can make the server spend.
type Limits struct {
	MaxMessageBytes int64         // message size, advertised with SIZE; 552 beyond
	MaxRecipients   int           // recipients of one message; 452 beyond
	MaxHeaderBytes  int           // the header section; 552 beyond
	MaxHeaderFields int           // header fields; 552 beyond
	MaxMIMEDepth    int           // nesting of multipart entities; 554 beyond
	MaxMIMEParts    int           // MIME parts in one message; 554 beyond
	MaxConns        int           // concurrent connections; 421 beyond
	CommandTimeout  time.Duration // reading one command line, writing one reply
	DataTimeout     time.Duration // receiving the whole message data
	SessionTimeout  time.Duration // one connection, from accept to close
	JudgeTimeout    time.Duration // judging one message
}

// DefaultLimits are the bounds of `mailcheck mta` unless flags change them.
func DefaultLimits() Limits {
	return Limits{
		MaxMessageBytes: 10 << 20,
		MaxRecipients:   100,
		MaxHeaderBytes:  256 << 10,
		MaxHeaderFields: 1000,
		MaxMIMEDepth:    20,
		MaxMIMEParts:    500,
		MaxConns:        32,
		CommandTimeout:  time.Minute,
		DataTimeout:     5 * time.Minute,
		SessionTimeout:  10 * time.Minute,
		JudgeTimeout:    30 * time.Second,
	}
}

// JudgeFunc judges one received message; (*message.Judge).Judge is one.
type JudgeFunc func(ctx context.Context, env message.Envelope, raw []byte) *message.Verdict

// Config is what a Server is made from.
type Config struct {
	Listen    []string // STARTTLS listeners, HOST:PORT; empty: DefaultListen
	ListenTLS []string // implicit-TLS listeners (RFC 8314), HOST:PORT
	// Public allows addresses other than loopback ones; without it
	// Listen refuses them.
	Public   bool
	Hostname string   // the EHLO/greeting name and the authserv-id
	Accept   []string // local@domain or @domain; empty: one random token address
	Maildir  string   // where accepted messages are stored; "": nowhere
	// Certificate is served for STARTTLS and implicit TLS; nil: a
	// self-signed one is made for Hostname at start.
	Certificate *Certificate
	Limits      Limits
	Judge       JudgeFunc
	// OnMessage is called once per judged message, possibly from several
	// goroutines at once.
	OnMessage func(*Result)
	// Logf reports what is not a message: refused connections, rejected
	// messages, storage failures. nil: nothing is reported.
	Logf func(format string, args ...any)
	Now  func() time.Time
}

// CheckListen checks a listen address: HOST:PORT with an IP address
// literal, a loopback one unless public is true.
func CheckListen(addr string, public bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not HOST:PORT", addr)
	}
	if _, err := net.LookupPort("tcp", port); err != nil || port == "" {
		return fmt.Errorf("%q: bad port %q", addr, port)
	}
	if host == "" {
		if !public {
			return fmt.Errorf("%q listens on every address: this needs --listen-public", addr)
		}
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%q: %q is not an IP address", addr, host)
	}
	if !ip.Unmap().IsLoopback() && !public {
		return fmt.Errorf("%q is not a loopback address: listening on it needs --listen-public", addr)
	}
	return nil
}

// ParseAccept checks one --accept value: local@domain or @domain, a
// domain of non-empty labels, no spaces, quotes or brackets. It returns
// the value lower-cased.
func ParseAccept(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	at := strings.LastIndexByte(s, '@')
	if at < 0 || at == len(s)-1 {
		return "", fmt.Errorf("%q is neither local@domain nor @domain", s)
	}
	if strings.ContainsAny(s, " \t<>\"\\,;:()[]") || strings.Count(s, "@") != 1 {
		return "", fmt.Errorf("%q: spaces, quotes, brackets and a second '@' are not allowed", s)
	}
	for _, l := range strings.Split(s[at+1:], ".") {
		if l == "" || len(l) > 63 {
			return "", fmt.Errorf("%q: the domain has an empty or over-long label", s)
		}
	}
	return s, nil
}

// TokenAddress returns a fresh random address at host, the default
// recipient: an open port is then not a catch-all.
func TokenAddress(host string) string {
	b := make([]byte, 8)
	rand.Read(b) // never fails (crypto/rand)
	return "mailcheck-" + hex.EncodeToString(b) + "@" + strings.ToLower(host)
}

// errNoJudge is returned by New for a Config without a judge.
var errNoJudge = errors.New("mta: no judge configured")

// withDefaults fills in what a zero Config leaves out.
func (c Config) withDefaults() Config {
	if len(c.Listen) == 0 && len(c.ListenTLS) == 0 {
		c.Listen = []string{DefaultListen}
	}
	if c.Hostname == "" {
		c.Hostname = "localhost"
	}
	if len(c.Accept) == 0 {
		c.Accept = []string{TokenAddress(c.Hostname)}
	}
	if c.Limits == (Limits{}) {
		c.Limits = DefaultLimits()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	if c.OnMessage == nil {
		c.OnMessage = func(*Result) {}
	}
	return c
}

// accepts reports whether rcpt is one of the accepted addresses or in
// one of the accepted domains (compared without regard to case).
func accepts(list []string, rcpt string) bool {
	rcpt = strings.ToLower(rcpt)
	at := strings.LastIndexByte(rcpt, '@')
	if at < 0 {
		return false
	}
	for _, a := range list {
		if a == rcpt || (a[0] == '@' && a == rcpt[at:]) {
			return true
		}
	}
	return false
}
