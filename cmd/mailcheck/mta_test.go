package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/message"
	"github.com/mailcheck/mailcheck/internal/mta"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// watchWriter collects stderr and hands over the announced listen
// address and accepted recipients as they are printed.
type watchWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	addr   chan string
	accept chan string
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for _, l := range strings.Split(string(p), "\n") {
		if a, ok := strings.CutPrefix(l, "mailcheck mta: listening on "); ok {
			w.addr <- strings.Fields(a)[0]
		}
		if a, ok := strings.CutPrefix(l, "mailcheck mta: accepting mail for "); ok {
			w.accept <- a
		}
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// mtaRun is a `mailcheck mta` run in progress.
type mtaRun struct {
	addr, accept string
	code         chan int
	stdout       *bytes.Buffer
	stderr       *watchWriter
	envs         chan message.Envelope
}

// startMTA runs the command line in-process with a stub judge (a
// message whose subject says "bad" fails) under ctx, and waits for it
// to listen. The stub judge stays in place until the test ends.
func startMTA(t *testing.T, ctx context.Context, args ...string) *mtaRun {
	t.Helper()
	r := &mtaRun{code: make(chan int, 1), stdout: &bytes.Buffer{}, envs: make(chan message.Envelope, 16),
		stderr: &watchWriter{addr: make(chan string, 4), accept: make(chan string, 1)}}
	orig := newMTAJudge
	newMTAJudge = func(resolve.Resolver, func() time.Time, string) mta.JudgeFunc { return r.judge }
	t.Cleanup(func() { newMTAJudge = orig })
	a := newApp(r.stdout, r.stderr)
	a.getenv = func(string) string { return "" }
	go func() { r.code <- a.run(ctx, args) }()
	select {
	case r.addr = <-r.stderr.addr:
		r.accept = <-r.stderr.accept
	case c := <-r.code:
		t.Fatalf("mta exited with %d before listening:\n%s", c, r.stderr)
	}
	return r
}

func (r *mtaRun) judge(_ context.Context, env message.Envelope, raw []byte) *message.Verdict {
	r.envs <- env
	if bytes.Contains(raw, []byte("Subject: bad")) {
		return &message.Verdict{Findings: []findings.Finding{{ID: "dkim.fail", Severity: findings.Fail, Message: "bad signature"}}}
	}
	return &message.Verdict{Passed: true, Findings: []findings.Finding{{ID: "dkim.pass", Severity: findings.Pass, Message: "good"}}}
}

// mtaSend sends one message with STARTTLS to rcpt.
func mtaSend(t *testing.T, addr, rcpt, subject string) {
	t.Helper()
	c, err := smtp.DialStartTLS(addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := "From: a@sender.example\r\nSubject: " + subject + "\r\n\r\nhello\r\n"
	if err := c.SendMail("a@sender.example", []string{rcpt}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	c.Quit()
}

func TestMTAJSON(t *testing.T) {
	r := startMTA(t, context.Background(), "mta", "--listen", "127.0.0.1:0", "--offline", "--count", "2",
		"--format", "json", "--accept", "@example.test")
	if r.accept != "@example.test" {
		t.Errorf("accepting %q", r.accept)
	}
	mtaSend(t, r.addr, "one@example.test", "good")
	mtaSend(t, r.addr, "two@example.test", "bad")
	if code := <-r.code; code != exitFail {
		t.Errorf("exit code %d, want 1\n%s", code, r.stderr)
	}
	env := <-r.envs
	if env.ClientIP.String() != "127.0.0.1" || env.TLS == nil || env.MailFrom != "a@sender.example" || env.Helo != "localhost" {
		t.Errorf("envelope %+v", env)
	}
	var got []mta.Result
	sc := bufio.NewScanner(r.stdout)
	for sc.Scan() {
		var res mta.Result
		if err := json.Unmarshal(sc.Bytes(), &res); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, res)
	}
	if len(got) != 2 || !got[0].Passed || got[1].Passed || got[1].Findings[0].ID != "dkim.fail" || got[0].Rcpts[0] != "one@example.test" {
		t.Errorf("reports: %+v", got)
	}
}

func TestMTAText(t *testing.T) {
	r := startMTA(t, context.Background(), "mta", "--listen", "127.0.0.1:0", "--offline", "--count", "1", "--hostname", "mx.example.test")
	if !strings.HasPrefix(r.accept, "mailcheck-") || !strings.HasSuffix(r.accept, "@mx.example.test") {
		t.Fatalf("token address %q", r.accept)
	}
	mtaSend(t, r.addr, r.accept, "good")
	if code := <-r.code; code != exitOK {
		t.Errorf("exit code %d, want 0\n%s", code, r.stderr)
	}
	out := r.stdout.String()
	if !strings.Contains(out, "PASS") || !strings.Contains(out, "pass  dkim.pass  good") || !strings.Contains(out, "subject:   good") {
		t.Errorf("report:\n%s", out)
	}
}

func TestMTAWaitWithoutMessage(t *testing.T) {
	r := startMTA(t, context.Background(), "mta", "--listen", "127.0.0.1:0", "--offline", "--wait", "10ms")
	if code := <-r.code; code != exitUnevaluated {
		t.Errorf("exit code %d, want 3\n%s", code, r.stderr)
	}
	if !strings.Contains(r.stderr.String(), "no message arrived within --wait") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

func TestMTASignal(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	r := startMTA(t, ctx, "mta", "--listen", "127.0.0.1:0", "--offline", "--accept", "x@example.test")
	mtaSend(t, r.addr, "x@example.test", "good")
	<-r.envs
	cancel(signalCause{syscall.SIGTERM})
	if code := <-r.code; code != exitSIGTERM {
		t.Errorf("exit code %d, want 143\n%s", code, r.stderr)
	}
	if !strings.Contains(r.stdout.String(), "PASS") {
		t.Errorf("the report before the signal is missing:\n%s", r.stdout)
	}
}

func TestMTAUsage(t *testing.T) {
	tests := []struct {
		args   []string
		stderr string
	}{
		{[]string{"--listen", "192.0.2.1:2525"}, "needs --listen-public"},
		{[]string{"--listen", ":2525"}, "needs --listen-public"},
		{[]string{"--listen", "example.org:25"}, "is not an IP address"},
		{[]string{"--listen", "127.0.0.1"}, "is not HOST:PORT"},
		{[]string{"--listen-tls", "10.0.0.1:465"}, "needs --listen-public"},
		{[]string{"--accept", "nobody"}, "--accept"},
		{[]string{"--accept", "<a@b.test>"}, "--accept"},
		{[]string{"--tls-cert", "cert.pem"}, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-cert", "nope.pem", "--tls-key", "nope.key"}, "--tls-cert/--tls-key"},
		{[]string{"--count", "-1"}, "--count must not be negative"},
		{[]string{"--max-size", "10"}, "--max-size"},
		{[]string{"--hostname", "bad host"}, "--hostname"},
		{[]string{"--format", "xml"}, "--format must be"},
		{[]string{"--offline", "--resolver", "127.0.0.1"}, "exclude each other"},
		{[]string{"extra"}, "unknown command"},
	}
	for _, tc := range tests {
		code, _, stderr := cli(t, append([]string{"mta"}, tc.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.stderr) || strings.Contains(stderr, "mailcheck mta: listening on") {
			t.Errorf("mta %v: exit %d, stderr %q; want 2 and %q before binding", tc.args, code, stderr, tc.stderr)
		}
	}
}

func TestMTAHelp(t *testing.T) {
	_, out, _ := cli(t, "mta", "--help")
	for _, flag := range []string{"--listen", "--listen-tls", "--listen-public", "--hostname", "--tls-cert", "--tls-key",
		"--accept", "--maildir", "--count", "--wait", "--max-size", "--max-rcpts", "--max-conns",
		"--command-timeout", "--session-timeout", "--resolver", "--zone", "--offline", "--timeout", "--format"} {
		if !strings.Contains(out, flag) {
			t.Errorf("help lacks %s", flag)
		}
	}
}

var _ io.Writer = (*watchWriter)(nil)
