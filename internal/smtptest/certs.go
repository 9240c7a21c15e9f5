// Package smtptest runs SMTP servers on 127.0.0.1 for hermetic tests: real
// go-smtp servers configured like common setups (STARTTLS, implicit TLS,
// open relay, AUTH before TLS), hostile fakes (silent, slow, flooding,
// garbage), test certificates generated at run time, and a Dialer that
// maps the addresses a check dials to those listeners.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync/atomic"
	"testing"
	"time"
)

// CA is a test certificate authority.
type CA struct {
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// chain is what a server presents above its own certificate: this
	// CA's certificate and its parents' when it is an intermediate.
	chain [][]byte
	// Pool trusts only this CA.
	Pool *x509.CertPool
}

var serial atomic.Int64

// NewCA makes a CA valid from five years ago for ten years.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	// NotBefore: before any expired test certificate.
	key, tmpl := caTemplate(t, name, time.Now().AddDate(-5, 0, 0), time.Now().AddDate(10, 0, 0))
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{Cert: cert, key: key, Pool: pool}
}

// caTemplate makes a CA key and the template of its certificate.
func caTemplate(t testing.TB, name string, notBefore, notAfter time.Time) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key, &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"mailcheck tests"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
}

// Intermediate makes a CA signed by ca, valid from notBefore to
// notAfter; the certificates it issues carry it in their chain.
func (ca *CA) Intermediate(t testing.TB, name string, notBefore, notAfter time.Time) *CA {
	t.Helper()
	key, tmpl := caTemplate(t, name, notBefore, notAfter)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &CA{Cert: cert, key: key, Pool: ca.Pool, chain: append([][]byte{der}, ca.chain...)}
}

// PEM returns the CA certificate in PEM form (for --ca-file).
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// CertOptions shape a server certificate.
type CertOptions struct {
	Names     []string  // subjectAltName DNS names (and the CN)
	NotBefore time.Time // zero: an hour ago
	NotAfter  time.Time // zero: in 90 days
	RSABits   int       // 0: ECDSA P-256; else an RSA key of this size
	// CommonName is the subject's CN (default: the first name); Issuer
	// overrides the issuer's CN written into the certificate (a hostile
	// certificate; it then verifies against nothing).
	CommonName string
	Issuer     string
}

// Issue makes a server certificate signed by ca.
func (ca *CA) Issue(t testing.TB, o CertOptions) tls.Certificate {
	t.Helper()
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().AddDate(0, 0, 90)
	}
	var pub, priv any
	if o.RSABits > 0 {
		k, err := rsa.GenerateKey(rand.Reader, o.RSABits)
		if err != nil {
			t.Fatal(err)
		}
		pub, priv = &k.PublicKey, k
	} else {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub, priv = &k.PublicKey, k
	}
	cn := o.CommonName
	if cn == "" && len(o.Names) > 0 {
		cn = o.Names[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     o.Names,
		NotBefore:    o.NotBefore,
		NotAfter:     o.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	parent := ca.Cert
	if o.Issuer != "" {
		p := *ca.Cert
		p.RawSubject = nil
		p.Subject.CommonName = o.Issuer
		parent = &p
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: append([][]byte{der}, ca.chain...), PrivateKey: priv, Leaf: leaf}
}

// KeyPEM returns the certificate and key of c in PEM form (for servers
// configured from files, such as Postfix).
func KeyPEM(t testing.TB, c tls.Certificate) (certPEM, keyPEM []byte) {
	t.Helper()
	for _, der := range c.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
