package dialogue

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/mailcheck/mailcheck/internal/tlsinspect"
)

// Dialer opens connections (checks.Dialer satisfies it).
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Errors of a session ended by the caller, not by the server: the audit
// deadline (the caller's context expired) or an interruption (it was
// cancelled, e.g. by SIGINT). They say nothing about the server.
var (
	ErrDeadline    = errors.New("the audit deadline ended the probe")
	ErrInterrupted = errors.New("interrupted: the run was stopped during the probe")
)

// CutShort reports whether err means the caller ended the session
// (ErrDeadline or ErrInterrupted).
func CutShort(err error) bool {
	return errors.Is(err, ErrDeadline) || errors.Is(err, ErrInterrupted)
}

// CutError returns the error of a session that parent ended, or nil when
// parent is still live or its deadline came after own (the session's own
// timeout, a verdict on the server, ended it first). A zero own means the
// session had no timeout of its own. A deadline that has passed counts
// even before parent's timer has fired: the socket deadline taken from it
// can fire first.
func CutError(parent context.Context, own time.Time) error {
	if errors.Is(parent.Err(), context.Canceled) {
		return ErrInterrupted
	}
	dl, ok := parent.Deadline()
	switch {
	case !ok, !own.IsZero() && dl.After(own):
		return nil
	case parent.Err() != nil, !time.Now().Before(dl):
		return ErrDeadline
	}
	return nil
}

// Session is one connection under a deadline on the whole session: Ctx
// ends at the session's own timeout or with the caller's context, and
// either interrupts any read or write of the connection at once.
type Session struct {
	Ctx     context.Context
	Start   time.Time // when the session began
	Address string    // "ip:port" dialled
	Proto   Protocol
	Tr      *Transcript

	parent  context.Context
	own     time.Time // the session's own deadline
	timeout time.Duration
	cancel  context.CancelFunc
	conn    net.Conn
	stop    func() bool
}

// Open starts a session to address under parent with its own timeout.
// Close it when done.
func Open(parent context.Context, address string, timeout time.Duration, p Protocol, tr *Transcript) *Session {
	start := time.Now()
	ctx, cancel := context.WithTimeout(parent, timeout)
	return &Session{Ctx: ctx, Start: start, Address: address, Proto: p, Tr: tr,
		parent: parent, own: start.Add(timeout), timeout: timeout, cancel: cancel}
}

// Dial connects with d and puts the session's deadline on the connection.
// A dial the deadline ended is reported as the protocol's timeout.
func (s *Session) Dial(d Dialer) (net.Conn, error) {
	conn, err := d.DialContext(s.Ctx, "tcp", s.Address)
	if err != nil {
		if s.Ctx.Err() != nil {
			err = fmt.Errorf("%w: no connection within %s: %v", s.Proto.ErrTimeout, s.timeout, err)
		}
		return nil, err
	}
	s.conn = conn
	if dl, ok := s.Ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// The audit deadline or a cancel interrupts any read or write at once.
	s.stop = context.AfterFunc(s.Ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	return conn, nil
}

// Close ends the session: the connection, if any, and its context.
func (s *Session) Close() {
	if s.stop != nil {
		s.stop()
	}
	if s.conn != nil {
		s.conn.Close()
	}
	s.cancel()
}

// Cut returns, when the caller ended the session (CutError) and the error
// it stopped with does not rest on what the server sent (peer), the error
// to report instead: the caller's reason, the address and the stage.
// Otherwise it returns nil: the error stands.
func (s *Session) Cut(stage string, peer bool) error {
	cut := CutError(s.parent, s.own)
	if cut == nil || peer {
		return nil
	}
	return fmt.Errorf("%w of %s at the %s stage", cut, s.Address, stage)
}

// Handshake runs the TLS client handshake on conn (tlsinspect.Handshake),
// judges it against roots at now() (read once the handshake is done) for
// host, and notes the outcome in the
// transcript. Its error is classified, not otherwise changed.
func (s *Session) Handshake(conn net.Conn, host string, roots *x509.CertPool, now func() time.Time) (*tls.Conn, *tlsinspect.Info, error) {
	tconn, st, err := tlsinspect.Handshake(s.Ctx, conn, host)
	if err != nil {
		return nil, nil, s.Proto.Classify(err)
	}
	info := tlsinspect.Inspect(st, host, roots, now())
	leaf := info.Leaf()
	s.Tr.Note("%s %s, certificate %s issued by %s, %s, expires %s", info.Version, info.Cipher,
		leaf.Subject, leaf.Issuer, leaf.Key(), leaf.NotAfter.Format(time.DateOnly))
	return tconn, info, nil
}
