package mta

import (
	"context"
	"crypto/tls"
	"fmt"
	"log"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Server is the receiving SMTP server. New checks its Config, Listen
// binds, Serve accepts until Stop.
type Server struct {
	cfg     Config
	smtp    *smtp.Server
	maildir *Maildir
	tls     *tls.Config

	sem chan struct{} // the connection cap, shared by every listener

	mu        sync.Mutex
	stopping  bool
	open      int            // open connections
	drained   chan struct{}  // closed when stopping and no connection is open
	judging   sync.WaitGroup // messages between end of data and report
	listeners []net.Listener
	implicit  []bool // listeners[i] is implicit TLS
	ctx       context.Context
}

// New checks cfg and prepares a server: the listen addresses are valid
// (loopback unless Public), the Maildir exists, a certificate is loaded
// or made. Nothing is bound yet.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if cfg.Judge == nil {
		return nil, errNoJudge
	}
	for _, a := range append(append([]string{}, cfg.Listen...), cfg.ListenTLS...) {
		if err := CheckListen(a, cfg.Public); err != nil {
			return nil, err
		}
	}
	for i, a := range cfg.Accept {
		v, err := ParseAccept(a)
		if err != nil {
			return nil, err
		}
		cfg.Accept[i] = v
	}
	s := &Server{cfg: cfg, sem: make(chan struct{}, max(cfg.Limits.MaxConns, 1))}
	if cfg.Maildir != "" {
		s.maildir = &Maildir{Dir: cfg.Maildir, Host: cfg.Hostname}
		if err := s.maildir.Init(); err != nil {
			return nil, fmt.Errorf("maildir: %w", err)
		}
	}
	cert := cfg.Certificate
	if cert == nil {
		var err error
		if cert, err = SelfSigned(cfg.Hostname, cfg.Now()); err != nil {
			return nil, fmt.Errorf("self-signed certificate: %w", err)
		}
	}
	s.tls = tlsConfig(cert)
	s.smtp = s.newSMTP()
	return s, nil
}

// newSMTP configures go-smtp with the limits.
func (s *Server) newSMTP() *smtp.Server {
	l := s.cfg.Limits
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = s.cfg.Hostname
	srv.TLSConfig = s.tls
	srv.MaxMessageBytes = l.MaxMessageBytes
	srv.MaxRecipients = l.MaxRecipients
	srv.ReadTimeout = l.CommandTimeout
	srv.WriteTimeout = l.CommandTimeout
	srv.ErrorLog = log.New(logfWriter(s.cfg.Logf), "", 0)
	return srv
}

// logfWriter adapts Logf to the *log.Logger go-smtp writes its errors to.
type logfWriter func(string, ...any)

func (f logfWriter) Write(p []byte) (int, error) {
	f("%s", string(p))
	return len(p), nil
}

// Accepted returns the accepted recipients and domains (the default
// token address when none was configured).
func (s *Server) Accepted() []string { return append([]string(nil), s.cfg.Accept...) }

// Listen binds every configured address; on an error nothing stays bound.
func (s *Server) Listen() error {
	bind := func(addrs []string, implicit bool) error {
		for _, a := range addrs {
			l, err := net.Listen("tcp", a)
			if err != nil {
				return err
			}
			s.listeners = append(s.listeners, l)
			s.implicit = append(s.implicit, implicit)
		}
		return nil
	}
	err := bind(s.cfg.Listen, false)
	if err == nil {
		err = bind(s.cfg.ListenTLS, true)
	}
	if err != nil {
		for _, l := range s.listeners {
			l.Close()
		}
		s.listeners, s.implicit = nil, nil
	}
	return err
}

// Listener is one bound address.
type Listener struct {
	Addr     net.Addr
	Implicit bool // implicit TLS; otherwise STARTTLS is offered
}

// Listeners returns the bound addresses (with the port chosen for :0).
func (s *Server) Listeners() []Listener {
	out := make([]Listener, len(s.listeners))
	for i, l := range s.listeners {
		out[i] = Listener{Addr: l.Addr(), Implicit: s.implicit[i]}
	}
	return out
}

// Serve accepts connections on every bound listener until Stop; ctx is
// the parent of each judge's context.
func (s *Server) Serve(ctx context.Context) {
	s.ctx = ctx
	for i, l := range s.listeners {
		var ln net.Listener = &limitListener{Listener: l, sem: s.sem, opened: s.connOpened, closed: s.connClosed,
			session: s.cfg.Limits.SessionTimeout, now: s.cfg.Now, logf: s.cfg.Logf}
		if s.implicit[i] {
			ln = tls.NewListener(ln, s.tls)
		}
		go func() {
			if err := s.smtp.Serve(ln); err != nil && !s.isStopping() {
				s.cfg.Logf("listener %s: %v", l.Addr(), err)
			}
		}()
	}
}

func (s *Server) connOpened() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open++
}

func (s *Server) connClosed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open--; s.open == 0 && s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
}

func (s *Server) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

// beginJudging registers a message about to be judged; false when the
// server is stopping and takes no more.
func (s *Server) beginJudging() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false
	}
	s.judging.Add(1)
	return true
}

// Stop stops accepting connections and messages, waits for the messages
// being judged to be reported, lets open sessions end for up to grace
// (the last sender reads its 250 and quits), then closes what is left.
func (s *Server) Stop(grace time.Duration) {
	done := make(chan struct{})
	s.mu.Lock()
	s.stopping = true
	if s.open == 0 {
		close(done)
	} else {
		s.drained = done
	}
	s.mu.Unlock()
	for _, l := range s.listeners {
		l.Close()
	}
	s.judging.Wait()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
	s.smtp.Close() // the listeners are closed already: its error says so
}
