package mailboxprobe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/mailcheck/mailcheck/internal/dialogue"
	"github.com/mailcheck/mailcheck/internal/sanitize"
)

// session is one Probe: the protocol-neutral connection (dialogue) and
// the IMAP or POP3 stages run over it, in order, each recording what it
// saw in res. A stage that stops the session returns the error fail
// recorded.
type session struct {
	*dialogue.Session
	cfg Config
	res *Result
	tc  *textConn
	tag int
}

// newSession opens the session (its clock starts) for cfg.
func newSession(ctx context.Context, cfg Config) *session {
	name := cfg.Protocol.String()
	if cfg.Implicit {
		name += "s"
	}
	res := &Result{Protocol: name, Host: cfg.Host, Address: cfg.Address, Implicit: cfg.Implicit}
	tr := dialogue.NewTranscript(cfg.Trace, fmt.Sprintf("%s %s[%s] ", cfg.Protocol, cfg.Host, cfg.Address))
	return &session{Session: dialogue.Open(ctx, cfg.Address, cfg.Timeout, proto, tr), cfg: cfg, res: res}
}

// close ends the session and completes the result.
func (s *session) close() {
	s.Close()
	s.res.Transcript = s.Tr.Lines()
	s.res.Duration = time.Since(s.Start)
}

// fail records that the session stopped at stage with err, and returns
// the error kept.
func (s *session) fail(stage string, err error) error {
	if cut := s.Cut(stage, fromPeer(err)); cut != nil {
		err = cut
		if s.res.TLSError != "" {
			s.res.TLSError = err.Error()
		}
	}
	err = dialogue.CleanError(err)
	s.res.Stage, s.res.Err = stage, err
	s.Tr.Note("stopped at %s: %v", stage, err)
	return err
}

// nextTag returns a new IMAP command tag.
func (s *session) nextTag() string {
	s.tag++
	return fmt.Sprintf("a%d", s.tag)
}

// dial connects (StageConnect).
func (s *session) dial() error {
	s.Tr.Note("connecting to %s (%s)", s.cfg.Address, s.res.Protocol)
	conn, err := s.Dial(s.cfg.Dialer)
	if err != nil {
		return s.fail(StageConnect, err)
	}
	s.res.Connected = true
	s.tc = newTextConn(conn, s.cfg.Limits, s.Tr)
	return nil
}

// implicitTLS runs the handshake first on 993 and 995 (StageTLS).
func (s *session) implicitTLS() error {
	if !s.cfg.Implicit {
		return nil
	}
	return s.handshake()
}

// greeting reads the server's greeting (StageGreeting).
func (s *session) greeting() error {
	var err error
	if s.cfg.Protocol == IMAP {
		s.res.Greeting, err = s.tc.readIMAPGreeting()
	} else {
		s.res.Greeting, err = s.tc.readPOP3Status()
	}
	if err != nil {
		return s.fail(StageGreeting, err)
	}
	return nil
}

// capability asks for the capabilities before TLS, or under implicit
// TLS (StageCapability), and notes whether STARTTLS (STLS) is offered.
func (s *session) capability() error {
	caps, err := s.capabilities()
	if err != nil {
		return s.fail(StageCapability, err)
	}
	s.res.Capabilities = caps
	s.res.StartTLSOffered = Has(caps, "STARTTLS") || Has(caps, "STLS")
	return nil
}

// capabilities sends CAPABILITY (IMAP) or CAPA (POP3). A POP3 server
// may not know CAPA (RFC 2449 is an extension): a -ERR sets CapaRefused
// and lists nothing.
func (s *session) capabilities() ([]string, error) {
	if s.cfg.Protocol == IMAP {
		resp, err := s.tc.imapCommand(s.nextTag(), "CAPABILITY")
		if err != nil {
			return nil, err
		}
		if resp.Status != "OK" {
			return nil, fmt.Errorf("%w: CAPABILITY answered %s %s", ErrRefused, resp.Status, resp.Text)
		}
		return imapCapabilities(resp), nil
	}
	_, err := s.tc.pop3Command("CAPA")
	if errors.Is(err, ErrRefused) {
		s.res.CapaRefused = true
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	lines, err := s.tc.readPOP3Lines()
	if err != nil {
		return nil, err
	}
	return pop3Capabilities(lines), nil
}

// startTLS, in clear text when the server offers it, sends STARTTLS
// (STLS) (StageStartTLS), runs the handshake (StageTLS) and asks for the
// capabilities again (StageCapabilityTLS): they may change under TLS.
func (s *session) startTLS() error {
	if s.cfg.Implicit || !s.res.StartTLSOffered {
		return nil
	}
	if err := s.startTLSCommand(); err != nil {
		if errors.Is(err, ErrRefused) {
			s.res.TLSError = sanitize.Line(fmt.Sprintf("the server advertised STARTTLS but answered %q", s.res.StartTLS), maxErrText)
		}
		return s.fail(StageStartTLS, err)
	}
	if n := s.tc.r.Buffered(); n > 0 {
		// Anything sent before the handshake is outside TLS
		// (response injection); it must not be read as protected.
		s.Tr.Note("discarding %d bytes the server sent before the TLS handshake", n)
	}
	if err := s.handshake(); err != nil {
		return err
	}
	caps, err := s.capabilities()
	if err != nil {
		return s.fail(StageCapabilityTLS, err)
	}
	s.res.CapabilitiesTLS = caps
	return nil
}

// startTLSCommand sends STARTTLS (IMAP, RFC 3501 §6.2.1) or STLS (POP3,
// RFC 2595 §4) and reads the answer.
func (s *session) startTLSCommand() error {
	if s.cfg.Protocol == POP3 {
		var err error
		s.res.StartTLS, err = s.tc.pop3Command("STLS")
		return err
	}
	resp, err := s.tc.imapCommand(s.nextTag(), "STARTTLS")
	if err != nil {
		return err
	}
	s.res.StartTLS = resp.Status + " " + resp.Text
	if resp.Status != "OK" {
		return fmt.Errorf("%w: STARTTLS answered %s", ErrRefused, s.res.StartTLS)
	}
	return nil
}

// handshake runs the TLS client handshake (StageTLS) and swaps the text
// connection to the TLS stream.
func (s *session) handshake() error {
	host := s.cfg.Host
	if host == "" {
		host, _, _ = net.SplitHostPort(s.cfg.Address)
	}
	tconn, info, err := s.Handshake(s.tc.conn, host, s.cfg.RootCAs, s.cfg.Now)
	if err != nil {
		err = fmt.Errorf("TLS handshake failed: %w", err)
		s.res.TLSError = sanitize.Line(err.Error(), maxErrText)
		return s.fail(StageTLS, err)
	}
	s.res.TLS = info
	s.tc.conn = tconn
	s.tc.r.Reset(tconn)
	return nil
}

// logout ends the dialogue with LOGOUT (IMAP) or QUIT (POP3); the
// answers are in, so a server that hangs up here is harmless.
func (s *session) logout() {
	var err error
	if s.cfg.Protocol == IMAP {
		_, err = s.tc.imapCommand(s.nextTag(), "LOGOUT")
	} else {
		_, err = s.tc.pop3Command("QUIT")
	}
	if err != nil && !errors.Is(err, ErrClosed) {
		s.Tr.Note("logout: %v", err)
	}
}
