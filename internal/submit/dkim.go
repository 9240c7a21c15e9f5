package submit

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	msgdkim "github.com/emersion/go-msgauth/dkim"
	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/dkim"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// LoadKey reads a PEM private key for DKIM: RSA in PKCS#1 ("RSA PRIVATE
// KEY") or PKCS#8 form, or Ed25519 in PKCS#8 form.
func LoadKey(pemBytes []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("neither a PKCS#1 nor a PKCS#8 private key: %w", err)
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("a %T key: DKIM signs with RSA or Ed25519 only", k)
}

// Sign prepends a DKIM-Signature of domain and selector to raw
// (relaxed/relaxed, SHA-256, the fields a receiver's DMARC relies on).
func Sign(raw []byte, key crypto.Signer, domain, selector string) ([]byte, error) {
	var b bytes.Buffer
	err := msgdkim.Sign(&b, bytes.NewReader(raw), &msgdkim.SignOptions{
		Domain: domain, Selector: selector, Signer: key,
		HeaderCanonicalization: msgdkim.CanonicalizationRelaxed,
		BodyCanonicalization:   msgdkim.CanonicalizationRelaxed,
		HeaderKeys:             []string{"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"},
	})
	return b.Bytes(), err
}

// CheckKey looks up selector._domainkey.domain through r and says
// whether the published public key is the public half of key: the
// direct test that a private key matches its selector.
func CheckKey(ctx context.Context, r resolve.Resolver, domain, selector string, key crypto.Signer) findings.Finding {
	name := selector + "._domainkey." + domain
	txts, _, err := resolve.TXT(ctx, r, dns.Fqdn(strings.ToLower(name)))
	if err != nil && resolve.IsTemporary(err) {
		return SpecKeyTempError.New("The key record %s could not be looked up: %v.", name, err)
	}
	var recs []string
	for _, txt := range txts {
		recs = append(recs, name+" TXT "+txt)
		rec, err := dkim.Parse(txt)
		if err != nil || rec.Revoked() {
			continue
		}
		pub, err := rec.Key()
		if err != nil {
			continue
		}
		if eq, ok := pub.Public.(interface{ Equal(crypto.PublicKey) bool }); ok && eq.Equal(key.Public()) {
			return SpecKeyMatch.New("The key published at %s (%s) is the public half of --dkim-key.", name, pub).WithRecords(recs...)
		}
		return SpecKeyMismatch.New("The key published at %s (%s) is not the public half of --dkim-key: receivers will fail the signature.", name, pub).
			WithFix("Publish the key of --dkim-key: %s TXT \"%s\"", name, PublicRecord(key)).WithRecords(recs...)
	}
	return SpecKeyMissing.New("No usable DKIM key record at %s (none, revoked or unparseable).", name).
		WithFix("Publish: %s TXT \"%s\"", name, PublicRecord(key)).WithRecords(recs...)
}

// PublicRecord is the DKIM key record of key's public half.
func PublicRecord(key crypto.Signer) string {
	switch pub := key.Public().(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	default:
		der, _ := x509.MarshalPKIXPublicKey(pub)
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	}
}
