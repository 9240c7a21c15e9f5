package submit

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	msgdkim "github.com/emersion/go-msgauth/dkim"

	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/smtptest"
	"github.com/mailcheck/mailcheck/internal/submit/submittest"
)

const password = "s3cret-Pa55-word"

func compose(t *testing.T) []byte {
	t.Helper()
	raw, _, err := Compose(Message{From: "a@example.test", To: "b@example.test", Hostname: "host.example.test",
		Date: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestCompose(t *testing.T) {
	raw, id, err := Compose(Message{From: "a@example.test", To: "b@example.test", Hostname: "host.example.test",
		Date: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(id, "@host.example.test") || !bytes.Contains(raw, []byte("Subject: =?utf-8?q?")) {
		t.Errorf("id %q, message:\n%s", id, raw)
	}
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
		t.Error("a bare LF in the message")
	}
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if subj, _ := r.Header.Subject(); subj != DefaultSubject {
		t.Errorf("subject %q", subj)
	}
	if ct, _, _ := r.Header.ContentType(); ct != "multipart/alternative" {
		t.Errorf("content type %q", ct)
	}
	var types []string
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		ct, params, _ := p.Header.(*mail.InlineHeader).ContentType()
		body, _ := io.ReadAll(p.Body)
		if params["charset"] != "utf-8" || !strings.Contains(string(body), "Grüße") {
			t.Errorf("%s part: %v %q", ct, params, body)
		}
		types = append(types, ct)
	}
	if strings.Join(types, ",") != "text/plain,text/html" {
		t.Errorf("parts %v", types)
	}
}

// serverTLS is a TLS config for mail.submit.test issued by a test CA.
func serverTLS(t *testing.T) (*tls.Config, *smtptest.CA) {
	ca := smtptest.NewCA(t, "submit test CA")
	cert := ca.Issue(t, smtptest.CertOptions{Names: []string{"localhost"}})
	return &tls.Config{Certificates: []tls.Certificate{cert}}, ca
}

func ids(r *Result) string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.ID)
	}
	return strings.Join(out, " ")
}

// checkNoPassword fails when the password, in any form, is in the
// transcript, the trace or the findings.
func checkNoPassword(t *testing.T, r *Result, trace string) {
	t.Helper()
	all := trace + strings.Join(r.Transcript, "\n")
	for _, f := range r.Findings {
		all += f.Message + f.Fix + strings.Join(f.Records, "")
	}
	for _, s := range secrets("user@example.test", password) {
		if strings.Contains(all, s) {
			t.Errorf("the password appears in the output:\n%s", all)
		}
	}
}

func TestSendStartTLS(t *testing.T) {
	cfg, ca := serverTLS(t)
	srv := submittest.Start(t, submittest.Options{TLS: cfg, User: "user@example.test", Pass: password})
	addr := strings.Replace(srv.Addr, "127.0.0.1", "localhost", 1)
	var trace bytes.Buffer
	r := Send(context.Background(), Options{Addr: addr, Roots: ca.Pool, Helo: "client.example.test",
		User: "user@example.test", Password: password, From: "a@example.test", To: []string{"b@example.test"}, Trace: &trace}, compose(t))
	if ids(r) != "submit.tls-ok submit.cert-ok submit.auth-after-tls submit.auth-ok submit.accepted" || !r.Passed() {
		t.Fatalf("findings %s\n%s", ids(r), strings.Join(r.Transcript, "\n"))
	}
	if len(srv.Messages()) != 1 || !strings.HasPrefix(r.Reply, "250 ") {
		t.Errorf("%d messages, reply %q", len(srv.Messages()), r.Reply)
	}
	tr := trace.String()
	for _, want := range []string{"> EHLO localhost", "> STARTTLS", "< 220 ", "> EHLO client.example.test", "> AUTH PLAIN [credentials", "> MAIL FROM:<a@example.test>", "< 250 "} {
		if !strings.Contains(tr, want) {
			t.Errorf("trace lacks %q:\n%s", want, tr)
		}
	}
	checkNoPassword(t, r, tr)
}

func TestSendImplicitTLS(t *testing.T) {
	cfg, ca := serverTLS(t)
	srv := submittest.Start(t, submittest.Options{TLS: cfg, Implicit: true, User: "u", Pass: password})
	addr := strings.Replace(srv.Addr, "127.0.0.1", "localhost", 1)
	r := Send(context.Background(), Options{Addr: addr, Implicit: true, Roots: ca.Pool, Helo: "c.example.test",
		User: "u", Password: password, From: "a@example.test", To: []string{"b@example.test"}}, compose(t))
	if !r.Passed() || len(srv.Messages()) != 1 || !strings.Contains(ids(r), "submit.auth-ok") {
		t.Fatalf("findings %s\n%s", ids(r), strings.Join(r.Transcript, "\n"))
	}
	checkNoPassword(t, r, "")
}

func TestSendFailures(t *testing.T) {
	cfg, ca := serverTLS(t)
	tests := []struct {
		name string
		o    submittest.Options
		opts Options
		want string
	}{
		{"auth before TLS", submittest.Options{TLS: cfg, User: "u", Pass: password, AuthBeforeTLS: true},
			Options{Roots: ca.Pool, User: "u", Password: password}, "submit.auth-before-tls submit.tls-ok submit.cert-ok submit.auth-ok submit.accepted"},
		{"wrong password", submittest.Options{TLS: cfg, User: "u", Pass: "other"},
			Options{Roots: ca.Pool, User: "u", Password: password}, "submit.tls-ok submit.cert-ok submit.auth-after-tls submit.auth-failed"},
		{"untrusted certificate", submittest.Options{TLS: cfg, User: "u", Pass: password},
			Options{User: "u", Password: password}, "submit.tls-ok submit.cert-invalid"},
		{"no STARTTLS", submittest.Options{User: "u", Pass: password, AuthBeforeTLS: true},
			Options{User: "u", Password: password}, "submit.auth-before-tls submit.starttls-missing"},
		{"no AUTH", submittest.Options{TLS: cfg},
			Options{Roots: ca.Pool, User: "u", Password: password}, "submit.tls-ok submit.cert-ok submit.auth-not-offered"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := submittest.Start(t, tc.o)
			o := tc.opts
			o.Addr, o.From, o.To = strings.Replace(srv.Addr, "127.0.0.1", "localhost", 1), "a@example.test", []string{"b@example.test"}
			var trace bytes.Buffer
			o.Trace = &trace
			r := Send(context.Background(), o, compose(t))
			if ids(r) != tc.want {
				t.Errorf("findings %s, want %s\n%s", ids(r), tc.want, trace.String())
			}
			if strings.HasSuffix(tc.want, "accepted") != (len(srv.Messages()) == 1) {
				t.Errorf("%d messages sent", len(srv.Messages()))
			}
			checkNoPassword(t, r, trace.String())
		})
	}
}

func TestSendConnectFailure(t *testing.T) {
	r := Send(context.Background(), Options{Addr: "localhost:1", From: "a@example.test", To: []string{"b@example.test"}}, compose(t))
	if ids(r) != "submit.connect-failed" || r.Passed() {
		t.Errorf("findings %s", ids(r))
	}
}

// keyPEMs are test keys in the forms --dkim-key reads.
func keyPEMs(t *testing.T) map[string][]byte {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, ek, _ := ed25519.GenerateKey(rand.Reader)
	p8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	return map[string][]byte{
		"rsa-pkcs1": pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}),
		"rsa-pkcs8": p8(rk),
		"ed25519":   p8(ek),
	}
}

// TXTZone renders a TXT record in zone-file form, split in 255-octet strings.
func txtZone(name, txt string) string {
	var parts []string
	for len(txt) > 255 {
		parts = append(parts, `"`+txt[:255]+`"`)
		txt = txt[255:]
	}
	parts = append(parts, `"`+txt+`"`)
	return name + " 300 IN TXT " + strings.Join(parts, " ") + "\n"
}

func TestSignAndCheckKey(t *testing.T) {
	other, _ := LoadKey(keyPEMs(t)["ed25519"])
	for name, p := range keyPEMs(t) {
		t.Run(name, func(t *testing.T) {
			key, err := LoadKey(p)
			if err != nil {
				t.Fatal(err)
			}
			zone := "$ORIGIN example.test.\n@ 300 IN SOA ns hostmaster 1 2 3 4 5\n" +
				txtZone("good._domainkey", PublicRecord(key)) + txtZone("wrong._domainkey", PublicRecord(other)) +
				"revoked._domainkey 300 IN TXT \"v=DKIM1; p=\"\n"
			r := resolve.NewCache(&resolve.Zones{List: []*resolve.Zone{dnstest.Zone(t, "example.test.", zone)}})
			for sel, want := range map[string]string{"good": "submit.dkim-key-match", "wrong": "submit.dkim-key-mismatch",
				"revoked": "submit.dkim-key-missing", "absent": "submit.dkim-key-missing"} {
				if f := CheckKey(context.Background(), r, "example.test", sel, key); f.ID != want {
					t.Errorf("selector %s: %s (%s), want %s", sel, f.ID, f.Message, want)
				}
			}
			signed, err := Sign(compose(t), key, "example.test", "good")
			if err != nil {
				t.Fatal(err)
			}
			vs, err := msgdkim.VerifyWithOptions(bytes.NewReader(signed), &msgdkim.VerifyOptions{
				LookupTXT: func(string) ([]string, error) { return []string{PublicRecord(key)}, nil }})
			if err != nil || len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "example.test" {
				t.Errorf("verify: %v %+v", err, vs)
			}
		})
	}
}

func TestLoadKeyRejects(t *testing.T) {
	for _, p := range [][]byte{[]byte("not pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}})} {
		if _, err := LoadKey(p); err == nil {
			t.Errorf("LoadKey(%q) accepted", p)
		}
	}
}

var _ crypto.Signer = ed25519.PrivateKey(nil)

// TestEveryIDHasADocEntry: every ID of Catalog has one row in
// docs/sendtest.md, and each is declared once.
func TestEveryIDHasADocEntry(t *testing.T) {
	b, err := os.ReadFile("../../docs/sendtest.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range Catalog.Specs() {
		if seen[s.ID] || strings.Count(string(b), "| `"+s.ID+"` |") != 1 {
			t.Errorf("%s: declared twice or not exactly one row in docs/sendtest.md", s.ID)
		}
		seen[s.ID] = true
		if !strings.HasPrefix(s.ID, "submit.") || !s.Severity.Valid() || s.Summary == "" {
			t.Errorf("spec %+v", s)
		}
	}
}
