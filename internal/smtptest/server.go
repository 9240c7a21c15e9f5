package smtptest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options configure a go-smtp test server.
type Options struct {
	Hostname string      // the greeting's host name
	TLS      *tls.Config // non-nil: STARTTLS offered (or implicit TLS)
	Implicit bool        // TLS from the first byte (port 465)
	// Local is the domain the server accepts mail for; any other
	// recipient is relaying, refused with 554 5.7.1 unless OpenRelay.
	Local     string
	OpenRelay bool
	// Auth offers AUTH PLAIN (after TLS only, unless AuthBeforeTLS).
	Auth          bool
	AuthBeforeTLS bool
	// RequireTLS refuses MAIL before STARTTLS with 530 5.7.0.
	RequireTLS bool
}

// Server is a running test server.
type Server struct {
	Addr string // 127.0.0.1:PORT

	mu    sync.Mutex
	mails []string // MAIL FROM and RCPT TO seen, "MAIL <from>", "RCPT <to>"
	data  int      // DATA commands (the probes must never send one)
}

// Commands returns the MAIL and RCPT commands the server received.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.mails...)
}

// DataCount returns how many DATA commands arrived.
func (s *Server) DataCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

// Start runs a go-smtp server on 127.0.0.1 until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Hostname == "" {
		o.Hostname = "mx.test"
	}
	srv := &Server{}
	be := smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: srv, o: o, c: c}, nil
	})
	s := smtp.NewServer(be)
	s.Domain = o.Hostname
	s.ReadTimeout = 10 * time.Second
	s.WriteTimeout = 10 * time.Second
	s.AllowInsecureAuth = o.AuthBeforeTLS
	s.MaxMessageBytes = 10 << 20
	s.TLSConfig = o.TLS
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Addr = l.Addr().String()
	if o.Implicit {
		l = tls.NewListener(l, o.TLS)
		s.TLSConfig = nil // no STARTTLS inside TLS
	}
	ServeGoSMTP(t, s, l)
	return srv
}

type session struct {
	srv *Server
	o   Options
	c   *smtp.Conn
}

var _ smtp.AuthSession = (*session)(nil)

func (s *session) isTLS() bool {
	_, ok := s.c.TLSConnectionState()
	return ok || s.o.Implicit
}

func (s *session) AuthMechanisms() []string {
	if s.o.Auth {
		return []string{sasl.Plain}
	}
	return nil
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, _, _ string) error { return smtp.ErrAuthFailed }), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.o.RequireTLS && !s.isTLS() {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	}
	s.srv.mu.Lock()
	s.srv.mails = append(s.srv.mails, "MAIL <"+from+">")
	s.srv.mu.Unlock()
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.srv.mu.Lock()
	s.srv.mails = append(s.srv.mails, "RCPT <"+to+">")
	s.srv.mu.Unlock()
	at := strings.LastIndex(to, "@")
	if s.o.OpenRelay || (at >= 0 && strings.EqualFold(to[at+1:], s.o.Local)) {
		return nil
	}
	return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: fmt.Sprintf("<%s>: Relay access denied", to)}
}

func (s *session) Data(r io.Reader) error {
	s.srv.mu.Lock()
	s.srv.data++
	s.srv.mu.Unlock()
	_, err := io.Copy(io.Discard, r)
	return err
}

func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

// Dialer maps "host:port" addresses to test listeners; any other address
// is refused, so a test never touches the network.
type Dialer struct {
	mu  sync.Mutex
	m   map[string]string
	log []string
}

// NewDialer returns an empty Dialer.
func NewDialer() *Dialer { return &Dialer{m: map[string]string{}} }

// Map routes address ("192.0.2.25:25") to target ("127.0.0.1:PORT").
func (d *Dialer) Map(address, target string) *Dialer {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.m[address] = target
	return d
}

// Target returns what address is mapped to ("" when it is not).
func (d *Dialer) Target(address string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m[address]
}

// Dials returns the addresses dialled, in order.
func (d *Dialer) Dials() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.log...)
}

// Blackhole, as a Map target, is an address where connections neither
// succeed nor get refused: the dial waits until its context ends, like a
// firewall that drops packets (or outbound port 25 blocked).
const Blackhole = "blackhole"

// ErrRefused is what an unmapped address returns.
var ErrRefused = errors.New("connection refused (smtptest: address not mapped)")

// DialContext implements the checks' Dialer.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d.mu.Lock()
	target, ok := d.m[address]
	d.log = append(d.log, address)
	d.mu.Unlock()
	if !ok {
		return nil, &net.OpError{Op: "dial", Net: network, Err: ErrRefused}
	}
	if target == Blackhole {
		<-ctx.Done()
		return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, target)
}

// ServeGoSMTP serves s on l until t ends; then it shuts s down (closing
// it when the 2 s grace passes) and waits for Serve to return.
func ServeGoSMTP(t testing.TB, s *smtp.Server, l net.Listener) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Serve(l)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			s.Close()
		}
		// go-smtp closes only the listeners Serve has registered: when
		// the test ends before the serve goroutine has run, Shutdown
		// leaves l open and Serve would accept on it for ever. Closing
		// it here ends Serve whenever it starts (it sees the server
		// closed and returns).
		l.Close()
		<-done
	})
}
