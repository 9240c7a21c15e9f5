package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailcheck/mailcheck/internal/smtptest"
	"github.com/mailcheck/mailcheck/internal/submit"
	"github.com/mailcheck/mailcheck/internal/submit/submittest"
)

const testPassword = "Tr0ub4dor&3-horse-staple"

// sendKey writes a fresh 2048-bit RSA key (PKCS#1 PEM) and returns its
// path and its DKIM key record.
func sendKey(t *testing.T) (string, string) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dkim.pem")
	os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600)
	return path, submit.PublicRecord(k)
}

// sendZone writes the zone of example.test: SPF for 127.0.0.1, the DKIM
// key record at s1, DMARC p=reject.
func sendZone(t *testing.T, keyRecord string) string {
	var txt []string
	for len(keyRecord) > 200 {
		txt = append(txt, `"`+keyRecord[:200]+`"`)
		keyRecord = keyRecord[200:]
	}
	txt = append(txt, `"`+keyRecord+`"`)
	zone := "$ORIGIN example.test.\n@ 300 IN SOA ns hostmaster 1 2 3 4 5\n@ 300 IN NS ns\n" +
		"@ 300 IN TXT \"v=spf1 ip4:127.0.0.1 -all\"\n_dmarc 300 IN TXT \"v=DMARC1; p=reject\"\n" +
		"s1._domainkey 300 IN TXT " + strings.Join(txt, " ") + "\n"
	path := filepath.Join(t.TempDir(), "example.test.zone")
	os.WriteFile(path, []byte(zone), 0o600)
	return path
}

// TestSendTestReceive is the loopback send test in one process: the
// message is signed, delivered straight to the embedded MTA and judged
// by the real judge against the zone.
func TestSendTestReceive(t *testing.T) {
	key, rec := sendKey(t)
	args := []string{"send-test", "--receive", "--listen", "127.0.0.1:0", "--offline", "--hostname", "sink.example.test",
		"--from", "alice@example.test", "--dkim-key", key, "--dkim-selector", "s1", "--format", "json"}
	code, out, stderr := cli(t, append(args, "--zone", sendZone(t, rec))...)
	var rep sendReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("exit %d, %v:\n%s\n%s", code, err, out, stderr)
	}
	if code != exitOK || !rep.Passed || rep.Received == nil || !rep.Received.Passed {
		t.Fatalf("exit %d:\n%s\n%s", code, out, stderr)
	}
	for _, id := range []string{"submit.dkim-key-match", "submit.accepted", "msg.dkim-pass", "msg.spf-pass", "msg.dmarc-pass", "msg.mime-ok", "msg.header-ok"} {
		if !strings.Contains(out, `"`+id+`"`) {
			t.Errorf("no %s:\n%s", id, out)
		}
	}
	if !strings.HasPrefix(rep.To, "mailcheck-") || rep.Received.Rcpts[0] != rep.To {
		t.Errorf("to %q, received for %v", rep.To, rep.Received.Rcpts)
	}
	// The key record is another key: the check says so before sending,
	// and the receiver's DKIM and DMARC fail.
	_, other := sendKey(t)
	code, out, _ = cli(t, append(append([]string{}, args[:len(args)-2]...), "--format", "text", "--zone", sendZone(t, other))...)
	if code != exitFail {
		t.Errorf("wrong key: exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{"fail  submit.dkim-key-mismatch", "fail  msg.dkim-fail", "send-test FAIL"} {
		if !strings.Contains(out, want) {
			t.Errorf("wrong key: no %q:\n%s", want, out)
		}
	}
}

// TestSendTestVia submits through an in-process submission server with
// STARTTLS and AUTH; the password, from a file or the environment,
// never appears in any output, with or without --trace.
func TestSendTestVia(t *testing.T) {
	ca := smtptest.NewCA(t, "send-test CA")
	cert := ca.Issue(t, smtptest.CertOptions{Names: []string{"localhost"}})
	srv := submittest.Start(t, submittest.Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, User: "alice", Pass: testPassword})
	dir := t.TempDir()
	caFile, pwFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "pw")
	os.WriteFile(caFile, ca.PEM(), 0o600)
	os.WriteFile(pwFile, []byte(testPassword+"\n"), 0o600)
	via := strings.Replace(srv.Addr, "127.0.0.1", "localhost", 1)
	base := []string{"send-test", "--via", via, "--ca-file", caFile, "--auth-user", "alice", "--from", "alice@example.test",
		"--to", "bob@example.net", "--offline", "--trace"}
	runs := map[string]func(*app){
		"file": func(*app) {},
		"env": func(a *app) {
			a.getenv = func(k string) string { return map[string]string{passwordEnv: testPassword}[k] }
		},
	}
	for name, setup := range runs {
		args := base
		if name == "file" {
			args = append(append([]string{}, base...), "--auth-password-file", pwFile)
		}
		for _, format := range []string{"text", "json"} {
			code, out, stderr := cliWith(t, setup, append(args, "--format", format)...)
			if code != exitOK || !strings.Contains(out, "submit.auth-ok") || !strings.Contains(stderr, "> AUTH PLAIN [credentials") {
				t.Errorf("%s %s: exit %d\n%s\n%s", name, format, code, out, stderr)
			}
			for _, s := range []string{testPassword, "Tr0ub4dor"} {
				if strings.Contains(out+stderr, s) {
					t.Errorf("%s %s: the password is in the output", name, format)
				}
			}
		}
	}
	if n := len(srv.Messages()); n != 4 {
		t.Errorf("%d messages submitted, want 4", n)
	}
	msg := srv.Messages()[0]
	if !bytes.Contains(msg, []byte("multipart/alternative")) || !bytes.Contains(msg, []byte("Message-Id: <")) {
		t.Errorf("message:\n%s", msg)
	}
	// A wrong password: AUTH fails, exit 1, and nothing is sent.
	code, out, _ := cliWith(t, func(a *app) { a.getenv = func(string) string { return "wrong-" + testPassword } }, base...)
	if code != exitFail || !strings.Contains(out, "fail  submit.auth-failed") || strings.Contains(out, testPassword) {
		t.Errorf("wrong password: exit %d\n%s", code, out)
	}
}

func TestSendTestUnevaluated(t *testing.T) {
	code, out, _ := cli(t, "send-test", "--via", "127.0.0.1:1", "--from", "a@example.test", "--to", "b@example.test", "--offline")
	if code != exitUnevaluated || !strings.Contains(out, "submit.connect-failed") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestSendTestUsage(t *testing.T) {
	key, _ := sendKey(t)
	ok := []string{"--from", "a@example.test", "--to", "b@example.test", "--via", "127.0.0.1:1"}
	tests := []struct {
		args   []string
		stderr string
	}{
		{[]string{"--to", "b@example.test", "--via", "127.0.0.1:1"}, "--from"},
		{[]string{"--from", "a@example.test", "--via", "127.0.0.1:1"}, "--to is required"},
		{[]string{"--from", "a@example.test", "--to", "b@example.test"}, "--via HOST:PORT is required"},
		{[]string{"--from", "a@example.test", "--to", "b@example.test", "--via", "http://x"}, "--via"},
		{[]string{"--from", "a@example.test", "--to", "b@example.test", "--receive"}, "exclude each other"},
		{[]string{"--from", "a@example.test", "--receive", "--auth-user", "u"}, "need --via"},
		{append(ok, "--auth-user", "u"), "needs a password"},
		{append(ok, "--auth-password-file", "pw"), "needs --auth-user"},
		{append(ok, "--auth-user", "u", "--auth-password-file", "/nonexistent"), "--auth-password-file"},
		{append(ok, "--ca-file", "/nonexistent"), "--ca-file"},
		{append(ok, "--dkim-key", key), "needs --dkim-selector"},
		{append(ok, "--dkim-selector", "s1"), "need --dkim-key"},
		{append(ok, "--dkim-key", "/nonexistent", "--dkim-selector", "s1"), "--dkim-key"},
		{append(ok, "--format", "sarif"), "text or json"},
		{[]string{"--from", "a@example.test", "--receive", "--listen", "192.0.2.1:25"}, "--listen"},
	}
	for _, tc := range tests {
		code, _, stderr := cli(t, append([]string{"send-test"}, tc.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("send-test %v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.stderr)
		}
	}
}

var _ = context.Background

func TestSendTestHelp(t *testing.T) {
	_, out, _ := cli(t, "send-test", "--help")
	for _, flag := range []string{"--via", "--implicit-tls", "--ca-file", "--auth-user", "--auth-password-file", passwordEnv,
		"--from", "--to", "--helo", "--dkim-key", "--dkim-selector", "--dkim-domain", "--receive", "--listen", "--hostname",
		"--wait", "--resolver", "--zone", "--offline", "--trace", "--format"} {
		if !strings.Contains(out, flag) {
			t.Errorf("help lacks %s", flag)
		}
	}
	if strings.Contains(out, "--auth-password ") || strings.Contains(out, "--password") {
		t.Error("a flag takes the password itself")
	}
}
