// Package submittest runs an in-process submission server on 127.0.0.1
// for the tests of `mailcheck send-test`: STARTTLS or implicit TLS, AUTH
// PLAIN with one user and password, and it keeps the messages it
// accepts (it relays nothing).
package submittest

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mailcheck/mailcheck/internal/smtptest"
)

// Options configure the server.
type Options struct {
	TLS           *tls.Config // nil: no STARTTLS
	Implicit      bool        // TLS from the first byte
	User, Pass    string      // AUTH PLAIN credentials; "": AUTH not offered
	AuthBeforeTLS bool        // offer AUTH in plain text too
}

// Server is a running submission server.
type Server struct {
	Addr string

	mu    sync.Mutex
	msgs  [][]byte
	auths int
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.msgs...)
}

// Start runs the server until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	srv := &Server{}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: srv, o: o}, nil
	}))
	s.Domain = "submit.test"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.AllowInsecureAuth = o.AuthBeforeTLS
	s.TLSConfig = o.TLS
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Addr = l.Addr().String()
	if o.Implicit {
		l = tls.NewListener(l, o.TLS)
		s.TLSConfig = nil
	}
	smtptest.ServeGoSMTP(t, s, l)
	return srv
}

type session struct {
	srv    *Server
	o      Options
	authed bool
}

func (s *session) AuthMechanisms() []string {
	if s.o.User != "" {
		return []string{sasl.Plain}
	}
	return nil
}

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.o.User || pass != s.o.Pass {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *session) Mail(string, *smtp.MailOptions) error {
	if s.o.User != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	return nil
}

func (s *session) Rcpt(string, *smtp.RcptOptions) error { return nil }

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, b)
	s.srv.mu.Unlock()
	return nil
}

func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }
