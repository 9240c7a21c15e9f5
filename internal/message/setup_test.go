//go:debug rsa1024min=0

package message

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// The keys the tests sign with, made once per test binary and
// published in the served zone under their selectors.
var (
	keysOnce sync.Once
	testKeys map[string]crypto.Signer // selector → key
)

// keys makes the RSA 2048, 1024, 512 and Ed25519 keys.
func keys(t testing.TB) map[string]crypto.Signer {
	keysOnce.Do(func() {
		testKeys = map[string]crypto.Signer{}
		for sel, bits := range map[string]int{"s2048": 2048, "s1024": 1024, "s512": 512} {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				panic(err)
			}
			testKeys[sel] = k
		}
		_, ed, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		testKeys["ed"] = ed
		testKeys["unpublished"] = testKeys["s2048"]
	})
	return testKeys
}

// keyRecord renders a key's DKIM TXT record in zone-file form, split
// into 255-octet strings.
func keyRecord(t testing.TB, k crypto.Signer) string {
	var p, kt string
	switch pub := k.Public().(type) {
	case ed25519.PublicKey:
		p, kt = base64.StdEncoding.EncodeToString(pub), "ed25519"
	default:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		p, kt = base64.StdEncoding.EncodeToString(der), "rsa"
	}
	txt := "v=DKIM1; k=" + kt + "; p=" + p
	var parts []string
	for len(txt) > 255 {
		parts, txt = append(parts, `"`+txt[:255]+`"`), txt[255:]
	}
	return strings.Join(append(parts, `"`+txt+`"`), " ")
}

// zoneText is the sender's zone: SPF for 192.0.2.10, DMARC p=reject,
// the test keys (but not "unpublished"), a revoked key, and the host of
// the HELO name.
func zoneText(t testing.TB) string {
	var b strings.Builder
	b.WriteString(`$ORIGIN sender.example.
@ 300 IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@ 300 IN TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc 300 IN TXT "v=DMARC1; p=reject; sp=quarantine; adkim=r; aspf=r"
mail 300 IN A 192.0.2.10
mail 300 IN TXT "v=spf1 a -all"
bounces 300 IN TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.strict 300 IN TXT "v=DMARC1; p=reject; adkim=s; aspf=s; pct=50"
revoked._domainkey 300 IN TXT "v=DKIM1; k=rsa; p="
tempfail._domainkey 300 IN TXT "v=DKIM1; p=x"
`)
	for _, sel := range []string{"s2048", "s1024", "s512", "ed"} {
		fmt.Fprintf(&b, "%s._domainkey 300 IN TXT %s\n", sel, keyRecord(t, keys(t)[sel]))
	}
	return b.String()
}

// world serves sender.example, other.example (no DMARC, a 2048-bit key)
// and the reverse zone of 192.0.2.0/24.
func world(t testing.TB) (*dnstest.Server, resolve.Resolver) {
	other := `$ORIGIN other.example.
@ 300 IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@ 300 IN TXT "v=spf1 -all"
s2048._domainkey 300 IN TXT ` + keyRecord(t, keys(t)["s2048"]) + "\n"
	rev := `$ORIGIN 2.0.192.in-addr.arpa.
@ 300 IN SOA ns1 hostmaster 1 7200 3600 1209600 300
10 300 IN PTR mail.sender.example.
11 300 IN PTR nowhere.sender.example.
`
	srv := dnstest.StartZones(t, dnstest.Zone(t, "sender.example.", zoneText(t)),
		dnstest.Zone(t, "other.example.", other), dnstest.Zone(t, "2.0.192.in-addr.arpa.", rev))
	return srv, resolve.NewCache(srv.Resolver(2 * time.Second))
}

// testNow is the judge's clock in the tests.
var testNow = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

// crlf turns a text written with \n line ends into CRLF.
func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

// baseMessage is a well-formed multipart/alternative message from
// alice@sender.example.
const baseMessage = `From: Alice <alice@sender.example>
To: bob@rcpt.example
Subject: Hello
Date: Sat, 05 Dec 2026 10:00:00 +0000
Message-ID: <20261205100000.abc123@sender.example>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

Hello Bob.
--b1
Content-Type: text/html; charset=utf-8

<p>Hello Bob.</p>
--b1--
`

// signedHeaders is what the tests sign.
var signedHeaders = []string{"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"}

// sign DKIM-signs msg as domain/selector with go-msgauth.
func sign(t testing.TB, msg []byte, domain, selector string, hdrs []string, exp time.Time) []byte {
	var out bytes.Buffer
	err := msgdkim.Sign(&out, bytes.NewReader(msg), &msgdkim.SignOptions{Domain: domain, Selector: selector,
		Signer: keys(t)[selector], HeaderKeys: hdrs, Expiration: exp,
		HeaderCanonicalization: msgdkim.CanonicalizationRelaxed, BodyCanonicalization: msgdkim.CanonicalizationRelaxed})
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return out.Bytes()
}

// goodEnvelope is a session from the sender's own server.
func goodEnvelope() Envelope {
	return Envelope{ClientIP: netip.MustParseAddr("192.0.2.10"), Helo: "mail.sender.example",
		MailFrom: "bounce@sender.example", Rcpts: []string{"bob@rcpt.example"}, EightBit: true, ReceivedAt: testNow}
}

// judge judges raw with the served world.
func judge(t testing.TB, r resolve.Resolver, env Envelope, raw []byte) *Verdict {
	j := &Judge{Resolver: r, Now: func() time.Time { return testNow }, Hostname: "mx.rcpt.example"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return j.Judge(ctx, env, raw)
}
