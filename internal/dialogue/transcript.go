// Package dialogue is the protocol-neutral part of a line-based session
// with a mail server (SMTP today, IMAP or POP3 later): the dial under the
// caller's context with a deadline on the whole session (Session), the
// capped line reader and the command writer (Protocol), the transcript,
// and the TLS handshake judged by tlsinspect. Each protocol package keeps
// its own reply parser, stages and sentinel errors (Protocol names them,
// so the texts of its errors stay its own).
package dialogue

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/mailcheck/mailcheck/internal/sanitize"
)

// MaxTranscriptLine bounds one transcript line, after escaping.
const MaxTranscriptLine = 1200

// Transcript records a session, safe for concurrent reads while the
// session writes. Lines are prefixed "> " (sent) or "< " (received).
type Transcript struct {
	mu     sync.Mutex
	lines  []string
	prefix string
	w      io.Writer // live copy (--trace), may be nil
}

// NewTranscript returns a transcript that also copies each line, behind
// prefix, to w (nil: none).
func NewTranscript(w io.Writer, prefix string) *Transcript {
	return &Transcript{w: w, prefix: prefix}
}

// Add records one line in direction dir (">" sent, "<" received, "*" a
// note), escaped and bounded.
func (t *Transcript) Add(dir, line string) {
	line = sanitize.Truncate(printable(line), MaxTranscriptLine)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, dir+" "+line)
	if t.w != nil {
		fmt.Fprintf(t.w, "%s%s %s\n", t.prefix, dir, line)
	}
}

// Note records an event that is not a protocol line ("* TLS 1.3 ...").
func (t *Transcript) Note(format string, args ...any) { t.Add("*", fmt.Sprintf(format, args...)) }

// Lines returns a copy of the transcript.
func (t *Transcript) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.lines...)
}

// printable replaces control and non-ASCII bytes so a hostile server
// cannot write escape sequences into the terminal or the report.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\t' || c >= 0x7f {
			fmt.Fprintf(&b, "\\x%02x", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
