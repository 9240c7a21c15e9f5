package main

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/miekg/dns"
)

// startRcodeServer answers every question with rcode, over UDP and TCP on
// 127.0.0.1, until the test ends.
func startRcodeServer(t *testing.T, rcode int) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, rcode)
		m.RecursionAvailable = true
		w.WriteMsg(m)
	})
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: func() { close(started) }}
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// closedPort returns a UDP address on loopback where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

// headLines returns the first n lines of the text report.
func headLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

// TestHonestVerdicts: every way a run can fail to evaluate the domain
// exits 3 (or 130/143 when interrupted), never 0, and says so on the
// report's first lines.
func TestHonestVerdicts(t *testing.T) {
	srv := startMX(t)
	servfail := startRcodeServer(t, dns.RcodeServerFailure)
	dead := closedPort(t)
	tests := []struct {
		name string
		args []string
		code int
		head []string // substrings of the first 4 lines
	}{
		{"no resolver listening", []string{"--resolver", dead, "--timeout", "1s", "example.org"}, exitUnevaluated,
			[]string{"score: -/100  grade -", "incomplete: 15 of 15 checks could not be evaluated", "no grade: nothing could be evaluated"}},
		{"SERVFAIL to everything", []string{"--resolver", servfail, "--timeout", "1s", "example.org"}, exitUnevaluated,
			[]string{"grade -", "incomplete: 15 of 15 checks", "no grade"}},
		{"deadline 1ns", []string{"--resolver", srv.Addr, "--deadline", "1ns", "ok.mx.test"}, exitUnevaluated,
			[]string{"grade -", "incomplete: 15 of 15 checks", "no grade"}},
		{"domain does not exist", []string{"--resolver", srv.Addr, "--checks", "mx,spf,dmarc", "nope.mx.test"}, exitFail,
			[]string{"score: 0/100  grade F", "the domain does not exist (NXDOMAIN)"}},
		{"incomplete is not a pass", []string{"--resolver", srv.Addr, "--checks", "mx,ptr,smtp", "--offline=false", "--probe-timeout", "1s", "ok.mx.test"}, exitUnevaluated,
			[]string{"grade A", "incomplete: 1 of 3 checks could not be evaluated (smtp)"}},
		{"fail-under on an incomplete report", []string{"--resolver", srv.Addr, "--checks", "mx,ptr,smtp", "--probe-timeout", "1s", "--fail-under", "50", "ok.mx.test"}, exitUnevaluated,
			[]string{"incomplete: 1 of 3"}},
		{"allow-incomplete", []string{"--resolver", srv.Addr, "--checks", "mx,ptr,smtp", "--probe-timeout", "1s", "--allow-incomplete", "ok.mx.test"}, exitOK,
			[]string{"grade A", "incomplete: 1 of 3"}},
		{"essential check missing: no grade, and the fail still fails", []string{"--resolver", srv.Addr, "--checks", "mx,dmarc", "--timeout", "1s", "broken.mx.test"}, exitFail,
			[]string{"grade -", "incomplete: 1 of 2 checks could not be evaluated (mx)", "no grade: essential checks could not be evaluated: mx"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := cliWith(t, func(a *app) { a.dialer = refusingDialer{} }, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s\n%s", code, tc.code, stdout, stderr)
			}
			head := headLines(stdout, 5)
			for _, want := range tc.head {
				if !strings.Contains(head, want) {
					t.Errorf("first lines lack %q:\n%s", want, head)
				}
			}
		})
	}
}

// refusingDialer refuses every connection, as a closed port does.
type refusingDialer struct{}

func (refusingDialer) DialContext(_ context.Context, network, address string) (net.Conn, error) {
	return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
}

// TestInterrupted: a run stopped by SIGINT or SIGTERM prints what it has,
// marks the report interrupted and exits 130 or 143.
func TestInterrupted(t *testing.T) {
	srv := startMX(t)
	for _, tc := range []struct {
		sig  os.Signal
		code int
	}{{os.Interrupt, exitSIGINT}, {syscall.SIGTERM, exitSIGTERM}} {
		var out, errb strings.Builder
		a := newApp(&out, &errb)
		a.getenv = func(string) string { return "" }
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(signalCause{tc.sig})
		code := a.run(ctx, []string{"--resolver", srv.Addr, "--checks", "mx,ptr", "--format", "json", "ok.mx.test"})
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d", tc.sig, code, tc.code)
		}
		if !strings.Contains(out.String(), `"interrupted":true`) || !strings.Contains(out.String(), `"graded":false`) {
			t.Errorf("%v: report not marked interrupted: %s", tc.sig, out.String())
		}
		if !strings.Contains(errb.String(), "interrupted by") {
			t.Errorf("%v: stderr %q", tc.sig, errb.String())
		}
	}
}

// TestUsageErrorsBeforeTraffic: malformed flag values and domains exit 2
// with a message, and no DNS question reaches the server.
func TestUsageErrorsBeforeTraffic(t *testing.T) {
	srv := startMX(t)
	r := []string{"--resolver", srv.Addr}
	tests := []struct {
		name, stderr string
		args         []string
	}{
		{"resolver junk", `--resolver: "not a resolver"`, []string{"--resolver", "not a resolver", "ok.mx.test"}},
		{"resolver port 0", `port "0" is not a number from 1 to 65535`, []string{"--resolver", "127.0.0.1:0", "ok.mx.test"}},
		{"resolver port 99999", `port "99999"`, []string{"--resolver", "127.0.0.1:99999", "ok.mx.test"}},
		{"resolver URL", "no URL", []string{"--resolver", "https://dns.example/dns-query", "ok.mx.test"}},
		{"missing dnsbl file", "--dnsbl-file", append(r, "--dnsbl-file", "/nonexistent/lists.yaml", "ok.mx.test")},
		{"invalid dnsbl file", "--dnsbl-file", append(r, "--dnsbl-file", "../../testdata/zones/bad/garbage.zone", "ok.mx.test")},
		{"missing trust anchor", "--trust-anchor", append(r, "--trust-anchor", "/nonexistent/anchors", "ok.mx.test")},
		{"invalid trust anchor", "--trust-anchor: ../../testdata/zones/example.org.zone", append(r, "--trust-anchor", "../../testdata/zones/example.org.zone", "ok.mx.test")},
		{"bad dkim selector", `--dkim-selector "bad selector!"`, append(r, "--dkim-selector", "bad selector!", "ok.mx.test")},
		{"bad submission host", "--submission-host", append(r, "--submission-host", "mail.example.org:http", "ok.mx.test")},
		{"bad imap host", "--imap-host", append(r, "--imap-host", "imap://mail.example.org", "ok.mx.test")},
		{"bad pop3 port", `--pop3-host: "mail.example.org:0"`, append(r, "--pop3-host", "mail.example.org:0", "ok.mx.test")},
		{"bad relay recipient", "--relay-test-rcpt", append(r, "--relay-test-rcpt", "junk", "ok.mx.test")},
		{"relay recipient bad domain", "--relay-test-rcpt", append(r, "--relay-test-rcpt", "a@b..c", "ok.mx.test")},
		{"IP address as domain", "192.0.2.1 is an IP address; give a domain name", append(r, "192.0.2.1")},
		{"IPv6 address as domain", "is an IP address", append(r, "2001:db8::1")},
		{"single label", "a single label; give a domain name", append(r, "localhost")},
		{"empty checks", "--checks: empty list", append(r, "--checks", "", "ok.mx.test")},
		{"spf eval bad sender", "--sender", append(r, "spf", "eval", "--ip", "192.0.2.1", "--sender", "x@good..test")},
		{"spf eval sender without domain", "--sender", append(r, "spf", "eval", "--ip", "192.0.2.1", "--sender", "x@")},
		{"spf eval bad helo", "--helo", append(r, "spf", "eval", "--ip", "192.0.2.1", "--helo", "bad..helo")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.Total()
			code, stdout, stderr := cli(t, tc.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d\n%s\n%s", code, exitUsage, stdout, stderr)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr %q lacks %q", stderr, tc.stderr)
			}
			if n := srv.Total() - before; n != 0 {
				t.Errorf("%d DNS questions sent before the usage error", n)
			}
		})
	}
}

// TestFlagValuesCaseInsensitive: --format JSON and --checks MX are the
// same as their lower-case forms.
func TestFlagValuesCaseInsensitive(t *testing.T) {
	srv := startMX(t)
	code, stdout, stderr := cli(t, "--resolver", srv.Addr, "--format", "JSON", "--checks", "MX,Ptr", "ok.mx.test")
	if code != exitOK || !strings.HasPrefix(stdout, `{"schema_version"`) {
		t.Errorf("exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// failingWriter fails every write, as a closed stdout or a full disk does.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestUnwritableReport exits with its own code (4), not 3.
func TestUnwritableReport(t *testing.T) {
	srv := startMX(t)
	var errb strings.Builder
	a := newApp(failingWriter{}, &errb)
	a.getenv = func(string) string { return "" }
	code := a.run(context.Background(), []string{"--resolver", srv.Addr, "--checks", "mx", "ok.mx.test"})
	if code != exitOutput || !strings.Contains(errb.String(), "writing the report: no space left on device") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
}
