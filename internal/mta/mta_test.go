package mta

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/message"
)

const testRcpt = "test@mx.example.test"

// recorder is a stub judge that records what it was given.
type recorder struct {
	mu   sync.Mutex
	envs []message.Envelope
}

func (r *recorder) judge(_ context.Context, env message.Envelope, raw []byte) *message.Verdict {
	r.mu.Lock()
	r.envs = append(r.envs, env)
	r.mu.Unlock()
	return &message.Verdict{Passed: true, AuthResults: "Authentication-Results: mx.example.test; dkim=none",
		Findings: []findings.Finding{
			{ID: "msg.info", Severity: findings.Info, Message: "info"},
			{ID: "msg.fail", Severity: findings.Fail, Message: "fail"},
		}}
}

// start runs a server on an ephemeral loopback port with cfg changed by
// edit; it returns the address and the channel of results.
func start(t *testing.T, edit func(*Config)) (string, <-chan *Result, *Server) {
	t.Helper()
	results := make(chan *Result, 16)
	rec := &recorder{}
	cfg := Config{Listen: []string{"127.0.0.1:0"}, Hostname: "mx.example.test", Accept: []string{testRcpt},
		Limits: DefaultLimits(), Judge: rec.judge, OnMessage: func(r *Result) { results <- r },
		Logf: func(f string, a ...any) { t.Logf(f, a...) }}
	edit(&cfg)
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	srv.Serve(context.Background())
	t.Cleanup(func() { srv.Stop(0) })
	return srv.Listeners()[0].Addr.String(), results, srv
}

func testMessage(extra string) string {
	return "From: a@sender.example\r\nTo: " + testRcpt + "\r\nSubject: hello\r\nMessage-ID: <1@sender.example>\r\n" +
		extra + "\r\nbody\r\n"
}

// send submits msg to the recipients through a go-smtp client with
// STARTTLS; the error is the first refusal.
func send(c *smtp.Client, msg string, rcpts ...string) error {
	if err := c.Mail("a@sender.example", &smtp.MailOptions{Body: smtp.Body8BitMIME}); err != nil {
		return err
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return err
	}
	return w.Close()
}

func dialTLS(t *testing.T, addr string) *smtp.Client {
	t.Helper()
	c, err := smtp.DialStartTLS(addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func TestReceiveAndStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Maildir")
	addr, results, _ := start(t, func(c *Config) { c.Maildir = dir })
	c := dialTLS(t, addr)
	if size, ok := c.MaxMessageSize(); !ok || size != 10<<20 {
		t.Errorf("SIZE = %d, %v; want 10 MiB advertised", size, ok)
	}
	if err := send(c, testMessage(""), testRcpt); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	r := <-results
	if r.Client != "127.0.0.1" || r.MailFrom != "a@sender.example" || r.Subject != "hello" || !r.EightBit || !strings.HasPrefix(r.TLS, "TLS 1.3") {
		t.Errorf("result = %+v", r)
	}
	if r.Findings[0].ID != "msg.fail" {
		t.Errorf("findings not worst first: %+v", r.Findings)
	}
	checkStored(t, dir, r.Stored)
}

// checkStored checks the Maildir's modes and the stored copy's head.
func checkStored(t *testing.T, dir, path string) {
	t.Helper()
	if filepath.Dir(path) != filepath.Join(dir, "new") || strings.Contains(path, "sender") || strings.Contains(path, "test@") {
		t.Errorf("stored as %q", path)
	}
	for _, d := range []string{dir, filepath.Join(dir, "tmp"), filepath.Join(dir, "new"), filepath.Join(dir, "cur")} {
		if st, err := os.Stat(d); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v", d, st.Mode(), err)
		}
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v", path, err)
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "Authentication-Results: mx.example.test; dkim=none\r\nReceived: from localhost ([127.0.0.1])\r\n\tby mx.example.test (mailcheck) with ESMTPS id ") ||
		!strings.HasSuffix(string(b), testMessage("")) {
		t.Errorf("stored copy:\n%s", b)
	}
}

func TestImplicitTLS(t *testing.T) {
	addr, results, srv := start(t, func(c *Config) { c.Listen = nil; c.ListenTLS = []string{"127.0.0.1:0"} })
	if !srv.Listeners()[0].Implicit {
		t.Fatal("listener not marked implicit TLS")
	}
	c, err := smtp.DialTLS(addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := send(c, testMessage(""), testRcpt); err != nil {
		t.Fatal(err)
	}
	if r := <-results; r.TLS == "" {
		t.Errorf("no TLS in %+v", r)
	}
}

func TestRecipients(t *testing.T) {
	addr, results, _ := start(t, func(c *Config) { c.Accept = []string{"Test@MX.example.test", "@other.test"} })
	c := dialTLS(t, addr)
	for _, bad := range []string{"x@mx.example.test", "test@example.org", "test@sub.other.test", "postmaster@evil.test"} {
		err := send(c, testMessage(""), bad)
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) {
			t.Errorf("rcpt %s: %v, want 550 5.7.1", bad, err)
		}
		c.Reset()
	}
	if err := send(c, testMessage(""), "TEST@mx.example.test", "anyone@Other.test"); err != nil {
		t.Fatal(err)
	}
	if r := <-results; len(r.Rcpts) != 2 {
		t.Errorf("rcpts = %v", r.Rcpts)
	}
}

func TestDefaultTokenAddress(t *testing.T) {
	_, _, srv := start(t, func(c *Config) { c.Accept = nil })
	acc := srv.Accepted()
	if len(acc) != 1 || !strings.HasPrefix(acc[0], "mailcheck-") || !strings.HasSuffix(acc[0], "@mx.example.test") || len(acc[0]) != len("mailcheck-0123456789abcdef@mx.example.test") {
		t.Errorf("accepted = %v", acc)
	}
	if acc[0] == TokenAddress("mx.example.test") {
		t.Error("token address is not random")
	}
}

func TestOversize(t *testing.T) {
	addr, _, _ := start(t, func(c *Config) { c.Limits.MaxMessageBytes = 1024 })
	c := dialTLS(t, addr)
	err := send(c, testMessage("")+strings.Repeat(strings.Repeat("x", 70)+"\r\n", 30), testRcpt)
	if smtpCode(err) != 552 {
		t.Errorf("oversize message: %v, want 552", err)
	}
	if err := c.Noop(); err != nil {
		t.Errorf("session unusable after 552: %v", err)
	}
}

func TestTooManyRecipients(t *testing.T) {
	addr, _, _ := start(t, func(c *Config) { c.Limits.MaxRecipients = 2; c.Accept = []string{"@mx.example.test"} })
	c := dialTLS(t, addr)
	err := send(c, testMessage(""), "a@mx.example.test", "b@mx.example.test", "c@mx.example.test")
	if smtpCode(err) != 452 {
		t.Errorf("third recipient: %v, want 452", err)
	}
}

func TestHeaderBounds(t *testing.T) {
	addr, _, _ := start(t, func(c *Config) { c.Limits.MaxHeaderFields = 10 })
	c := dialTLS(t, addr)
	err := send(c, testMessage(strings.Repeat("X-Field: 1\r\n", 10)), testRcpt)
	if smtpCode(err) != 552 || !strings.Contains(err.Error(), "Too many header fields") {
		t.Errorf("11+ fields: %v, want 552", err)
	}
}

func TestMIMEDepth(t *testing.T) {
	addr, results, _ := start(t, func(c *Config) { c.Limits.MaxMIMEDepth = 3 })
	c := dialTLS(t, addr)
	if err := send(c, nested(3), testRcpt); err != nil {
		t.Fatalf("depth 3: %v", err)
	}
	<-results
	err := send(c, nested(4), testRcpt)
	if smtpCode(err) != 554 {
		t.Errorf("depth 4: %v, want 554", err)
	}
}

// nested is a message with n levels of multipart/mixed.
func nested(n int) string {
	var b strings.Builder
	b.WriteString("From: a@sender.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i-1, i)
	}
	fmt.Fprintf(&b, "--b%d\r\nContent-Type: text/plain\r\n\r\nhi\r\n", n-1)
	for i := n - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	return b.String()
}

func TestCheckListen(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		public bool
		ok     bool
	}{
		{"127.0.0.1:2525", false, true},
		{"[::1]:0", false, true},
		{"127.0.0.2:25", false, true},
		{"192.0.2.1:25", false, false},
		{"192.0.2.1:25", true, true},
		{":25", false, false},
		{":25", true, true},
		{"[::]:25", false, false},
		{"localhost:25", false, false},
		{"127.0.0.1", false, false},
		{"127.0.0.1:99999", false, false},
		{"127.0.0.1:smtp", false, true},
	} {
		if err := CheckListen(tc.addr, tc.public); (err == nil) != tc.ok {
			t.Errorf("CheckListen(%q, %v) = %v, want ok %v", tc.addr, tc.public, err, tc.ok)
		}
	}
}

func TestParseAccept(t *testing.T) {
	for in, want := range map[string]string{
		"Test@Example.ORG": "test@example.org", "@example.org": "@example.org",
		"example.org": "", "a@": "", "a@b@c": "", "<a@b>": "", "a b@c": "", "a@b..c": "",
	} {
		got, err := ParseAccept(in)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("ParseAccept(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// After Stop a new connection is refused and the listener is gone.
func TestStop(t *testing.T) {
	addr, _, srv := start(t, func(*Config) {})
	c := dialTLS(t, addr)
	srv.Stop(0)
	if err := c.Mail("a@sender.example", nil); err == nil {
		t.Error("MAIL accepted after Stop")
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("still listening after Stop")
	}
}
