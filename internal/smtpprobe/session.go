package smtpprobe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/mailcheck/mailcheck/internal/dialogue"
	"github.com/mailcheck/mailcheck/internal/sanitize"
)

// session is one Probe: the protocol-neutral connection (dialogue) and
// the SMTP stages run over it, in order, each recording what it saw in
// res. A stage that stops the session returns the error fail recorded.
type session struct {
	*dialogue.Session
	cfg Config
	res *Result
	tc  *textConn
}

// newSession opens the session (its clock starts) for cfg, with its
// defaults filled in.
func newSession(ctx context.Context, cfg Config) *session {
	res := &Result{Host: cfg.Host, Address: cfg.Address, Mode: cfg.Mode.String()}
	tr := dialogue.NewTranscript(cfg.Trace, fmt.Sprintf("smtp %s[%s] ", cfg.Host, cfg.Address))
	return &session{Session: dialogue.Open(ctx, cfg.Address, cfg.Timeout, smtp, tr), cfg: cfg, res: res}
}

// close ends the session and completes the result.
func (s *session) close() {
	s.Close()
	s.res.Transcript = s.Tr.Lines()
	s.res.Duration = time.Since(s.Start)
}

// fail records that the session stopped at stage with err (not nil), and
// returns the error kept.
func (s *session) fail(stage string, err error) error {
	if cut := s.Cut(stage, fromPeer(err)); cut != nil {
		// Whatever the read or write said (an i/o timeout), the
		// caller ended the session: it is no verdict on the server.
		err = cut
		if s.res.TLSError != "" {
			s.res.TLSError = err.Error()
		}
	}
	s.res.Stage, s.res.Err = stage, dialogue.CleanError(err)
	s.Tr.Note("stopped at %s: %v", stage, err)
	return s.res.Err
}

// dial connects (StageConnect).
func (s *session) dial() error {
	s.Tr.Note("connecting to %s (%s)", s.cfg.Address, s.cfg.Mode)
	conn, err := s.Dial(s.cfg.Dialer)
	if err != nil {
		return s.fail(StageConnect, err)
	}
	s.res.Connected = true
	if la := conn.LocalAddr(); la != nil {
		s.res.LocalAddr = la.String()
	}
	s.tc = newTextConn(conn, s.cfg.Limits, s.Tr)
	return nil
}

// implicitTLS runs the handshake first on port 465 (StageTLS).
func (s *session) implicitTLS() error {
	if s.cfg.Mode != Implicit {
		return nil
	}
	return s.handshake()
}

// banner reads the greeting (StageBanner).
func (s *session) banner() error {
	var err error
	s.res.Banner, err = s.tc.readReply()
	s.res.BannerDelay = time.Since(s.Start)
	if err != nil {
		return s.fail(StageBanner, err)
	}
	if f := strings.Fields(s.res.Banner.Lines[0]); len(f) > 0 {
		s.res.BannerHost = sanitize.Truncate(f[0], maxBannerHost)
	}
	if s.res.Banner.Code != 220 {
		return s.fail(StageBanner, answered(fmt.Errorf("greeting %s", s.res.Banner)))
	}
	return nil
}

// ehlo greets (StageEHLO) and records the extensions: AUTH counts as
// under TLS on port 465.
func (s *session) ehlo() error {
	ext, err := greet(s.tc, s.res, s.cfg.HeloName, false)
	if err != nil {
		return s.fail(StageEHLO, err)
	}
	s.res.Extensions = ext
	if a := authMechs(ext); a != nil {
		if s.cfg.Mode == Implicit {
			s.res.AuthAfterTLS = a
		} else {
			s.res.AuthBeforeTLS = a
		}
	}
	s.res.StartTLSOffered = hasExt(ext, "STARTTLS")
	return nil
}

// relayTest, on port 25 with Config.RelayRcpt set, sends MAIL FROM:<>,
// RCPT TO the outside recipient when MAIL was accepted, then RSET
// (StageRelay).
func (s *session) relayTest() error {
	if s.cfg.Mode != Relay || s.cfg.RelayRcpt == "" {
		return nil
	}
	var err error
	s.res.RelayTo = s.cfg.RelayRcpt
	s.res.RelayMail, err = s.tc.cmd("MAIL FROM:<>")
	if err != nil {
		return s.fail(StageRelay, err)
	}
	if s.res.RelayMail.Class() == 2 {
		s.res.RelayRcpt, err = s.tc.cmd("RCPT TO:<" + s.cfg.RelayRcpt + ">")
		if err != nil {
			return s.fail(StageRelay, err)
		}
	}
	if _, err := s.tc.cmd("RSET"); err != nil {
		return s.fail(StageRelay, err)
	}
	return nil
}

// submissionTest, on port 587, sends MAIL before STARTTLS to see whether
// the server requires TLS, and RSET when it was accepted (StageMail).
func (s *session) submissionTest() error {
	if s.cfg.Mode != Submission {
		return nil
	}
	var err error
	s.res.MailBeforeTLS, err = s.tc.cmd("MAIL FROM:<>")
	if err != nil {
		return s.fail(StageMail, err)
	}
	if s.res.MailBeforeTLS.Class() == 2 {
		if _, err := s.tc.cmd("RSET"); err != nil {
			return s.fail(StageMail, err)
		}
	}
	return nil
}

// startTLS, when the server offers it (not on 465), sends STARTTLS
// (StageStartTLS), runs the handshake (StageTLS) and greets again
// (StageEHLOTLS).
func (s *session) startTLS() error {
	if s.cfg.Mode == Implicit || !s.res.StartTLSOffered {
		return nil
	}
	var err error
	s.res.StartTLS, err = s.tc.cmd("STARTTLS")
	if err != nil {
		return s.fail(StageStartTLS, err)
	}
	if s.res.StartTLS.Code != 220 {
		s.res.TLSError = fmt.Sprintf("the server advertised STARTTLS but answered %s", s.res.StartTLS)
		return s.fail(StageStartTLS, answered(fmt.Errorf("%w: %s", ErrNotTLS, s.res.StartTLS)))
	}
	if n := s.tc.r.Buffered(); n > 0 {
		// Anything sent before the handshake is outside TLS
		// (response injection); it must not be read as protected.
		s.Tr.Note("discarding %d bytes the server sent before the TLS handshake", n)
	}
	if err := s.handshake(); err != nil {
		return err
	}
	ext, err := greet(s.tc, s.res, s.cfg.HeloName, true)
	if err != nil {
		return s.fail(StageEHLOTLS, err)
	}
	s.res.ExtensionsTLS = ext
	s.res.AuthAfterTLS = authMechs(ext)
	return nil
}

// handshake runs the TLS client handshake on the connection (StageTLS)
// and swaps the text connection to the TLS stream.
func (s *session) handshake() error {
	host := s.cfg.Host
	if host == "" {
		host, _, _ = net.SplitHostPort(s.cfg.Address)
	}
	tconn, info, err := s.Handshake(s.tc.conn, host, s.cfg.RootCAs, s.cfg.Now)
	if err != nil {
		s.res.TLSError = sanitize.Line("TLS handshake failed: "+err.Error(), maxErrText)
		return s.fail(StageTLS, errors.New(s.res.TLSError))
	}
	s.res.TLS = info
	s.tc.conn = tconn
	s.tc.r.Reset(tconn)
	return nil
}

// quit ends the dialogue; the answers are in, so a server that hangs up
// on QUIT is harmless.
func (s *session) quit() {
	if _, err := s.tc.cmd("QUIT"); err != nil && !errors.Is(err, ErrClosed) {
		s.Tr.Note("QUIT: %v", err)
	}
}
