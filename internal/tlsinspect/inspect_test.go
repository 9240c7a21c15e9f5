package tlsinspect_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck/mailcheck/internal/smtptest"
	"github.com/mailcheck/mailcheck/internal/tlsinspect"
)

// state is a completed handshake that presented chain.
func state(chain ...*x509.Certificate) tls.ConnectionState {
	return tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256, PeerCertificates: chain}
}

func TestDigest(t *testing.T) {
	ca := smtptest.NewCA(t, "Test CA")
	leaf := ca.Issue(t, smtptest.CertOptions{Names: []string{"mx.test"}}).Leaf
	info := tlsinspect.Inspect(state(leaf, ca.Cert), "mx.test", ca.Pool, time.Now())
	s256 := func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
	s512 := func(b []byte) []byte { s := sha512.Sum512(b); return s[:] }
	for i, c := range []*x509.Certificate{leaf, ca.Cert} {
		tests := []struct {
			sel, mt uint8
			want    []byte
		}{
			{tlsinspect.SelectorCert, tlsinspect.MatchExact, c.Raw},
			{tlsinspect.SelectorCert, tlsinspect.MatchSHA256, s256(c.Raw)},
			{tlsinspect.SelectorCert, tlsinspect.MatchSHA512, s512(c.Raw)},
			{tlsinspect.SelectorSPKI, tlsinspect.MatchExact, c.RawSubjectPublicKeyInfo},
			{tlsinspect.SelectorSPKI, tlsinspect.MatchSHA256, s256(c.RawSubjectPublicKeyInfo)},
			{tlsinspect.SelectorSPKI, tlsinspect.MatchSHA512, s512(c.RawSubjectPublicKeyInfo)},
			{2, tlsinspect.MatchSHA256, nil},
			{tlsinspect.SelectorSPKI, 3, nil},
			{255, 255, nil},
		}
		for _, tc := range tests {
			got := info.Chain[i].Digest(tc.sel, tc.mt)
			if !bytes.Equal(got, tc.want) || (tc.want == nil) != (got == nil) {
				t.Errorf("cert %d Digest(%d, %d) = %x, want %x", i, tc.sel, tc.mt, got, tc.want)
			}
		}
	}
	if der := info.ChainDER(); len(der) != 2 || !bytes.Equal(der[0], leaf.Raw) || !bytes.Equal(der[1], ca.Cert.Raw) {
		t.Errorf("ChainDER = %d certificates", len(der))
	}
	var nilCert *tlsinspect.Cert
	var nilInfo *tlsinspect.Info
	if nilCert.Digest(0, 0) != nil || nilInfo.ChainDER() != nil {
		t.Error("nil receivers should give nil")
	}
}

// The DANE material is bounded to MaxChainDER certificates, and never
// appears in the JSON.
func TestDANEMaterialBoundedAndNotInJSON(t *testing.T) {
	ca := smtptest.NewCA(t, "Test CA")
	leaf := ca.Issue(t, smtptest.CertOptions{Names: []string{"mx.test"}}).Leaf
	chain := []*x509.Certificate{leaf}
	for range tlsinspect.MaxChainDER + 2 {
		chain = append(chain, ca.Cert)
	}
	info := tlsinspect.Inspect(state(chain...), "mx.test", ca.Pool, time.Now())
	if len(info.Chain) != len(chain) || len(info.ChainDER()) != tlsinspect.MaxChainDER {
		t.Fatalf("chain %d, DER %d", len(info.Chain), len(info.ChainDER()))
	}
	if info.Chain[tlsinspect.MaxChainDER].Digest(tlsinspect.SelectorSPKI, tlsinspect.MatchSHA256) != nil {
		t.Error("material kept past MaxChainDER")
	}
	js, err := json.Marshal(info.Chain[0])
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]any
	json.Unmarshal(js, &keys)
	want := "dns_names issuer key_bits key_type not_after not_before sha256 subject curve"
	if len(keys) != len(strings.Fields(want)) {
		t.Errorf("JSON keys %v, want %s", keys, want)
	}
	for _, k := range strings.Fields(want) {
		if _, ok := keys[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, js)
		}
	}
}

func TestInspectVerdicts(t *testing.T) {
	ca := smtptest.NewCA(t, "Test CA")
	now := time.Now()
	expired := ca.Issue(t, smtptest.CertOptions{Names: []string{"mx.test"}, NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(0, 0, -3)}).Leaf
	other := ca.Issue(t, smtptest.CertOptions{Names: []string{"other.test"}}).Leaf
	self := smtptest.NewCA(t, "Self").Cert

	if i := tlsinspect.Inspect(state(expired, ca.Cert), "mx.test", ca.Pool, now); !i.Expired || !i.Trusted || i.DaysLeft != -4 || !i.NameOK {
		t.Errorf("expired: %+v", i)
	}
	if i := tlsinspect.Inspect(state(other, ca.Cert), "mx.test", ca.Pool, now); i.NameOK || !strings.Contains(i.NameError, "the certificate is for other.test, not mx.test") {
		t.Errorf("wrong name: %+v", i)
	}
	if i := tlsinspect.Inspect(state(self), "mx.test", ca.Pool, now); i.Trusted || !strings.Contains(i.TrustError, "self-signed certificate (CN=Self,O=mailcheck tests) not in the trusted roots") {
		t.Errorf("self-signed: %+v", i)
	}
	if i := tlsinspect.Inspect(state(), "mx.test", ca.Pool, now); i.TrustError != "the server presented no certificate" || i.Leaf() != nil {
		t.Errorf("no certificate: %+v", i)
	}
	if i := tlsinspect.Inspect(state(other), "", ca.Pool, now); i.NameError != "no host name to check the certificate against" {
		t.Errorf("no host: %+v", i)
	}
}

func TestHandshake(t *testing.T) {
	ca := smtptest.NewCA(t, "Test CA")
	cert := ca.Issue(t, smtptest.CertOptions{Names: []string{"mx.test"}})
	c, s := net.Pipe()
	defer c.Close()
	go func() {
		srv := tls.Server(s, &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12})
		srv.Handshake()
		srv.Close()
	}()
	tconn, st, err := tlsinspect.Handshake(context.Background(), c, "mx.test")
	if err != nil || tconn == nil {
		t.Fatal(err)
	}
	if st.ServerName != "mx.test" || tlsinspect.VersionName(st.Version) != "TLS 1.2" || len(st.PeerCertificates) != 1 {
		t.Errorf("state: %+v", st)
	}
	if cfg := tlsinspect.ClientConfig("192.0.2.1"); cfg.ServerName != "" || !cfg.InsecureSkipVerify {
		t.Errorf("an address is no SNI name: %+v", cfg)
	}
}
