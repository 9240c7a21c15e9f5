package smtptest

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Handler drives one accepted connection of a fake server. It should
// return when the connection fails or done is closed.
type Handler func(c net.Conn, done <-chan struct{})

// StartFake serves h on 127.0.0.1 until the test ends, and returns the
// listener's address. Connections are closed at cleanup.
func StartFake(t testing.TB, h Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				h(c, done)
			}()
		}
	}()
	t.Cleanup(func() {
		close(done)
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

// Silent accepts and never sends a banner.
func Silent(c net.Conn, done <-chan struct{}) { <-done }

// Greeting sends line as the greeting and then answers nothing but
// closes when the client does (e.g. "421 4.3.2 busy, try later").
func Greeting(line string) Handler {
	return func(c net.Conn, done <-chan struct{}) {
		c.Write([]byte(line + "\r\n"))
		buf := make([]byte, 512)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.Read(buf)
	}
}

// Trickle sends a valid banner one byte every interval (a tarpit).
func Trickle(interval time.Duration) Handler {
	return func(c net.Conn, done <-chan struct{}) {
		for _, b := range []byte("220 slow.test ESMTP tarpit\r\n") {
			select {
			case <-done:
				return
			case <-time.After(interval):
			}
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
		}
		<-done
	}
}

// Endless answers the banner with a multi-line reply that never ends.
func Endless(c net.Conn, done <-chan struct{}) {
	w := bufio.NewWriter(c)
	for i := 0; ; i++ {
		select {
		case <-done:
			return
		default:
		}
		if _, err := w.WriteString("220-flood.test line that never ends\r\n"); err != nil {
			return
		}
		if i%64 == 0 && w.Flush() != nil {
			return
		}
	}
}

// LongLine sends a banner line without end.
func LongLine(c net.Conn, done <-chan struct{}) {
	c.Write([]byte("220 "))
	chunk := []byte(strings.Repeat("x", 4096))
	for {
		select {
		case <-done:
			return
		default:
		}
		if _, err := c.Write(chunk); err != nil {
			return
		}
	}
}

// Garbage sends bytes that are not SMTP.
func Garbage(c net.Conn, done <-chan struct{}) {
	c.Write([]byte("\x16\x03\x01\x00\xa5HTTP/1.1 400 Bad Request\r\n\r\n"))
	buf := make([]byte, 512)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	c.Read(buf)
}

// Hang, as a Script reply, answers nothing: the fake goes silent until
// the client gives up.
const Hang = "\x00hang"

// Script answers a plain session: the banner, then for each command line
// the reply whose key is a prefix of the command (upper case), or "500
// unrecognized". A reply of Hang sends nothing and waits. It hangs up
// after QUIT.
func Script(banner string, replies map[string]string) Handler {
	return func(c net.Conn, done <-chan struct{}) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte(banner + "\r\n"))
		script(c, bufio.NewReader(c), replies, done)
	}
}

// script answers commands on c until QUIT, EOF or Hang.
func script(c net.Conn, r *bufio.Reader, replies map[string]string, done <-chan struct{}) (stopped string) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return ""
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		rep, best := "500 5.5.2 unrecognized command", 0
		for k, v := range replies {
			if strings.HasPrefix(cmd, k) && len(k) > best {
				rep, best = v, len(k)
			}
		}
		if strings.HasPrefix(cmd, "QUIT") && best == 0 {
			rep = "221 2.0.0 bye"
		}
		if rep == Hang {
			<-done
			return cmd
		}
		c.Write([]byte(strings.ReplaceAll(rep, "\n", "\r\n") + "\r\n"))
		if strings.HasPrefix(cmd, "QUIT") || strings.HasPrefix(cmd, "STARTTLS") && strings.HasPrefix(rep, "220") {
			return cmd
		}
	}
}

// StartTLSThen scripts a plain session like Script (replies should
// advertise STARTTLS in the EHLO reply); on STARTTLS it answers 220, runs
// the TLS handshake with cfg, then answers the commands that arrive under
// TLS with afterTLS (e.g. {"EHLO": Hang}: a server that stalls once TLS is
// up; an empty map closes the connection at the first command).
func StartTLSThen(banner string, replies map[string]string, cfg *tls.Config, afterTLS map[string]string) Handler {
	return func(c net.Conn, done <-chan struct{}) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte(banner + "\r\n"))
		plain := map[string]string{"STARTTLS": "220 2.0.0 Ready to start TLS"}
		for k, v := range replies {
			plain[k] = v
		}
		if !strings.HasPrefix(script(c, bufio.NewReader(c), plain, done), "STARTTLS") {
			return
		}
		tc := tls.Server(c, cfg)
		defer tc.Close()
		if tc.Handshake() != nil {
			return
		}
		if len(afterTLS) == 0 {
			return
		}
		script(tc, bufio.NewReader(tc), afterTLS, done)
	}
}

// PipeDialer serves h over net.Pipe: each dial runs h on the server end,
// in the caller's goroutine group, so that tests under testing/synctest
// (fake time) can drive the hostile fakes. done is closed when the client
// closes its end.
func PipeDialer(h Handler) *Pipes { return &Pipes{h: h} }

// Pipes is the Dialer of PipeDialer.
type Pipes struct {
	h Handler
}

// DialContext implements the checks' and smtpprobe's Dialer.
func (p *Pipes) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer server.Close()
		p.h(server, done)
	}()
	return &pipeConn{Conn: client, done: done}, nil
}

// pipeConn closes done when the client closes the connection.
type pipeConn struct {
	net.Conn
	once sync.Once
	done chan struct{}
}

func (c *pipeConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return c.Conn.Close()
}
