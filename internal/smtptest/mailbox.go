package smtptest

import (
	"bufio"
	"crypto/tls"
	"net"
	"strings"
	"time"
)

// Mailbox is a scripted fake IMAP or POP3 server (for the imap and pop3
// checks): a greeting, then for each command line the reply whose key is
// the longest prefix of the command (upper case, without the IMAP tag).
// In replies, "TAG" stands for the client's IMAP tag and "\n" for CRLF; a
// reply of Hang sends nothing and waits.
type Mailbox struct {
	IMAP     bool              // IMAP (tagged commands); else POP3
	Greeting string            // "* OK ready", "+OK ready"
	Replies  map[string]string // before TLS (or under implicit TLS)
	// TLS, when set, is used for STARTTLS/STLS answered with OK, or from
	// the first byte when Implicit. Nil with a STARTTLS answered OK
	// answers the client's hello with garbage.
	TLS      *tls.Config
	Implicit bool
	AfterTLS map[string]string // replies once STARTTLS is done; nil: Replies
}

// Handler returns the fake's connection handler (StartFake).
func (m Mailbox) Handler() Handler {
	return func(c net.Conn, done <-chan struct{}) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if m.Implicit {
			tc := tls.Server(c, m.TLS)
			if tc.Handshake() != nil {
				return
			}
			c = tc
		}
		c.Write([]byte(m.Greeting + "\r\n"))
		r := bufio.NewReader(c)
		if !m.answer(c, r, m.Replies, done) || m.Implicit {
			return
		}
		if m.TLS == nil {
			// Garbage in answer to the client's hello.
			r.Read(make([]byte, 512))
			c.Write([]byte("this is not a TLS handshake\r\n\x00\xff"))
			<-done
			return
		}
		tc := tls.Server(c, m.TLS)
		if tc.Handshake() != nil {
			return
		}
		after := m.AfterTLS
		if after == nil {
			after = m.Replies
		}
		m.answer(tc, bufio.NewReader(tc), after, done)
	}
}

// answer replies to commands until the end of the session, and reports
// whether it ended with a STARTTLS (STLS) answered OK.
func (m Mailbox) answer(c net.Conn, r *bufio.Reader, replies map[string]string, done <-chan struct{}) bool {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return false
		}
		tag, cmd := "", strings.ToUpper(strings.TrimSpace(line))
		if m.IMAP {
			tag, cmd, _ = strings.Cut(cmd, " ")
			tag = strings.ToLower(tag)
		}
		rep := m.reply(cmd, replies)
		if rep == Hang {
			<-done
			return false
		}
		c.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(rep, "TAG", tag), "\n", "\r\n") + "\r\n"))
		ok := !strings.Contains(rep, "TAG NO") && !strings.Contains(rep, "TAG BAD") && !strings.HasPrefix(rep, "-ERR")
		switch {
		case cmd == "LOGOUT" || cmd == "QUIT":
			return false
		case (cmd == "STARTTLS" || cmd == "STLS") && ok:
			return true
		}
	}
}

// reply is the scripted reply to cmd, or the fake's default.
func (m Mailbox) reply(cmd string, replies map[string]string) string {
	rep, best := "", 0
	for k, v := range replies {
		if strings.HasPrefix(cmd, k) && len(k) > best {
			rep, best = v, len(k)
		}
	}
	switch {
	case best > 0:
		return rep
	case m.IMAP && cmd == "LOGOUT":
		return "* BYE logging out\nTAG OK LOGOUT completed"
	case m.IMAP && cmd == "STARTTLS":
		return "TAG OK begin TLS negotiation now"
	case m.IMAP:
		return "TAG BAD unknown command"
	case cmd == "QUIT":
		return "+OK bye"
	case cmd == "STLS":
		return "+OK begin TLS negotiation"
	}
	return "-ERR unknown command"
}
