//go:build interop

// The interop test runs the mailcheck binary against a real Postfix
// (Debian's package) started on loopback addresses with its own
// configuration under a temporary directory, a domain served by the
// in-process DNS server, and certificates generated here. Run it with
// `make interop` (scripts/interop.sh installs postfix when missing); it
// needs root (port 25) and stops exactly the instance it started.
package smtptest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/smtptest"
)

func TestInteropPostfix(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the interop test needs root (Postfix on port 25): run it through make interop as root")
	}
	postfix, err := exec.LookPath("postfix")
	if err != nil {
		t.Fatal("postfix is not installed: run scripts/interop.sh, which installs it")
	}
	for _, a := range []string{"127.0.0.2:25", "127.0.0.3:25", "127.0.0.4:587", "127.0.0.4:465", "127.0.0.5:587"} {
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("%s is taken (%v): is another mail server listening on all addresses? stop it or run the interop test elsewhere", a, err)
		}
		l.Close()
	}

	dir, err := os.MkdirTemp("", "mailcheck-interop-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))

	// Certificates: mx1 and the submission hosts valid for their names,
	// mx2 (the open relay) valid for another name.
	ca := smtptest.NewCA(t, "mailcheck interop CA")
	must(t, os.WriteFile(filepath.Join(dir, "ca.pem"), ca.PEM(), 0o644))
	for file, name := range map[string]string{"mx1": "mx1.interop.test", "mx2": "mail.elsewhere.test", "sub": "sub.interop.test", "badsub": "bad-sub.interop.test"} {
		c, k := smtptest.KeyPEM(t, ca.Issue(t, smtptest.CertOptions{Names: []string{name}, RSABits: 2048}))
		must(t, os.WriteFile(filepath.Join(dir, file+".crt"), c, 0o644))
		must(t, os.WriteFile(filepath.Join(dir, file+".key"), k, 0o600))
	}
	must(t, os.MkdirAll(filepath.Join(dir, "sasl"), 0o755))
	for tmpl, out := range map[string]string{"main.cf.tmpl": "main.cf", "master.cf.tmpl": "master.cf", "smtpd.conf.tmpl": "sasl/smtpd.conf"} {
		b, err := os.ReadFile(filepath.Join("../../testdata/interop", tmpl))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, out), bytes.ReplaceAll(b, []byte("{{DIR}}"), []byte(dir)), 0o644))
	}
	for _, d := range []string{"queue", "data"} {
		must(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(postfix, append([]string{"-c", dir}, args...)...).CombinedOutput()
		if err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "postfix.log"))
			t.Fatalf("postfix %s: %v\n%s\nlog:\n%s", strings.Join(args, " "), err, out, log)
		}
		return string(out)
	}
	run("set-permissions", "create-missing")
	run("check")
	run("start")
	t.Cleanup(func() {
		out, err := exec.Command(postfix, "-c", dir, "stop").CombinedOutput()
		if err != nil {
			t.Errorf("postfix stop: %v\n%s", err, out)
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "postfix.log"))
			t.Logf("postfix log:\n%s", log)
		}
	})
	waitListening(t, "127.0.0.2:25", "127.0.0.3:25", "127.0.0.4:587", "127.0.0.4:465", "127.0.0.5:587")

	dns := dnstest.Start(t, "../../testdata/interop/interop.test.zone")
	bin := os.Getenv("MAILCHECK_BIN")
	if bin == "" {
		bin = filepath.Join(dir, "mailcheck")
		out, err := exec.Command("go", "build", "-o", bin, "../../cmd/mailcheck").CombinedOutput()
		if err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--resolver", dns.Addr, "--allow-private", "--ca-file", filepath.Join(dir, "ca.pem"),
		"--checks", "smtp,tls", "--format", "json", "--deadline", "60s",
		"--submission-host", "bad-sub.interop.test:587", "interop.test")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
		t.Fatalf("mailcheck: %v (want exit 1: the open relay is a fail)\n%s\n%s", err, stdout.String(), stderr.String())
	}
	var rep struct {
		Checks []struct {
			Name     string `json:"name"`
			Findings []struct {
				ID       string `json:"id"`
				Severity string `json:"severity"`
				Message  string `json:"message"`
			} `json:"findings"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, stdout.String())
	}
	want := map[string][]string{
		"smtp": {
			"fail smtp.auth-before-tls bad-sub.interop.test[127.0.0.5]:587",
			"fail smtp.open-relay mx2.interop.test[127.0.0.3]:25",
			"fail smtp.submission-no-tls-required bad-sub.interop.test[127.0.0.5]:587",
			"pass smtp.ok mx1.interop.test[127.0.0.2]:25",
			"pass smtp.ok mx2.interop.test[127.0.0.3]:25",
			"pass smtp.relay-closed mx1.interop.test[127.0.0.2]:25",
			"pass smtp.starttls mx1.interop.test[127.0.0.2]:25",
			"pass smtp.starttls mx2.interop.test[127.0.0.3]:25",
			"pass smtp.submission-ok sub.interop.test[127.0.0.4]:465",
			"pass smtp.submission-ok sub.interop.test[127.0.0.4]:587",
		},
		"tls": {
			"pass tls.ok bad-sub.interop.test[127.0.0.5]:587",
			"pass tls.ok mx1.interop.test[127.0.0.2]:25",
			"pass tls.ok sub.interop.test[127.0.0.4]:465",
			"pass tls.ok sub.interop.test[127.0.0.4]:587",
			"warn tls.cert-name-mismatch mx2.interop.test[127.0.0.3]:25",
		},
	}
	for _, c := range rep.Checks {
		var got []string
		for _, f := range c.Findings {
			target, _, _ := strings.Cut(f.Message, " ")
			target = strings.TrimSuffix(target, ":")
			got = append(got, f.Severity+" "+f.ID+" "+target)
		}
		sort.Strings(got)
		if strings.Join(got, "\n") != strings.Join(want[c.Name], "\n") {
			t.Errorf("%s findings:\ngot:\n%s\nwant:\n%s", c.Name, strings.Join(got, "\n"), strings.Join(want[c.Name], "\n"))
		}
		for _, f := range c.Findings {
			t.Logf("%s %s: %s", f.Severity, f.ID, f.Message)
		}
	}
	// AUTH is advertised by Postfix on 587 only after STARTTLS, on 465 at once.
	for _, c := range rep.Checks {
		for _, f := range c.Findings {
			if f.ID == "smtp.submission-ok" && !strings.Contains(f.Message, "AUTH PLAIN LOGIN") {
				t.Errorf("submission without AUTH after TLS: %s", f.Message)
			}
			if f.ID == "smtp.submission-ok" && strings.Contains(f.Message, ":587") && !strings.Contains(f.Message, "530 5.7.0") {
				t.Errorf("587 did not refuse MAIL before STARTTLS with 530: %s", f.Message)
			}
		}
	}
}

func waitListening(t *testing.T, addrs ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range addrs {
		for {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("postfix does not listen on %s: %v", a, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
