package smtpprobe_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailcheck/mailcheck/internal/smtpprobe"
	"github.com/mailcheck/mailcheck/internal/smtptest"
)

type direct struct{ to string }

func (d direct) DialContext(ctx context.Context, network, _ string) (net.Conn, error) {
	var nd net.Dialer
	return nd.DialContext(ctx, network, d.to)
}

func TestProbeServers(t *testing.T) {
	ca := smtptest.NewCA(t, "Test CA")
	other := smtptest.NewCA(t, "Untrusted CA")
	now := time.Now()
	good := &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, smtptest.CertOptions{Names: []string{"mx.test"}})}}
	tls11 := &tls.Config{Certificates: good.Certificates, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	expired := &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, smtptest.CertOptions{Names: []string{"mx.test"}, NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(0, 0, -3)})}}
	wrong := &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, smtptest.CertOptions{Names: []string{"other.test"}})}}
	untrusted := &tls.Config{Certificates: []tls.Certificate{other.Issue(t, smtptest.CertOptions{Names: []string{"mx.test"}, RSABits: 1024})}}

	tests := []struct {
		name  string
		opts  smtptest.Options
		mode  smtpprobe.Mode
		check func(t *testing.T, r *smtpprobe.Result)
	}{
		{"starttls valid", smtptest.Options{TLS: good, Local: "test"}, smtpprobe.Relay, func(t *testing.T, r *smtpprobe.Result) {
			if r.Err != nil || !r.StartTLSOffered || r.TLS == nil || !r.TLS.Trusted || !r.TLS.NameOK || r.TLS.Expired {
				t.Fatalf("got err=%v tls=%+v", r.Err, r.TLS)
			}
			if r.TLS.Version != "TLS 1.3" || r.BannerHost != "mx.test" || r.Banner.Code != 220 {
				t.Errorf("version %s banner %v", r.TLS.Version, r.Banner)
			}
			if r.RelayRcpt == nil || r.RelayRcpt.Code != 554 || r.RelayRcpt.Enhanced() != "5.7.1" {
				t.Errorf("relay rcpt = %v", r.RelayRcpt)
			}
			if r.EHLOAfterTLS == nil || len(r.ExtensionsTLS) == 0 {
				t.Errorf("no EHLO after TLS: %v", r.EHLOAfterTLS)
			}
		}},
		{"open relay", smtptest.Options{OpenRelay: true}, smtpprobe.Relay, func(t *testing.T, r *smtpprobe.Result) {
			if r.RelayRcpt == nil || r.RelayRcpt.Code != 250 || r.StartTLSOffered {
				t.Fatalf("rcpt %v starttls %v", r.RelayRcpt, r.StartTLSOffered)
			}
		}},
		{"tls 1.1", smtptest.Options{TLS: tls11}, smtpprobe.Relay, func(t *testing.T, r *smtpprobe.Result) {
			if r.TLS == nil || r.TLS.Version != "TLS 1.1" {
				t.Fatalf("tls = %+v err %v", r.TLS, r.TLSError)
			}
		}},
		{"expired", smtptest.Options{TLS: expired}, smtpprobe.Relay, func(t *testing.T, r *smtpprobe.Result) {
			if r.TLS == nil || !r.TLS.Expired || !r.TLS.Trusted || r.TLS.DaysLeft != -4 {
				t.Fatalf("tls = %+v", r.TLS)
			}
		}},
		{"wrong name", smtptest.Options{TLS: wrong}, smtpprobe.Relay, func(t *testing.T, r *smtpprobe.Result) {
			if r.TLS == nil || r.TLS.NameOK || !r.TLS.Trusted || !strings.Contains(r.TLS.NameError, "other.test") {
				t.Fatalf("tls = %+v", r.TLS)
			}
		}},
		{"untrusted small key", smtptest.Options{TLS: untrusted}, smtpprobe.Relay, func(t *testing.T, r *smtpprobe.Result) {
			if r.TLS == nil || r.TLS.Trusted || !strings.Contains(r.TLS.TrustError, "unknown authority") || r.TLS.Leaf().Key() != "RSA 1024" {
				t.Fatalf("tls = %+v", r.TLS)
			}
		}},
		{"auth before tls", smtptest.Options{TLS: good, Auth: true, AuthBeforeTLS: true}, smtpprobe.Submission, func(t *testing.T, r *smtpprobe.Result) {
			if strings.Join(r.AuthBeforeTLS, ",") != "PLAIN" || r.MailBeforeTLS.Code != 250 {
				t.Fatalf("auth %v mail %v", r.AuthBeforeTLS, r.MailBeforeTLS)
			}
		}},
		{"submission requires tls", smtptest.Options{TLS: good, Auth: true, RequireTLS: true}, smtpprobe.Submission, func(t *testing.T, r *smtpprobe.Result) {
			if r.AuthBeforeTLS != nil || r.MailBeforeTLS.Code != 530 || strings.Join(r.AuthAfterTLS, ",") != "PLAIN" {
				t.Fatalf("before %v mail %v after %v", r.AuthBeforeTLS, r.MailBeforeTLS, r.AuthAfterTLS)
			}
		}},
		{"implicit tls", smtptest.Options{TLS: good, Implicit: true, Auth: true}, smtpprobe.Implicit, func(t *testing.T, r *smtpprobe.Result) {
			if r.Err != nil || r.TLS == nil || !r.TLS.Trusted || strings.Join(r.AuthAfterTLS, ",") != "PLAIN" || r.AuthBeforeTLS != nil {
				t.Fatalf("err %v tls %+v auth %v", r.Err, r.TLS, r.AuthAfterTLS)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t, tc.opts)
			r := smtpprobe.Probe(context.Background(), smtpprobe.Config{
				Host: "mx.test", Address: "192.0.2.25:25", Mode: tc.mode, Dialer: direct{srv.Addr},
				RootCAs: ca.Pool, Timeout: 5 * time.Second, RelayRcpt: "relay@mailcheck.invalid",
			})
			tc.check(t, r)
			if srv.DataCount() != 0 {
				t.Errorf("DATA was sent")
			}
		})
	}
}

func TestProbeHostile(t *testing.T) {
	tests := []struct {
		name    string
		h       smtptest.Handler
		stage   string
		err     error
		timeout time.Duration
	}{
		{"silent", smtptest.Silent, smtpprobe.StageBanner, smtpprobe.ErrTimeout, 300 * time.Millisecond},
		{"one byte a second", smtptest.Trickle(time.Second), smtpprobe.StageBanner, smtpprobe.ErrTimeout, 1500 * time.Millisecond},
		{"endless multi-line", smtptest.Endless, smtpprobe.StageBanner, smtpprobe.ErrTooManyLines, 5 * time.Second},
		{"endless line", smtptest.LongLine, smtpprobe.StageBanner, smtpprobe.ErrLineTooLong, 5 * time.Second},
		{"garbage", smtptest.Garbage, smtpprobe.StageBanner, smtpprobe.ErrMalformed, 5 * time.Second},
		{"closes", func(c net.Conn, _ <-chan struct{}) {}, smtpprobe.StageBanner, smtpprobe.ErrClosed, 5 * time.Second},
		{"EHLO flood", smtptest.Script("220 mx.test ESMTP", map[string]string{"EHLO": "250-mx.test\n" + strings.Repeat("250-X\n", 200) + "250 OK"}), smtpprobe.StageEHLO, smtpprobe.ErrTooManyLines, 5 * time.Second},
		{"code change", smtptest.Script("220-mx.test\n421 bye", nil), smtpprobe.StageBanner, smtpprobe.ErrCodeMismatch, 5 * time.Second},
	}
	for _, tc := range tests {
		// Fake time (synctest) over net.Pipe: the bound is exact, and no
		// load on the machine can move it.
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				r := smtpprobe.Probe(context.Background(), smtpprobe.Config{Host: "mx.test", Address: "192.0.2.25:25", Dialer: smtptest.PipeDialer(tc.h), Timeout: tc.timeout})
				if !errors.Is(r.Err, tc.err) || r.Stage != tc.stage {
					t.Fatalf("got stage %q err %v, want %q %v\n%s", r.Stage, r.Err, tc.stage, tc.err, strings.Join(r.Transcript, "\n"))
				}
				if d := time.Since(start); d > tc.timeout {
					t.Errorf("took %s, over the %s timeout", d, tc.timeout)
				}
				if errors.Is(tc.err, smtpprobe.ErrTimeout) && time.Since(start) != tc.timeout {
					t.Errorf("timed out after %s, want exactly %s", time.Since(start), tc.timeout)
				}
			})
		})
	}
}

func TestProbeGreetingAndPlainSMTP(t *testing.T) {
	tests := []struct {
		name   string
		h      smtptest.Handler
		check  func(*smtpprobe.Result) bool
		stage  string
		banner int
	}{
		{"421 greeting", smtptest.Greeting("421 4.3.2 mx.test busy, try later"), nil, smtpprobe.StageBanner, 421},
		{"no ESMTP", smtptest.Script("220 old.test SMTP", map[string]string{"EHLO": "502 5.5.1 unrecognized", "HELO": "250 old.test", "MAIL": "250 ok", "RCPT": "550 5.7.1 relaying denied", "RSET": "250 ok"}), func(r *smtpprobe.Result) bool {
			return !r.ESMTP && r.HELO != nil && r.HELO.Code == 250 && r.RelayRcpt.Code == 550 && !r.StartTLSOffered
		}, "", 220},
		{"STARTTLS refused", smtptest.Script("220 mx.test ESMTP", map[string]string{"EHLO": "250-mx.test\n250 STARTTLS", "MAIL": "250 ok", "RCPT": "554 5.7.1 Relay access denied", "RSET": "250 ok", "STARTTLS": "454 4.7.0 TLS not available due to local problem"}), func(r *smtpprobe.Result) bool {
			return r.StartTLSOffered && r.StartTLS.Code == 454 && strings.Contains(r.TLSError, "454") && errors.Is(r.Err, smtpprobe.ErrNotTLS)
		}, smtpprobe.StageStartTLS, 220},
		{"TLS handshake garbage", smtptest.Script("220 mx.test ESMTP", map[string]string{"EHLO": "250-mx.test\n250 STARTTLS", "MAIL": "250 ok", "RCPT": "554 no", "RSET": "250 ok", "STARTTLS": "220 go ahead\nthis is not TLS"}), func(r *smtpprobe.Result) bool {
			return r.TLS == nil && strings.HasPrefix(r.TLSError, "TLS handshake failed")
		}, smtpprobe.StageTLS, 220},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := smtptest.StartFake(t, tc.h)
			r := smtpprobe.Probe(context.Background(), smtpprobe.Config{Host: "mx.test", Address: "192.0.2.25:25", Dialer: direct{addr}, Timeout: 3 * time.Second, RelayRcpt: "x@mailcheck.invalid"})
			if r.Stage != tc.stage || r.Banner == nil || r.Banner.Code != tc.banner || (tc.check != nil && !tc.check(r)) {
				t.Fatalf("stage %q err %v banner %v\n%s", r.Stage, r.Err, r.Banner, strings.Join(r.Transcript, "\n"))
			}
		})
	}
}

// A session the caller ends (the audit deadline, an interruption) says
// so, and is never blamed on the server as a timeout.
func TestProbeEndedByCaller(t *testing.T) {
	tests := []struct {
		name  string
		ctx   func() (context.Context, context.CancelFunc)
		want  error
		words string
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		}, smtpprobe.ErrDeadline, "the audit deadline ended the probe of 192.0.2.25:25 at the banner stage"},
		{"interrupted", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			return ctx, cancel
		}, smtpprobe.ErrInterrupted, "interrupted: the run was stopped during the probe of 192.0.2.25:25 at the banner stage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := tc.ctx()
				defer cancel()
				r := smtpprobe.Probe(ctx, smtpprobe.Config{Host: "mx.test", Address: "192.0.2.25:25", Dialer: smtptest.PipeDialer(smtptest.Silent), Timeout: time.Minute})
				if !errors.Is(r.Err, tc.want) || errors.Is(r.Err, smtpprobe.ErrTimeout) || r.Err.Error() != tc.words {
					t.Fatalf("err %v", r.Err)
				}
				if r.Duration != 200*time.Millisecond {
					t.Errorf("the session lasted %s, want the 200ms the caller gave it", r.Duration)
				}
			})
		})
	}
}

func TestTranscriptTraceAndSanitizing(t *testing.T) {
	addr := smtptest.StartFake(t, smtptest.Script("220 mx.test \x1b[31mESMTP", map[string]string{"EHLO": "250 mx.test"}))
	var b strings.Builder
	r := smtpprobe.Probe(context.Background(), smtpprobe.Config{Host: "mx.test", Address: "192.0.2.25:25", Dialer: direct{addr}, Timeout: 3 * time.Second, Trace: &lockedBuilder{b: &b}})
	want := "smtp mx.test[192.0.2.25:25] < 220 mx.test \\x1b[31mESMTP"
	if !strings.Contains(b.String(), want) || strings.Contains(b.String(), "\x1b") {
		t.Fatalf("trace:\n%s", b.String())
	}
	if r.Transcript[len(r.Transcript)-2] != "> QUIT" {
		t.Errorf("transcript: %q", r.Transcript)
	}
}

type lockedBuilder struct{ b *strings.Builder }

func (l *lockedBuilder) Write(p []byte) (int, error) { return l.b.Write(p) }

func TestReplyEnhanced(t *testing.T) {
	for in, want := range map[string]string{"5.7.1 Relay access denied": "5.7.1", "Relay access denied": "", "2.0.0": "2.0.0", "6.1.1 x": "", "5.x.1 y": ""} {
		r := &smtpprobe.Reply{Code: 554, Lines: []string{in}}
		if got := r.Enhanced(); got != want {
			t.Errorf("Enhanced(%q) = %q, want %q", in, got, want)
		}
	}
}
