package mta

import (
	"bufio"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// rawDial opens a plain connection and reads the greeting.
func rawDial(t *testing.T, addr string) (net.Conn, *textproto.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := textproto.NewReader(bufio.NewReader(c))
	return c, r
}

// readUntilClosed reads reply lines until the server closes the
// connection and returns them.
func readUntilClosed(r *textproto.Reader) []string {
	var lines []string
	for {
		l, err := r.ReadLine()
		if err != nil {
			return lines
		}
		lines = append(lines, l)
	}
}

func hasLine(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// A client that sends half a command and stalls is cut off by the
// command timeout.
func TestSlowlorisLine(t *testing.T) {
	addr, _, _ := start(t, func(c *Config) { c.Limits.CommandTimeout = 50 * time.Millisecond })
	c, r := rawDial(t, addr)
	c.Write([]byte("EHLO slow"))
	if lines := readUntilClosed(r); !hasLine(lines, "421 4.4.2") {
		t.Errorf("replies = %q, want 421 4.4.2 then close", lines)
	}
}

// A client that keeps the session busy with commands is cut off by the
// session timeout, whatever the command timeout.
func TestSessionTimeout(t *testing.T) {
	addr, _, _ := start(t, func(c *Config) { c.Limits.SessionTimeout = 100 * time.Millisecond })
	c, r := rawDial(t, addr)
	go func() {
		for {
			if _, err := c.Write([]byte("NOOP\r\n")); err != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	readUntilClosed(r) // returns once the server closes; a hang fails the test by its timeout
}

// A line longer than go-smtp's limit ends the session.
func TestLongLine(t *testing.T) {
	addr, _, _ := start(t, func(*Config) {})
	c, r := rawDial(t, addr)
	go c.Write([]byte("EHLO " + strings.Repeat("a", 1<<20) + "\r\n"))
	if lines := readUntilClosed(r); !hasLine(lines, "500 5.4.0") {
		t.Errorf("replies = %q, want 500 5.4.0", lines)
	}
}

// Beyond MaxConns a connection gets 421 4.3.2 and is closed; a place
// freed is taken again.
func TestTooManyConnections(t *testing.T) {
	addr, _, _ := start(t, func(c *Config) { c.Limits.MaxConns = 2 })
	first, r1 := rawDial(t, addr)
	_, r2 := rawDial(t, addr)
	for _, r := range []*textproto.Reader{r1, r2} {
		if l, err := r.ReadLine(); err != nil || !strings.HasPrefix(l, "220 ") {
			t.Fatalf("greeting %q, %v", l, err)
		}
	}
	_, r3 := rawDial(t, addr)
	if lines := readUntilClosed(r3); len(lines) != 1 || !strings.HasPrefix(lines[0], "421 4.3.2") {
		t.Errorf("third connection: %q, want 421 4.3.2 then close", lines)
	}
	first.Close()
	for { // the place is freed once the server has seen the close
		_, r := rawDial(t, addr)
		if l, _ := r.ReadLine(); strings.HasPrefix(l, "220 ") {
			break
		}
	}
}

// A header that never ends is refused at MaxHeaderBytes, in bounded
// memory, and the session ends by the data timeout.
func TestNeverEndingHeader(t *testing.T) {
	addr, _, _ := start(t, func(c *Config) {
		c.Limits.MaxHeaderBytes = 4096
		c.Limits.DataTimeout = 200 * time.Millisecond
		c.Limits.CommandTimeout = 200 * time.Millisecond
	})
	c, r := rawDial(t, addr)
	c.Write([]byte("EHLO client.test\r\nMAIL FROM:<a@sender.example>\r\nRCPT TO:<" + testRcpt + ">\r\nDATA\r\nSubject: x\r\n"))
	go func() {
		for {
			if _, err := c.Write([]byte(" and on and on\r\n")); err != nil {
				return
			}
		}
	}()
	if lines := readUntilClosed(r); !hasLine(lines, "552 5.3.4 Header section too large") {
		t.Errorf("replies = %q, want 552 5.3.4", lines)
	}
}

// A client that stalls in the middle of the message data is cut off by
// the data timeout, with no further reply.
func TestDataTimeout(t *testing.T) {
	addr, _, _ := start(t, func(c *Config) { c.Limits.DataTimeout = 50 * time.Millisecond })
	c, r := rawDial(t, addr)
	c.Write([]byte("EHLO client.test\r\nMAIL FROM:<a@sender.example>\r\nRCPT TO:<" + testRcpt + ">\r\nDATA\r\nSubject: x\r\n"))
	lines := readUntilClosed(r)
	if !hasLine(lines, "354 ") || hasLine(lines, "554") || hasLine(lines, "250 2.0.0 OK") {
		t.Errorf("replies = %q, want 354 then close", lines)
	}
}
