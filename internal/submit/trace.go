package submit

import (
	"bytes"
	"net"
	"strings"
	"sync"

	"github.com/mailcheck/mailcheck/internal/dialogue"
)

// recorder turns the bytes of the dialogue into transcript lines ("> "
// sent, "< " received). It never records a secret: the AUTH exchange is
// muted (a note stands for it) and, as a last guard, any line holding a
// secret (the password, or the base64 of the AUTH PLAIN response) has
// the secret replaced before it is recorded or traced.
type recorder struct {
	t       *dialogue.Transcript
	secrets []string

	mu    sync.Mutex
	buf   []byte // an incomplete line seen by the client's debug writer
	muted bool
}

// add records one line in direction dir after redaction.
func (r *recorder) add(dir, line string) {
	for _, s := range r.secrets {
		if s != "" {
			line = strings.ReplaceAll(line, s, "[redacted]")
		}
	}
	r.t.Add(dir, line)
}

// mute stops (or resumes) recording what the debug writer sees.
func (r *recorder) mute(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.muted, r.buf = on, nil
}

// Write is the go-smtp client's DebugWriter: commands and replies mixed,
// in plain text; a reply line starts with three digits and " " or "-".
func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.muted {
		return len(p), nil
	}
	r.buf = append(r.buf, p...)
	for {
		i := bytes.IndexByte(r.buf, '\n')
		if i < 0 {
			if len(r.buf) > 4096 {
				r.buf = nil // a line past any bound: not recorded
			}
			break
		}
		line := strings.TrimRight(string(r.buf[:i]), "\r")
		r.buf = r.buf[i+1:]
		dir := ">"
		if isReply(line) {
			dir = "<"
		}
		r.add(dir, line)
	}
	return len(p), nil
}

// isReply reports whether line looks like an SMTP reply line.
func isReply(line string) bool {
	if len(line) < 3 || len(line) > 3 && line[3] != ' ' && line[3] != '-' {
		return false
	}
	for _, c := range line[:3] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// plainConn records the plain-text phase of a STARTTLS session, before
// go-smtp wraps the connection in TLS: what is read is the server's,
// what is written the client's. Once the client has sent STARTTLS and
// read the reply, it stops (what follows is ciphertext).
type plainConn struct {
	net.Conn
	rec *recorder

	mu       sync.Mutex
	in, out  []byte
	starting bool // STARTTLS sent
	done     bool
	lines    []string // replies received, for the AUTH-before-TLS check
}

// Read records the server's lines.
func (c *plainConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.done {
		c.in = c.split(append(c.in, p[:n]...), "<")
	}
	return n, err
}

// Write records the client's lines.
func (c *plainConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if !c.done {
		c.out = c.split(append(c.out, p...), ">")
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// split records the complete lines of buf and returns the rest.
func (c *plainConn) split(buf []byte, dir string) []byte {
	for !c.done {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(string(buf[:i]), "\r")
		buf = buf[i+1:]
		c.rec.add(dir, line)
		switch {
		case dir == ">" && strings.EqualFold(line, "STARTTLS"):
			c.starting = true
		case dir == "<":
			c.lines = append(c.lines, line)
			if c.starting && len(line) > 3 && line[3] == ' ' {
				c.done = true
			}
		}
	}
	if len(buf) > 4096 {
		buf = nil
	}
	return buf
}

// authOffered reports whether an EHLO reply in plain text listed AUTH.
func (c *plainConn) authOffered() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.lines {
		if len(l) > 4 && strings.HasPrefix(l, "250") {
			if kw := strings.Fields(l[4:]); len(kw) > 0 && strings.EqualFold(kw[0], "AUTH") {
				return l, true
			}
		}
	}
	return "", false
}
