package dialogue

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
)

// Limits cap what a session reads from the peer.
type Limits struct {
	// MaxLineLen is the longest reply line accepted, CRLF included.
	// RFC 5321 §4.5.3.1.5 allows 512; real servers stay well under.
	MaxLineLen int
	// MaxReplyLines is the most lines one multi-line reply may have.
	MaxReplyLines int
}

// DefaultLimits are generous for real servers and small for a flood.
var DefaultLimits = Limits{MaxLineLen: 2048, MaxReplyLines: 100}

// Protocol names a protocol's sentinel errors, which the shared code
// reports (wrapped, for errors.Is) so that each protocol keeps its own
// error texts.
type Protocol struct {
	ErrClosed      error // the peer closed the connection
	ErrTimeout     error // a read, a write or the dial timed out
	ErrLineTooLong error // a line over Limits.MaxLineLen
	ErrBadCommand  error // a command line with CR, LF or NUL, not sent
}

// WriteLine records line in tr and sends it with CRLF. A line holding CR,
// LF or NUL is not sent: it would smuggle further commands into the
// session.
func (p Protocol) WriteLine(w io.Writer, tr *Transcript, line string) error {
	if strings.ContainsAny(line, "\r\n\x00") {
		return p.ErrBadCommand
	}
	tr.Add(">", line)
	if _, err := io.WriteString(w, line+"\r\n"); err != nil {
		return p.Classify(err)
	}
	return nil
}

// ReadLine reads one line of at most max bytes, without CRLF, and
// records it in tr (a line cut short is recorded as such).
func (p Protocol) ReadLine(r *bufio.Reader, max int, tr *Transcript) (string, error) {
	var buf []byte
	for {
		frag, err := r.ReadSlice('\n')
		buf = append(buf, frag...)
		if len(buf) > max {
			tr.Add("<", string(buf[:min(len(buf), 120)])+"...")
			return "", fmt.Errorf("%w (over %d bytes)", p.ErrLineTooLong, max)
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(buf) > 0 {
			tr.Add("<", string(buf)+" [incomplete]")
		}
		return "", p.Classify(err)
	}
	s := strings.TrimRight(string(buf), "\r\n")
	tr.Add("<", s)
	return s, nil
}

// Classify maps network errors onto the protocol's sentinels.
func (p Protocol) Classify(err error) error {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%w: %v", p.ErrTimeout, err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return p.ErrClosed
	case isReset(err):
		return fmt.Errorf("%w: %v", p.ErrClosed, err)
	}
	return err
}

func isReset(err error) bool {
	s := err.Error()
	return strings.Contains(s, "connection reset") || strings.Contains(s, "broken pipe")
}
