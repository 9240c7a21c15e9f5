package mta

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailcheck/mailcheck/internal/message"
	"github.com/mailcheck/mailcheck/internal/sanitize"
)

// The replies to a message beyond a bound of its content. The size bound
// itself is go-smtp's (smtp.ErrDataTooLarge, 552 5.3.4).
var (
	errHeaderTooBig = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
		Message: "Header section too large"}
	errTooManyFields = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
		Message: "Too many header fields"}
	errMIMETooDeep = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
		Message: "MIME structure nested too deep"}
	errMIMETooManyParts = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
		Message: "Too many MIME parts"}
)

// readMessage reads the message data, checking the header section as it
// arrives: a header that never ends is refused at MaxHeaderBytes, not
// at the message size bound. The size bound is the reader's (go-smtp).
func readMessage(r io.Reader, l Limits) ([]byte, error) {
	br := bufio.NewReaderSize(r, 4096)
	var buf bytes.Buffer
	fields, lineStart := 0, true
	for {
		line, err := br.ReadSlice('\n')
		buf.Write(line)
		if buf.Len() > l.MaxHeaderBytes {
			return nil, errHeaderTooBig
		}
		if lineStart && len(line) > 0 {
			if isBlankLine(line) {
				break // end of the header section
			}
			if line[0] != ' ' && line[0] != '\t' {
				if fields++; fields > l.MaxHeaderFields {
					return nil, errTooManyFields
				}
			}
		}
		if err == io.EOF {
			return buf.Bytes(), nil
		}
		if err != nil && err != bufio.ErrBufferFull {
			return nil, err
		}
		lineStart = err == nil
	}
	if _, err := buf.ReadFrom(br); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func isBlankLine(line []byte) bool {
	return string(line) == "\r\n" || string(line) == "\n"
}

// checkMIME walks the multipart structure without decoding it, refusing
// a message nested deeper than MaxMIMEDepth or with more than
// MaxMIMEParts parts. A malformed structure is not refused here: the
// judge reports it.
func checkMIME(raw []byte, l Limits) error {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil
	}
	parts := 0
	return walkMIME(textproto.MIMEHeader(msg.Header), msg.Body, 0, &parts, l)
}

func walkMIME(h textproto.MIMEHeader, body io.Reader, depth int, parts *int, l Limits) error {
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return nil
	}
	if depth >= l.MaxMIMEDepth {
		return errMIMETooDeep
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err != nil {
			return nil // the end, or a malformed part: the judge's to report
		}
		if *parts++; *parts > l.MaxMIMEParts {
			return errMIMETooManyParts
		}
		if err := walkMIME(p.Header, p, depth+1, parts, l); err != nil {
			return err
		}
	}
}

// receivedHeader is the trace field prepended to the stored copy (RFC
// 5321 §4.4), with the protocol keywords of RFC 3848.
func receivedHeader(env message.Envelope, host, id string) string {
	proto := "ESMTP"
	tlsNote := ""
	if env.TLS != nil {
		proto = "ESMTPS"
		tlsNote = fmt.Sprintf("\r\n\t(using %s with cipher %s)",
			tls.VersionName(env.TLS.Version), tls.CipherSuiteName(env.TLS.CipherSuite))
	}
	lit := env.ClientIP.String()
	if env.ClientIP.Is6() {
		lit = "IPv6:" + lit
	}
	return fmt.Sprintf("Received: from %s ([%s])\r\n\tby %s (mailcheck) with %s id %s%s;\r\n\t%s",
		commentSafe(env.Helo), lit, host, proto, id, tlsNote,
		env.ReceivedAt.Format(time.RFC1123Z))
}

// commentSafe makes a client-given name safe inside a header field: one
// line of printable ASCII without parentheses, at most 255 octets.
func commentSafe(s string) string {
	s = sanitize.Line(s, 255)
	return strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e || r == '(' || r == ')' || r == '\\' {
			return '?'
		}
		return r
	}, s)
}

// storedCopy is the message as stored: our Authentication-Results and
// Received fields, then the message as received.
func storedCopy(authResults, received string, raw []byte) []byte {
	var b bytes.Buffer
	if authResults != "" {
		b.WriteString(strings.TrimRight(authResults, "\r\n"))
		b.WriteString("\r\n")
	}
	b.WriteString(received)
	b.WriteString("\r\n")
	b.Write(raw)
	return b.Bytes()
}
