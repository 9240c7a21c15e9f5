package submit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/dialogue"
	"github.com/mailcheck/mailcheck/internal/sanitize"
	"github.com/mailcheck/mailcheck/internal/tlsinspect"
)

// Dialer opens the connection to the submission server; *net.Dialer is one.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Options say where and how to submit.
type Options struct {
	Addr     string         // HOST:PORT of the submission server
	Implicit bool           // TLS from the first byte (port 465, RFC 8314)
	Roots    *x509.CertPool // nil: the system roots
	// ServerName is the name the certificate must be valid for (and the
	// SNI); "": the host of Addr.
	ServerName string
	Helo       string        // the EHLO name after TLS
	User       string        // "": no AUTH
	Password   string        // never printed, never traced
	From       string        // the envelope sender
	To         []string      // the envelope recipients
	Dialer     Dialer        // nil: a net.Dialer
	Trace      io.Writer     // live transcript (--trace); nil: none
	Timeout    time.Duration // one command; 0: a minute
	Now        func() time.Time
}

// Result is what the submission showed.
type Result struct {
	Server     string             `json:"server"`
	TLS        *tlsinspect.Info   `json:"tls,omitempty"`
	Reply      string             `json:"reply,omitempty"` // the final reply to DATA
	Sent       bool               `json:"sent"`
	Findings   []findings.Finding `json:"findings"`
	Transcript []string           `json:"transcript"`
}

// Passed reports whether the message was accepted with no fail finding.
func (r *Result) Passed() bool {
	for _, f := range r.Findings {
		if f.Severity == findings.Fail || f.Severity == findings.Error {
			return false
		}
	}
	return r.Sent
}

// session is one submission in progress.
type session struct {
	o   Options
	res *Result
	rec *recorder
	c   *smtp.Client
	// stop ends the watch that closes the connection when ctx ends.
	stop func() bool
}

// Send submits raw and judges the dialogue. It refuses to authenticate
// or send over a connection without TLS or with a certificate that did
// not verify.
func Send(ctx context.Context, o Options, raw []byte) *Result {
	if o.Timeout <= 0 {
		o.Timeout = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Helo == "" {
		o.Helo = "localhost"
	}
	if o.Dialer == nil {
		o.Dialer = &net.Dialer{}
	}
	t := dialogue.NewTranscript(o.Trace, "")
	s := &session{o: o, res: &Result{Server: o.Addr, Findings: []findings.Finding{}},
		rec: &recorder{t: t, secrets: secrets(o.User, o.Password)}}
	if s.connect(ctx) && s.auth() {
		s.send(raw)
	}
	if s.c != nil {
		s.c.Quit()
		s.c.Close()
	}
	if s.stop != nil {
		s.stop()
	}
	s.res.Transcript = t.Lines()
	for i, f := range s.res.Findings {
		s.res.Findings[i] = f.Bounded()
	}
	return s.res
}

// secrets are the strings a trace must never show: the password and
// the AUTH PLAIN response in base64.
func secrets(user, pass string) []string {
	if pass == "" {
		return nil
	}
	return []string{pass, base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))}
}

// add appends a finding.
func (s *session) add(f findings.Finding) { s.res.Findings = append(s.res.Findings, f) }

// connect dials, secures the connection and says EHLO over TLS; false
// when nothing more may be done.
func (s *session) connect(ctx context.Context) bool {
	host, _, err := net.SplitHostPort(s.o.Addr)
	if err != nil {
		s.add(SpecConnect.New("%q is not HOST:PORT.", s.o.Addr))
		return false
	}
	if s.o.ServerName != "" {
		host = s.o.ServerName
	}
	conn, err := s.o.Dialer.DialContext(ctx, "tcp", s.o.Addr)
	if err != nil {
		s.add(SpecConnect.New("Could not connect to %s: %v.", s.o.Addr, err))
		return false
	}
	s.stop = context.AfterFunc(ctx, func() { conn.Close() })
	if s.o.Implicit {
		return s.implicit(ctx, conn, host)
	}
	return s.startTLS(conn, host)
}

// implicit runs the TLS handshake first (RFC 8314 §3.3).
func (s *session) implicit(ctx context.Context, conn net.Conn, host string) bool {
	s.rec.t.Note("TLS handshake (implicit TLS) with %s", s.o.Addr)
	tconn, st, err := tlsinspect.Handshake(ctx, conn, host)
	if err != nil {
		conn.Close()
		s.add(SpecTLSFailed.New("The TLS handshake with %s failed: %v.", s.o.Addr, err))
		return false
	}
	s.newClient(tconn)
	if err := s.c.Hello(s.o.Helo); err != nil {
		s.add(SpecConnect.New("The greeting or EHLO failed: %s.", describe(err)))
		return false
	}
	return s.judgeTLS(st, host)
}

// startTLS says EHLO in plain text, then STARTTLS (RFC 3207), then EHLO
// again over TLS.
func (s *session) startTLS(conn net.Conn, host string) bool {
	pc := &plainConn{Conn: conn, rec: s.rec}
	c, err := smtp.NewClientStartTLS(pc, tlsinspect.ClientConfig(host))
	if line, ok := pc.authOffered(); ok {
		s.add(SpecAuthPlaintext.New("AUTH is offered before STARTTLS: %s.", sanitize.Line(line, 200)).
			WithFix("Offer AUTH only over TLS (Postfix: smtpd_tls_auth_only = yes; Dovecot: disable_plaintext_auth = yes)."))
	}
	if err != nil {
		conn.Close()
		if strings.Contains(err.Error(), "STARTTLS") {
			s.add(SpecTLSMissing.New("%s does not offer STARTTLS: nothing was sent.", s.o.Addr).
				WithFix("Offer STARTTLS on the submission port (Postfix: smtpd_tls_security_level = encrypt on 587)."))
		} else {
			s.add(SpecConnect.New("The dialogue with %s failed before TLS: %s.", s.o.Addr, describe(err)))
		}
		return false
	}
	s.c = c
	c.DebugWriter = s.rec
	c.CommandTimeout = s.o.Timeout
	if err := c.Hello(s.o.Helo); err != nil {
		s.add(SpecTLSFailed.New("TLS with %s failed (handshake or EHLO after STARTTLS): %s.", s.o.Addr, describe(err)))
		return false
	}
	st, _ := c.TLSConnectionState()
	return s.judgeTLS(st, host)
}

// newClient makes the go-smtp client over an established connection.
func (s *session) newClient(conn net.Conn) {
	s.c = smtp.NewClient(conn)
	s.c.DebugWriter = s.rec
	s.c.CommandTimeout = s.o.Timeout
}

// judgeTLS states the TLS version and the certificate; false when the
// certificate did not verify (no password, no message for such a peer).
func (s *session) judgeTLS(st tls.ConnectionState, host string) bool {
	info := tlsinspect.Inspect(st, host, s.o.Roots, s.o.Now())
	s.res.TLS = info
	s.rec.t.Note("%s %s", info.Version, info.Cipher)
	if st.Version >= tls.VersionTLS12 {
		s.add(SpecTLSOK.New("The submission used %s with %s.", info.Version, info.Cipher))
	} else {
		s.add(SpecTLSOld.New("The server negotiated %s.", info.Version).WithFix("Allow TLS 1.2 and 1.3 only (RFC 8996)."))
	}
	leaf := "(no certificate)"
	if l := info.Leaf(); l != nil {
		leaf = fmt.Sprintf("%s, issued by %s", l.Subject, l.Issuer)
	}
	if info.Trusted && info.NameOK && !info.Expired && !info.NotYet {
		s.add(SpecCertOK.New("The certificate (%s) verified for %s.", leaf, host))
		return true
	}
	why := strings.Join(nonEmpty(info.TrustError, info.NameError), "; ")
	if info.Expired {
		why = strings.Join(nonEmpty("expired", why), "; ")
	}
	s.add(SpecCertBad.New("The certificate (%s) did not verify for %s: %s. Nothing was sent.", leaf, host, why).
		WithFix("Serve a certificate for %s from a trusted CA, or pass the private CA with --ca-file.", host))
	return false
}

// nonEmpty returns the non-empty strings of list.
func nonEmpty(list ...string) []string {
	var out []string
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// auth authenticates with AUTH PLAIN when a user is given, and states
// whether AUTH was offered only after TLS.
func (s *session) auth() bool {
	offered := s.c.SupportsAuth(sasl.Plain)
	if !hasFinding(s.res.Findings, SpecAuthPlaintext.ID) {
		if ok, _ := s.c.Extension("AUTH"); ok {
			s.add(SpecAuthAfterTLS.New("AUTH is offered only after TLS."))
		}
	}
	if s.o.User == "" {
		return true
	}
	if !offered {
		s.add(SpecAuthMissing.New("%s offers no AUTH PLAIN over TLS, and --auth-user was given.", s.o.Addr))
		return false
	}
	s.rec.mute(true)
	s.rec.t.Add(">", "AUTH PLAIN [credentials of "+s.o.User+" not shown]")
	err := s.c.Auth(sasl.NewPlainClient("", s.o.User, s.o.Password))
	s.rec.mute(false)
	if err != nil {
		s.rec.add("<", describe(err))
		s.add(SpecAuthFailed.New("AUTH PLAIN as %s was refused: %s.", s.o.User, describe(err)))
		return false
	}
	s.rec.t.Add("<", "235 [authentication succeeded]")
	s.add(SpecAuthOK.New("AUTH PLAIN as %s succeeded.", s.o.User))
	return true
}

// hasFinding reports whether list holds a finding of id.
func hasFinding(list []findings.Finding, id string) bool {
	for _, f := range list {
		if f.ID == id {
			return true
		}
	}
	return false
}

// send runs MAIL, RCPT and DATA.
func (s *session) send(raw []byte) {
	if err := s.c.Mail(s.o.From, nil); err != nil {
		s.add(SpecRejected.New("MAIL FROM:<%s> was refused: %s.", s.o.From, describe(err)))
		return
	}
	for _, to := range s.o.To {
		if err := s.c.Rcpt(to, nil); err != nil {
			s.add(SpecRejected.New("RCPT TO:<%s> was refused: %s.", to, describe(err)))
			return
		}
	}
	w, err := s.c.Data()
	if err != nil {
		s.add(SpecRejected.New("DATA was refused: %s.", describe(err)))
		return
	}
	s.rec.mute(true)
	s.rec.t.Add(">", fmt.Sprintf("[the message: %d octets]", len(raw)))
	_, err = w.Write(raw)
	var resp *smtp.DataResponse
	if err == nil {
		resp, err = w.CloseWithResponse()
	}
	s.rec.mute(false)
	if err != nil {
		s.rec.add("<", describe(err))
		s.add(SpecRejected.New("The message was refused at the end of DATA: %s.", describe(err)))
		return
	}
	s.res.Sent, s.res.Reply = true, sanitize.Line("250 "+resp.StatusText, 512)
	s.rec.add("<", s.res.Reply)
	s.add(SpecAccepted.New("The server accepted the message: %s.", s.res.Reply).WithRecords(s.res.Reply))
}

// describe renders an error, an SMTP reply with its code.
func describe(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		code := fmt.Sprintf("%d", se.Code)
		if se.EnhancedCode != (smtp.EnhancedCode{}) && se.EnhancedCode != smtp.NoEnhancedCode {
			code += fmt.Sprintf(" %d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		}
		return sanitize.Line(code+" "+se.Message, 512)
	}
	return sanitize.Line(err.Error(), 512)
}
