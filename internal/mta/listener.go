package mta

import (
	"net"
	"sync"
	"time"
)

// limitListener caps the connections open at once across every
// listener that shares its semaphore: beyond the cap a connection gets
// "421 4.3.2" and is closed at once (go-smtp has no such bound). Each
// accepted connection carries a session deadline that no later
// per-command deadline can extend.
type limitListener struct {
	net.Listener
	sem     chan struct{}
	opened  func() // a connection was accepted under the cap
	closed  func() // it was closed
	session time.Duration
	now     func() time.Time
	logf    func(string, ...any)
}

// Accept returns the next connection within the cap.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.sem <- struct{}{}:
		default:
			l.logf("refused a connection from %s: %d connections already open", c.RemoteAddr(), cap(l.sem))
			c.SetDeadline(l.now().Add(time.Second))
			c.Write([]byte("421 4.3.2 Too many connections, try again later\r\n"))
			c.Close()
			continue
		}
		l.opened()
		end := l.now().Add(l.session)
		c.SetDeadline(end)
		return &sessionConn{Conn: c, end: end, release: func() { <-l.sem; l.closed() }}, nil
	}
}

// sessionConn is an accepted connection: deadlines set on it are cut
// to the session's end, and closing it frees its place under the cap.
type sessionConn struct {
	net.Conn
	end     time.Time
	once    sync.Once
	release func()
}

func (c *sessionConn) clamp(t time.Time) time.Time {
	if t.IsZero() || t.After(c.end) {
		return c.end
	}
	return t
}

// SetDeadline sets both deadlines, no later than the session's end.
func (c *sessionConn) SetDeadline(t time.Time) error { return c.Conn.SetDeadline(c.clamp(t)) }

// SetReadDeadline sets the read deadline, no later than the session's end.
func (c *sessionConn) SetReadDeadline(t time.Time) error { return c.Conn.SetReadDeadline(c.clamp(t)) }

// SetWriteDeadline sets the write deadline, no later than the session's end.
func (c *sessionConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.clamp(t))
}

// Close closes the connection and, once, frees its place.
func (c *sessionConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
