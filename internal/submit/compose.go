// Package submit is the sending half of `mailcheck send-test`: it
// composes a realistic test message with go-message (text and HTML
// alternatives, a UTF-8 subject, Message-ID and Date), DKIM-signs it
// with a given key and checks that key against the selector's published
// record, and submits it through the user's server with STARTTLS or
// implicit TLS and AUTH only after TLS (RFC 8314, RFC 6409), judging the
// submission dialogue in the audit's finding shape.
package submit

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"github.com/emersion/go-message/mail"
)

// Message is what the test message is made of.
type Message struct {
	From     string    // the author address, also the envelope sender
	To       string    // the recipient address
	Hostname string    // the right-hand side of the Message-ID
	Date     time.Time // the Date field
	Subject  string    // UTF-8; "" for DefaultSubject
}

// DefaultSubject is the test message's subject: non-ASCII on purpose, so
// that its RFC 2047 encoding is exercised.
const DefaultSubject = "mailcheck send-test: Grüße, 你好, ✓"

// Compose writes the message as multipart/alternative (text/plain and
// text/html, UTF-8, quoted-printable) with CRLF line ends, and returns it
// with its Message-ID (without angle brackets).
func Compose(m Message) ([]byte, string, error) {
	if m.Subject == "" {
		m.Subject = DefaultSubject
	}
	from, err := mail.ParseAddress(m.From)
	if err != nil {
		return nil, "", fmt.Errorf("from %q: %w", m.From, err)
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, "", fmt.Errorf("to %q: %w", m.To, err)
	}
	var h mail.Header
	h.SetAddressList("From", []*mail.Address{{Name: "mailcheck send-test", Address: from.Address}})
	h.SetAddressList("To", []*mail.Address{to})
	h.SetDate(m.Date)
	h.SetSubject(m.Subject)
	if err := h.GenerateMessageIDWithHostname(m.Hostname); err != nil {
		return nil, "", err
	}
	id, _ := h.MessageID()
	var b bytes.Buffer
	if err := writeBody(&b, h, id); err != nil {
		return nil, "", err
	}
	return b.Bytes(), id, nil
}

// writeBody writes the alternatives.
func writeBody(w io.Writer, h mail.Header, id string) error {
	mw, err := mail.CreateInlineWriter(w, h)
	if err != nil {
		return err
	}
	text := "This is a test message from mailcheck send-test.\r\n\r\n" +
		"Message-ID: <" + id + ">\r\nUTF-8 check: Grüße, 你好, ✓\r\n"
	html := "<!DOCTYPE html>\r\n<html><body>\r\n<p>This is a test message from <b>mailcheck send-test</b>.</p>\r\n" +
		"<p>Message-ID: &lt;" + id + "&gt;<br>UTF-8 check: Grüße, 你好, ✓</p>\r\n</body></html>\r\n"
	for _, p := range []struct{ typ, body string }{{"text/plain", text}, {"text/html", html}} {
		var ph mail.InlineHeader
		ph.SetContentType(p.typ, map[string]string{"charset": "utf-8"})
		pw, err := mw.CreatePart(ph)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(pw, p.body); err != nil {
			return err
		}
		if err := pw.Close(); err != nil {
			return err
		}
	}
	return mw.Close()
}
