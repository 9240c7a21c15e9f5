package mta

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"

	"github.com/emersion/go-smtp"

	"github.com/mailcheck/mailcheck/internal/message"
)

// The replies of a session beyond its recipients' policy or the server's life.
var (
	errNotAccepted = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Relaying denied: this test receiver accepts mail only for its own addresses"}
	errStopping = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2},
		Message: "Shutting down, try again later"}
	errLocal = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "Local error, the message was not stored"}
)

// session is one SMTP session's transaction state.
type session struct {
	srv      *Server
	conn     *smtp.Conn
	from     string
	eightBit bool
	rcpts    []string
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{srv: s, conn: c}, nil
}

// Mail starts a transaction, unless the server is stopping.
func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	if ss.srv.isStopping() {
		return errStopping
	}
	ss.from = from
	ss.eightBit = opts != nil && opts.Body == smtp.Body8BitMIME
	ss.rcpts = nil
	return nil
}

// Rcpt adds a recipient if it is accepted: 550 5.7.1 for any other.
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if !accepts(ss.srv.cfg.Accept, to) {
		ss.srv.cfg.Logf("refused recipient <%s> from %s", commentSafe(to), ss.conn.Conn().RemoteAddr())
		return errNotAccepted
	}
	ss.rcpts = append(ss.rcpts, to)
	return nil
}

// Data receives, bounds, judges, stores and reports one message.
func (ss *session) Data(r io.Reader) error {
	srv := ss.srv
	ss.conn.Conn().SetReadDeadline(srv.cfg.Now().Add(srv.cfg.Limits.DataTimeout))
	raw, err := readMessage(r, srv.cfg.Limits)
	if err == nil {
		err = checkMIME(raw, srv.cfg.Limits)
	}
	if err != nil {
		srv.cfg.Logf("rejected a message from %s: %v", ss.conn.Conn().RemoteAddr(), err)
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			ss.conn.Close() // the data timeout ends the session
		}
		return err
	}
	if !srv.beginJudging() {
		return errStopping
	}
	defer srv.judging.Done()
	env := ss.envelope()
	id := queueID()
	ctx, cancel := context.WithTimeout(srv.ctx, srv.cfg.Limits.JudgeTimeout)
	v := srv.cfg.Judge(ctx, env, raw)
	cancel()
	if v == nil {
		v = &message.Verdict{}
	}
	res := newResult(id, env, raw, v)
	if srv.maildir != nil {
		data := storedCopy(v.AuthResults, receivedHeader(env, srv.cfg.Hostname, id), raw)
		if res.Stored, err = srv.maildir.Store(data, env.ReceivedAt); err != nil {
			srv.cfg.Logf("storing message %s: %v", id, err)
			return errLocal
		}
	}
	srv.cfg.OnMessage(res)
	return nil
}

// envelope is what the session said about the message being received.
func (ss *session) envelope() message.Envelope {
	env := message.Envelope{Helo: ss.conn.Hostname(), MailFrom: ss.from,
		Rcpts: append([]string(nil), ss.rcpts...), EightBit: ss.eightBit, ReceivedAt: ss.srv.cfg.Now()}
	if a, ok := ss.conn.Conn().RemoteAddr().(*net.TCPAddr); ok {
		env.ClientIP = a.AddrPort().Addr().Unmap()
	} else if ap, err := netip.ParseAddrPort(ss.conn.Conn().RemoteAddr().String()); err == nil {
		env.ClientIP = ap.Addr().Unmap()
	}
	if st, ok := ss.conn.TLSConnectionState(); ok {
		env.TLS = &st
	}
	return env
}

// queueID is a random identifier of one received message.
func queueID() string {
	b := make([]byte, 6)
	rand.Read(b) // never fails (crypto/rand)
	return strings.ToUpper(hex.EncodeToString(b))
}

// Reset discards the transaction.
func (ss *session) Reset() {
	ss.from, ss.eightBit, ss.rcpts = "", false, nil
}

// Logout ends the session; nothing is held.
func (ss *session) Logout() error { return nil }
