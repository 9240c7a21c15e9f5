package tlsinspect

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/mailcheck/mailcheck/internal/sanitize"
)

// Info is what a TLS handshake showed: the negotiated parameters and the
// server's certificate judged against the trust roots, the host name and
// the clock. The handshake itself never verifies (so that a bad certificate
// can still be described); the verdicts are computed here.
type Info struct {
	Version        string `json:"version"` // "TLS 1.3"
	VersionID      uint16 `json:"version_id"`
	Cipher         string `json:"cipher"`
	CipherInsecure bool   `json:"cipher_insecure,omitempty"`
	ServerName     string `json:"server_name"` // the name checked (SNI)
	Chain          []Cert `json:"chain"`

	Trusted    bool   `json:"trusted"`
	TrustError string `json:"trust_error,omitempty"`
	// TrustDatesOnly: the chain did not verify only because a certificate
	// of it is outside its validity period at every moment the leaf is
	// valid (set only when the leaf itself is expired or not yet valid).
	TrustDatesOnly bool   `json:"trust_dates_only,omitempty"`
	NameOK         bool   `json:"name_ok"`
	NameError      string `json:"name_error,omitempty"`
	Expired        bool   `json:"expired"`
	NotYet         bool   `json:"not_yet_valid,omitempty"`
	// DaysLeft is the whole days until the leaf expires (negative: ago).
	DaysLeft int `json:"days_left"`
}

// Leaf returns the server's own certificate, or nil.
func (t *Info) Leaf() *Cert {
	if t == nil || len(t.Chain) == 0 {
		return nil
	}
	return &t.Chain[0]
}

// Cert describes one certificate of the presented chain.
type Cert struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	DNSNames  []string  `json:"dns_names,omitempty"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	KeyType   string    `json:"key_type"` // "RSA", "ECDSA", "Ed25519"
	KeyBits   int       `json:"key_bits"`
	Curve     string    `json:"curve,omitempty"`
	SHA256    string    `json:"sha256"`

	// dane is the DER and digests kept for DANE (see Digest); never in
	// the JSON reports, which stay as they were.
	dane *daneMaterial
}

// Key renders the key as "RSA 2048" or "ECDSA P-256".
func (c Cert) Key() string {
	if c.Curve != "" {
		return c.KeyType + " " + c.Curve
	}
	if c.KeyBits > 0 {
		return fmt.Sprintf("%s %d", c.KeyType, c.KeyBits)
	}
	return c.KeyType
}

// VersionName renders a TLS version number.
func VersionName(v uint16) string {
	switch v {
	case tls.VersionSSL30:
		return "SSL 3.0"
	case tls.VersionTLS10:
		return "TLS 1.0"
	case tls.VersionTLS11:
		return "TLS 1.1"
	case tls.VersionTLS12:
		return "TLS 1.2"
	case tls.VersionTLS13:
		return "TLS 1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

// ClientConfig accepts every version and cipher Go can speak, and does not
// verify: the point is to see what the server offers, then judge it.
func ClientConfig(serverName string) *tls.Config {
	var suites []uint16
	for _, s := range tls.CipherSuites() {
		suites = append(suites, s.ID)
	}
	for _, s := range tls.InsecureCipherSuites() {
		suites = append(suites, s.ID)
	}
	cfg := &tls.Config{
		InsecureSkipVerify: true, // verified by Inspect, against the caller's roots
		MinVersion:         tls.VersionTLS10,
		CipherSuites:       suites,
	}
	if _, err := netip.ParseAddr(serverName); err != nil {
		cfg.ServerName = serverName
	}
	return cfg
}

// Handshake runs a TLS client handshake over conn, under ctx, with
// ClientConfig(serverName): it never verifies, Inspect judges afterwards.
// On failure the error is the handshake's, unchanged.
func Handshake(ctx context.Context, conn net.Conn, serverName string) (*tls.Conn, tls.ConnectionState, error) {
	tconn := tls.Client(conn, ClientConfig(serverName))
	if err := tconn.HandshakeContext(ctx); err != nil {
		return nil, tls.ConnectionState{}, err
	}
	return tconn, tconn.ConnectionState(), nil
}

// Inspect judges a completed handshake: the chain against roots (nil: the
// system roots) at now, and the leaf against host (a name, not an address,
// unless the server was reached by address only).
func Inspect(st tls.ConnectionState, host string, roots *x509.CertPool, now time.Time) *Info {
	info := &Info{
		Version:    VersionName(st.Version),
		VersionID:  st.Version,
		Cipher:     tls.CipherSuiteName(st.CipherSuite),
		ServerName: host,
	}
	for _, s := range tls.InsecureCipherSuites() {
		if s.ID == st.CipherSuite {
			info.CipherInsecure = true
		}
	}
	if len(st.PeerCertificates) == 0 {
		info.TrustError = "the server presented no certificate"
		info.NameError = info.TrustError
		return info
	}
	for i, c := range st.PeerCertificates {
		ci := describeCert(c)
		if i < MaxChainDER {
			ci.dane = newDANEMaterial(c)
		}
		info.Chain = append(info.Chain, ci)
	}
	leaf := st.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	judgeDates(info, leaf, now)
	judgeTrust(info, st.PeerCertificates, roots, inter, now)
	judgeName(info, leaf, host)
	return info
}

// judgeDates sets the leaf's expiry verdicts at now.
func judgeDates(info *Info, leaf *x509.Certificate, now time.Time) {
	info.DaysLeft = int(leaf.NotAfter.Sub(now).Hours() / 24)
	if leaf.NotAfter.Before(now) {
		info.DaysLeft = -int(now.Sub(leaf.NotAfter).Hours()/24) - 1
	}
	info.Expired = now.After(leaf.NotAfter)
	info.NotYet = now.Before(leaf.NotBefore)
}

// judgeName checks the leaf against host (RFC 6125).
func judgeName(info *Info, leaf *x509.Certificate, host string) {
	if host == "" {
		info.NameError = "no host name to check the certificate against"
		return
	}
	if err := leaf.VerifyHostname(host); err != nil {
		info.NameError = sanitize.Line(describeVerifyError(err), maxErrText)
		return
	}
	info.NameOK = true
}

// judgeTrust verifies the chain. Trust is judged apart from the dates: an
// expired certificate from a trusted CA is "expired", not "untrusted". So
// when now is outside the leaf's validity, the chain is verified at a
// moment when every presented certificate is valid (or, failing that,
// inside the leaf's validity), and a failure that is only about dates
// (an intermediate that expired with the leaf) is left to the expiry
// verdict (TrustDatesOnly) instead of quoting a "current time" the
// server was never judged at.
func judgeTrust(info *Info, chain []*x509.Certificate, roots, inter *x509.CertPool, now time.Time) {
	leaf := chain[0]
	at := now
	if info.Expired || info.NotYet {
		at = leaf.NotAfter.Add(-time.Second)
		lo, hi := leaf.NotBefore, leaf.NotAfter
		for _, c := range chain[1:] {
			if c.NotBefore.After(lo) {
				lo = c.NotBefore
			}
			if c.NotAfter.Before(hi) {
				hi = c.NotAfter
			}
		}
		if lo.Before(hi) {
			at = hi.Add(-time.Second)
		}
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at})
	if err == nil {
		info.Trusted = true
		return
	}
	var ci x509.CertificateInvalidError
	info.TrustDatesOnly = (info.Expired || info.NotYet) && errors.As(err, &ci) && ci.Reason == x509.Expired
	info.TrustError = sanitize.Line(describeVerifyError(err), maxErrText)
}

// describeVerifyError renders a verification error for a report: the
// names involved, escaped and bounded, and never the moment of the
// verification.
func describeVerifyError(err error) string {
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		s := "signed by an unknown authority"
		if ua.Cert != nil {
			if ua.Cert.Issuer.String() == ua.Cert.Subject.String() {
				s = "self-signed certificate (" + name(ua.Cert.Subject.String()) + ") not in the trusted roots"
			} else {
				s += " (" + name(ua.Cert.Issuer.String()) + ")"
			}
		}
		return s
	case errors.As(err, &hn):
		names := hn.Certificate.DNSNames
		if len(names) == 0 && hn.Certificate.Subject.CommonName != "" {
			names = []string{"CN=" + hn.Certificate.Subject.CommonName + " (no subjectAltName)"}
		}
		return fmt.Sprintf("the certificate is for %s, not %s", strings.Join(cleanNames(names), ", "), hn.Host)
	case errors.As(err, &ci) && ci.Reason == x509.Expired && ci.Cert != nil:
		// Not ci.Error(): it quotes the moment of the verification,
		// which is not the time of the audit.
		return fmt.Sprintf("the certificate %s in the chain is valid only from %s to %s", name(ci.Cert.Subject.String()),
			ci.Cert.NotBefore.UTC().Format(time.DateOnly), ci.Cert.NotAfter.UTC().Format(time.DateOnly))
	case errors.As(err, &ci):
		return ci.Error()
	}
	return err.Error()
}

// name renders a distinguished name from a certificate: peer text,
// escaped and bounded.
func name(dn string) string {
	if dn == "" {
		return "empty subject"
	}
	return sanitize.Line(dn, maxCertName)
}

// maxCertName bounds a certificate name kept in a result; maxCertNames
// bounds how many subjectAltNames are kept; maxErrText bounds an error's
// text.
const (
	maxCertName  = 300
	maxCertNames = 50
	maxErrText   = 600
)

// cleanNames escapes and bounds a certificate's names.
func cleanNames(names []string) []string {
	var out []string
	for i, n := range names {
		if i == maxCertNames {
			out = append(out, fmt.Sprintf("(%d more)", len(names)-i))
			break
		}
		out = append(out, sanitize.Line(n, maxCertName))
	}
	return out
}

// describeCert describes one certificate for the report.
func describeCert(c *x509.Certificate) Cert {
	sum := sha256.Sum256(c.Raw)
	ci := Cert{
		Subject:   name(c.Subject.String()),
		Issuer:    name(c.Issuer.String()),
		DNSNames:  cleanNames(c.DNSNames),
		NotBefore: c.NotBefore.UTC(),
		NotAfter:  c.NotAfter.UTC(),
		SHA256:    hex.EncodeToString(sum[:]),
	}
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		ci.KeyType, ci.KeyBits = "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		ci.KeyType, ci.KeyBits, ci.Curve = "ECDSA", k.Curve.Params().BitSize, k.Curve.Params().Name
	case ed25519.PublicKey:
		ci.KeyType, ci.KeyBits = "Ed25519", 256
	default:
		ci.KeyType = c.PublicKeyAlgorithm.String()
	}
	return ci
}
