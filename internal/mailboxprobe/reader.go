package mailboxprobe

import (
	"bufio"
	"fmt"
	"net"
	"strings"

	"github.com/mailcheck/mailcheck/internal/dialogue"
	"github.com/mailcheck/mailcheck/internal/sanitize"
)

// Bounds on peer text kept in a Result, after escaping.
const (
	maxText    = 1024 // one response line's text
	maxCaps    = 200  // capabilities kept from one listing
	maxErrText = 600  // an error's text
)

// textConn reads responses and writes commands over a connection.
type textConn struct {
	conn   net.Conn
	r      *bufio.Reader
	limits Limits
	tr     *dialogue.Transcript
}

func newTextConn(c net.Conn, l Limits, tr *dialogue.Transcript) *textConn {
	return &textConn{conn: c, r: bufio.NewReaderSize(c, 4096), limits: l, tr: tr}
}

// readLine reads one line of at most MaxLineLen bytes, without CRLF.
func (t *textConn) readLine() (string, error) {
	return proto.ReadLine(t.r, t.limits.MaxLineLen, t.tr)
}

// send writes one command line.
func (t *textConn) send(line string) error { return proto.WriteLine(t.conn, t.tr, line) }

// imapResponse is an IMAP server's complete response to one command:
// the untagged lines (without "* ") and the tagged status line.
type imapResponse struct {
	Untagged []string
	Status   string // OK, NO or BAD (upper case)
	Text     string // the tagged line's text, sanitized
}

// readIMAPGreeting reads the greeting (RFC 3501 §7.1): "* OK", "* PREAUTH"
// or "* BYE" (a refusal), returned whole and sanitized.
func (t *textConn) readIMAPGreeting() (string, error) {
	line, err := t.readLine()
	if err != nil {
		return "", err
	}
	status, _, ok := imapUntagged(line)
	text := sanitize.Line(line, maxText)
	switch {
	case !ok:
		return "", fmt.Errorf("%w: the greeting is not an untagged IMAP response: %q", ErrMalformed, truncate(text, 80))
	case status == "BYE":
		return text, fmt.Errorf("%w: the greeting is %s", ErrRefused, text)
	case status != "OK" && status != "PREAUTH":
		return "", fmt.Errorf("%w: the greeting is %q, not OK, PREAUTH or BYE", ErrMalformed, truncate(text, 80))
	}
	return text, nil
}

// imapUntagged splits "* WORD rest" into WORD (upper case) and rest.
func imapUntagged(line string) (word, rest string, ok bool) {
	if !strings.HasPrefix(line, "* ") {
		return "", "", false
	}
	word, rest, _ = strings.Cut(line[2:], " ")
	return strings.ToUpper(word), rest, word != ""
}

// imapCommand sends "tag command" and reads the response up to the line
// tagged tag, at most MaxReplyLines lines.
func (t *textConn) imapCommand(tag, command string) (*imapResponse, error) {
	if err := t.send(tag + " " + command); err != nil {
		return nil, err
	}
	return t.readIMAPResponse(tag)
}

// readIMAPResponse reads untagged lines up to the line tagged tag. A
// continuation request or any other line is malformed: the probe sends
// no literal.
func (t *textConn) readIMAPResponse(tag string) (*imapResponse, error) {
	resp := &imapResponse{}
	for n := 0; n < t.limits.MaxReplyLines; n++ {
		line, err := t.readLine()
		if err != nil {
			return resp, err
		}
		if _, _, ok := imapUntagged(line); ok {
			resp.Untagged = append(resp.Untagged, line[2:])
			continue
		}
		rest, ok := strings.CutPrefix(line, tag+" ")
		if !ok {
			return resp, fmt.Errorf("%w: neither untagged nor tagged %s: %q", ErrMalformed, tag, truncate(sanitize.Line(line, maxText), 80))
		}
		status, text, _ := strings.Cut(rest, " ")
		resp.Status, resp.Text = strings.ToUpper(status), sanitize.Line(text, maxText)
		if resp.Status != "OK" && resp.Status != "NO" && resp.Status != "BAD" {
			return resp, fmt.Errorf("%w: tagged status %q", ErrMalformed, truncate(sanitize.Line(status, maxText), 40))
		}
		return resp, nil
	}
	return resp, fmt.Errorf("%w (over %d lines)", ErrTooManyLines, t.limits.MaxReplyLines)
}

// imapCapabilities returns the atoms of the CAPABILITY lines of resp.
func imapCapabilities(resp *imapResponse) []string {
	caps := []string{}
	for _, u := range resp.Untagged {
		word, rest, _ := strings.Cut(u, " ")
		if !strings.EqualFold(word, "CAPABILITY") {
			continue
		}
		for _, a := range strings.Fields(rest) {
			if len(caps) < maxCaps {
				caps = append(caps, sanitize.Line(a, 100))
			}
		}
	}
	return caps
}

// readPOP3Status reads one status line (RFC 1939 §3): "+OK text" or
// "-ERR text". A -ERR is returned with ErrRefused.
func (t *textConn) readPOP3Status() (string, error) {
	line, err := t.readLine()
	if err != nil {
		return "", err
	}
	text := sanitize.Line(line, maxText)
	switch {
	case line == "+OK" || strings.HasPrefix(line, "+OK "):
		return text, nil
	case line == "-ERR" || strings.HasPrefix(line, "-ERR "):
		return text, fmt.Errorf("%w: %s", ErrRefused, text)
	}
	return "", fmt.Errorf("%w: not +OK or -ERR: %q", ErrMalformed, truncate(text, 80))
}

// pop3Command sends command and reads its status line.
func (t *textConn) pop3Command(command string) (string, error) {
	if err := t.send(command); err != nil {
		return "", err
	}
	return t.readPOP3Status()
}

// readPOP3Lines reads the body of a multi-line response up to the line
// ".", without dot-stuffing (RFC 1939 §3), at most MaxReplyLines lines.
func (t *textConn) readPOP3Lines() ([]string, error) {
	out := []string{}
	for n := 0; n <= t.limits.MaxReplyLines; n++ {
		line, err := t.readLine()
		if err != nil {
			return out, err
		}
		if line == "." {
			return out, nil
		}
		line = strings.TrimPrefix(line, ".")
		if len(out) < maxCaps {
			out = append(out, sanitize.Line(line, maxText))
		}
	}
	return out, fmt.Errorf("%w (over %d lines)", ErrTooManyLines, t.limits.MaxReplyLines)
}

// pop3Capabilities upper-cases the keyword of each CAPA line.
func pop3Capabilities(lines []string) []string {
	caps := []string{}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		f[0] = strings.ToUpper(f[0])
		caps = append(caps, strings.Join(f, " "))
	}
	return caps
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
