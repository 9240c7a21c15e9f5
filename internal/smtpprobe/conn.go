// Package smtpprobe is mailcheck's SMTP client for auditing mail servers
// (RFC 5321, STARTTLS RFC 3207, implicit TLS for submission RFC 8314): one
// session per address and port that records what the server said, with a
// deadline on the whole session and caps on everything it reads, so a
// hostile or broken peer can neither hang nor flood the caller.
//
// It does not use go-smtp's client: an audit needs the raw transcript,
// the exact reply codes and lines, the state reached when a session breaks
// (the banner of a server that then drops the connection), size caps on
// reply lines and reply length, and a certificate inspected even when it
// does not verify. Those are a small line reader over net.Conn; go-smtp
// would hide all of them. It never sends DATA and never sends credentials.
package smtpprobe

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/mailcheck/mailcheck/internal/dialogue"
	"github.com/mailcheck/mailcheck/internal/sanitize"
)

// Limits cap what a session reads from the peer.
type Limits = dialogue.Limits

// DefaultLimits are generous for real servers and small for a flood.
var DefaultLimits = dialogue.DefaultLimits

// Sentinel errors of a session; test with errors.Is.
var (
	ErrLineTooLong   = errors.New("smtpprobe: reply line too long")
	ErrTooManyLines  = errors.New("smtpprobe: too many reply lines")
	ErrMalformed     = errors.New("smtpprobe: malformed reply")
	ErrClosed        = errors.New("smtpprobe: connection closed by the server")
	ErrTimeout       = errors.New("smtpprobe: timeout")
	ErrCodeMismatch  = errors.New("smtpprobe: reply code changed within a multi-line reply")
	errNoReplyPrefix = "reply does not start with a three-digit code"
)

// Bounds on peer text kept in a Result, after escaping.
const (
	maxReplyText      = 1024                       // one reply line's text (RFC 5321 §4.5.3.1.5: 512 octets in all)
	maxBannerHost     = 255                        // the greeting's host name (RFC 1035 §2.3.4)
	maxTranscriptLine = dialogue.MaxTranscriptLine // one transcript line
	maxErrText        = dialogue.MaxErrText        // an error's text
)

// Reply is one SMTP reply: its code and its text lines without the code
// and separator.
type Reply struct {
	Code  int      `json:"code"`
	Lines []string `json:"lines"`
}

// Class is the first digit of the code: 2 success, 3 intermediate,
// 4 temporary failure, 5 permanent failure.
func (r *Reply) Class() int {
	if r == nil {
		return 0
	}
	return r.Code / 100
}

// Text joins the reply's lines.
func (r *Reply) Text() string {
	if r == nil {
		return ""
	}
	return strings.Join(r.Lines, " / ")
}

// String renders the reply as the server sent it, lines joined with " / ".
func (r *Reply) String() string {
	if r == nil {
		return "(no reply)"
	}
	return fmt.Sprintf("%d %s", r.Code, r.Text())
}

// Enhanced returns the RFC 3463 enhanced status code at the start of the
// first line ("5.7.1"), or "".
func (r *Reply) Enhanced() string {
	if r == nil || len(r.Lines) == 0 {
		return ""
	}
	f := strings.Fields(r.Lines[0])
	if len(f) == 0 {
		return ""
	}
	parts := strings.Split(f[0], ".")
	if len(parts) != 3 || (parts[0] != "2" && parts[0] != "4" && parts[0] != "5") {
		return ""
	}
	for _, p := range parts[1:] {
		if _, err := strconv.Atoi(p); err != nil || len(p) > 3 {
			return ""
		}
	}
	return f[0]
}

// Transcript records a session (dialogue.Transcript).
type Transcript = dialogue.Transcript

// textConn reads replies and writes commands over a connection.
type textConn struct {
	conn   net.Conn
	r      *bufio.Reader
	limits Limits
	tr     *Transcript
}

func newTextConn(c net.Conn, l Limits, tr *Transcript) *textConn {
	return &textConn{conn: c, r: bufio.NewReaderSize(c, 4096), limits: l, tr: tr}
}

// ErrBadCommand says a command line held a CR, LF or NUL: sending it
// would smuggle further commands into the session.
var ErrBadCommand = errors.New("smtpprobe: command with CR, LF or NUL not sent")

// smtp is what the shared dialogue code reports errors as.
var smtp = dialogue.Protocol{ErrClosed: ErrClosed, ErrTimeout: ErrTimeout, ErrLineTooLong: ErrLineTooLong, ErrBadCommand: ErrBadCommand}

// cmd sends one command line and reads the reply.
func (t *textConn) cmd(line string) (*Reply, error) {
	if err := smtp.WriteLine(t.conn, t.tr, line); err != nil {
		return nil, err
	}
	return t.readReply()
}

// readLine reads one line of at most MaxLineLen bytes, without CRLF.
func (t *textConn) readLine() (string, error) {
	return smtp.ReadLine(t.r, t.limits.MaxLineLen, t.tr)
}

// readReply reads a possibly multi-line reply (RFC 5321 §4.2.1).
func (t *textConn) readReply() (*Reply, error) {
	rep := &Reply{}
	for n := 0; ; n++ {
		if n >= t.limits.MaxReplyLines {
			return rep, fmt.Errorf("%w (over %d lines)", ErrTooManyLines, t.limits.MaxReplyLines)
		}
		line, err := t.readLine()
		if err != nil {
			if len(rep.Lines) == 0 {
				return nil, err
			}
			return rep, err
		}
		if len(line) < 3 || !isDigits(line[:3]) || (len(line) > 3 && line[3] != ' ' && line[3] != '-') {
			return nil, fmt.Errorf("%w: %s: %q", ErrMalformed, errNoReplyPrefix, truncate(line, 80))
		}
		code, _ := strconv.Atoi(line[:3])
		if code < 200 || code > 599 {
			return nil, fmt.Errorf("%w: reply code %d out of range", ErrMalformed, code)
		}
		if n > 0 && code != rep.Code {
			return nil, fmt.Errorf("%w (%d then %d)", ErrCodeMismatch, rep.Code, code)
		}
		rep.Code = code
		text := ""
		if len(line) > 4 {
			// Peer text enters here: no control byte or invalid
			// UTF-8 goes further, and each line is bounded.
			text = sanitize.Line(line[4:], maxReplyText)
		}
		rep.Lines = append(rep.Lines, text)
		if len(line) == 3 || line[3] == ' ' {
			return rep, nil
		}
	}
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
