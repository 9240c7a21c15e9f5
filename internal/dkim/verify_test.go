package dkim

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"
	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// TestVerifyDemoZone signs a message with the demo zone's private key and
// verifies it through the real DNS client against the in-process server
// serving testdata/zones/example.org.zone: the key comes from the zone,
// through the project's resolver and cache, and nowhere else.
func TestVerifyDemoZone(t *testing.T) {
	b, err := os.ReadFile("../../testdata/keys/mail2026.example.org.key")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatal("no PEM block")
	}
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	msg := strings.ReplaceAll("From: Alice <alice@example.org>\nTo: bob@example.net\nSubject: demo\nDate: Fri, 27 Nov 2026 08:00:00 +0000\nMessage-ID: <demo@example.org>\n\nHello.\n", "\n", "\r\n")
	var signed bytes.Buffer
	if err := msgdkim.Sign(&signed, strings.NewReader(msg), &msgdkim.SignOptions{Domain: "example.org", Selector: "mail2026", Signer: priv.(crypto.Signer)}); err != nil {
		t.Fatal(err)
	}
	var twice bytes.Buffer
	if err := msgdkim.Sign(&twice, bytes.NewReader(signed.Bytes()), &msgdkim.SignOptions{Domain: "example.org", Selector: "mail2026", Signer: priv.(crypto.Signer)}); err != nil {
		t.Fatal(err)
	}
	srv := dnstest.Start(t, "../../testdata/zones/example.org.zone")
	r := resolve.NewCache(srv.Resolver(time.Second))
	tests := []struct {
		name string
		msg  []byte
		want []Status
	}{
		{"signed", signed.Bytes(), []Status{StatusPass}},
		{"signed twice with the same key", twice.Bytes(), []Status{StatusPass, StatusPass}},
		{"body changed", bytes.Replace(signed.Bytes(), []byte("Hello."), []byte("Hell0."), 1), []Status{StatusFail}},
		{"unsigned", []byte(msg), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vs, err := Verify(context.Background(), r, bytes.NewReader(tc.msg))
			if err != nil {
				t.Fatal(err)
			}
			var got []Status
			for _, v := range vs {
				got = append(got, v.Status)
				if v.Domain != "example.org" {
					t.Errorf("d= %q", v.Domain)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("verdicts %v, want %v (%+v)", got, tc.want, vs)
			}
		})
	}
	if n := srv.Count("mail2026._domainkey.example.org", dns.TypeTXT); n != 1 {
		t.Errorf("the key was fetched %d times; the cache should make it once", n)
	}
	srv.Set("mail2026._domainkey.example.org", dnstest.ServFail)
	vs, err := Verify(context.Background(), resolve.NewCache(srv.Resolver(time.Second)), bytes.NewReader(signed.Bytes()))
	if err != nil || len(vs) != 1 || vs[0].Status != StatusTempError {
		t.Errorf("SERVFAIL: %+v %v", vs, err)
	}
}
