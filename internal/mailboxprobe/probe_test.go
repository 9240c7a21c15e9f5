package mailboxprobe_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mailcheck/mailcheck/internal/mailboxprobe"
	"github.com/mailcheck/mailcheck/internal/smtptest"
)

// fake serves m on a loopback port and returns a config that reaches it
// as host at 192.0.2.1:port, with the test CA trusted.
func fake(t *testing.T, m smtptest.Mailbox, host string, port string) (mailboxprobe.Config, *smtptest.CA) {
	t.Helper()
	ca := smtptest.NewCA(t, "mailboxprobe test CA")
	if m.TLS == nil && (m.Implicit || m.TLS != nil) {
		m.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, smtptest.CertOptions{Names: []string{host}})}}
	}
	d := smtptest.NewDialer().Map("192.0.2.1:"+port, smtptest.StartFake(t, m.Handler()))
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.PEM())
	proto := mailboxprobe.IMAP
	if !m.IMAP {
		proto = mailboxprobe.POP3
	}
	return mailboxprobe.Config{Protocol: proto, Host: host, Address: "192.0.2.1:" + port, Dialer: d, RootCAs: roots, Timeout: 5 * time.Second, Implicit: m.Implicit}, ca
}

func withCert(t *testing.T, ca *smtptest.CA, host string) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, smtptest.CertOptions{Names: []string{host}})}}
}

func TestIMAPStartTLS(t *testing.T) {
	ca := smtptest.NewCA(t, "ca")
	m := smtptest.Mailbox{IMAP: true, Greeting: "* OK [CAPABILITY IMAP4rev1] ready", TLS: withCert(t, ca, "imap.test"),
		Replies:  map[string]string{"CAPABILITY": "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\nTAG OK done"},
		AfterTLS: map[string]string{"CAPABILITY": "* CAPABILITY IMAP4rev1 AUTH=PLAIN\nTAG OK done"}}
	cfg, _ := fake(t, m, "imap.test", "143")
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.PEM())
	cfg.RootCAs = roots
	r := mailboxprobe.Probe(context.Background(), cfg)
	if r.Err != nil {
		t.Fatalf("err %v\n%v", r.Err, r.Transcript)
	}
	if !r.StartTLSOffered || r.TLS == nil || !r.TLS.Trusted || r.CleartextAuth() != nil {
		t.Fatalf("result %+v", r)
	}
	if !slices.Contains(r.CapabilitiesTLS, "AUTH=PLAIN") || mailboxprobe.IMAPRevision(r.Capabilities) != "IMAP4rev1" {
		t.Fatalf("caps %v %v", r.Capabilities, r.CapabilitiesTLS)
	}
	if r.Transcript[len(r.Transcript)-1] != "< a4 OK LOGOUT completed" {
		t.Fatalf("no logout: %v", r.Transcript)
	}
}

func TestIMAPCleartextLogin(t *testing.T) {
	m := smtptest.Mailbox{IMAP: true, Greeting: "* OK ready",
		Replies: map[string]string{"CAPABILITY": "* CAPABILITY IMAP4rev2 AUTH=PLAIN\nTAG OK done"}}
	cfg, _ := fake(t, m, "imap.test", "143")
	r := mailboxprobe.Probe(context.Background(), cfg)
	if r.Err != nil || r.StartTLSOffered || !slices.Equal(r.CleartextAuth(), []string{"LOGIN", "AUTH=PLAIN"}) {
		t.Fatalf("result %+v %v", r, r.CleartextAuth())
	}
}

func TestPOP3(t *testing.T) {
	m := smtptest.Mailbox{Greeting: "+OK ready", Implicit: true,
		Replies: map[string]string{"CAPA": "+OK\nTOP\nUSER\nSASL PLAIN\n."}}
	cfg, _ := fake(t, m, "pop.test", "995")
	r := mailboxprobe.Probe(context.Background(), cfg)
	if r.Err != nil || r.TLS == nil || !slices.Contains(r.Capabilities, "USER") || r.CleartextAuth() != nil {
		t.Fatalf("result %+v\n%v", r, r.Transcript)
	}
	m = smtptest.Mailbox{Greeting: "+OK ready", Replies: map[string]string{"CAPA": "+OK\nUSER\nSASL login\n."}}
	cfg, _ = fake(t, m, "pop.test", "110")
	r = mailboxprobe.Probe(context.Background(), cfg)
	if r.Err != nil || r.StartTLSOffered || !slices.Equal(r.CleartextAuth(), []string{"USER", "SASL LOGIN"}) {
		t.Fatalf("result %+v %v", r, r.CleartextAuth())
	}
}

func TestRefusals(t *testing.T) {
	for name, m := range map[string]smtptest.Mailbox{
		"bye":     {IMAP: true, Greeting: "* BYE too many connections"},
		"err":     {Greeting: "-ERR go away"},
		"garbage": {IMAP: true, Greeting: "HTTP/1.1 400 Bad Request"},
	} {
		cfg, _ := fake(t, m, "x.test", "143")
		r := mailboxprobe.Probe(context.Background(), cfg)
		if r.Stage != mailboxprobe.StageGreeting || r.Err == nil {
			t.Errorf("%s: stage %q err %v", name, r.Stage, r.Err)
		}
	}
}

func TestGarbageAfterStartTLS(t *testing.T) {
	m := smtptest.Mailbox{IMAP: true, Greeting: "* OK ready",
		Replies: map[string]string{"CAPABILITY": "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\nTAG OK done"}}
	cfg, _ := fake(t, m, "imap.test", "143")
	r := mailboxprobe.Probe(context.Background(), cfg)
	if r.Stage != mailboxprobe.StageTLS || r.TLSError == "" || r.TLS != nil {
		t.Fatalf("stage %q tls error %q", r.Stage, r.TLSError)
	}
}

// Hostile servers end in an error, never a hang: the session timeout is
// the only bound (a test timeout would catch a hang).
func TestHostile(t *testing.T) {
	for name, h := range map[string]smtptest.Handler{
		"silent":  smtptest.Silent,
		"trickle": smtptest.Trickle(time.Second),
		"endless": floodCapability,
	} {
		d := smtptest.NewDialer().Map("192.0.2.1:143", smtptest.StartFake(t, h))
		cfg := mailboxprobe.Config{Protocol: mailboxprobe.IMAP, Host: "x.test", Address: "192.0.2.1:143", Dialer: d, Timeout: 2 * time.Second}
		r := mailboxprobe.Probe(context.Background(), cfg)
		if r.Err == nil {
			t.Errorf("%s: no error", name)
		}
		if name != "endless" && !errors.Is(r.Err, mailboxprobe.ErrTimeout) {
			t.Errorf("%s: %v", name, r.Err)
		}
		if name == "endless" && !errors.Is(r.Err, mailboxprobe.ErrTooManyLines) {
			t.Errorf("%s: %v", name, r.Err)
		}
	}
}
