package dane_test

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/dane"
	"github.com/mailcheck/mailcheck/internal/smtptest"
)

// fixture is a chain leaf ← intermediate ← root, and an unrelated CA.
type fixture struct {
	leaf, inter, root, other *x509.Certificate
	chain                    [][]byte // as the server presents it: leaf, intermediate
}

func newFixture(t testing.TB, names ...string) fixture {
	t.Helper()
	root := smtptest.NewCA(t, "DANE test root")
	inter := root.Intermediate(t, "DANE test intermediate", time.Now().AddDate(-1, 0, 0), time.Now().AddDate(1, 0, 0))
	c := inter.Issue(t, smtptest.CertOptions{Names: names})
	return fixture{leaf: c.Leaf, inter: inter.Cert, root: root.Cert, other: smtptest.NewCA(t, "unrelated").Cert, chain: c.Certificate}
}

// rec makes the record of usage u for cert with selector s and matching type m.
func rec(u, s, m uint8, cert *x509.Certificate) dane.Record {
	b := cert.Raw
	if s == dane.SelectorSPKI {
		b = cert.RawSubjectPublicKeyInfo
	}
	switch m {
	case dane.MatchSHA256:
		x := sha256.Sum256(b)
		b = x[:]
	case dane.MatchSHA512:
		x := sha512.Sum512(b)
		b = x[:]
	}
	return dane.Record{Usage: u, Selector: s, MatchingType: m, Data: b}
}

// TestMatchVectors: every usage, selector and matching type, against the
// certificate it names and against another one.
func TestMatchVectors(t *testing.T) {
	f := newFixture(t, "mx.example.org")
	for u := uint8(0); u <= 3; u++ {
		for s := uint8(0); s <= 1; s++ {
			for m := uint8(0); m <= 2; m++ {
				target := f.leaf
				if u == dane.PKIXTA || u == dane.DANETA {
					target = f.inter
				}
				t.Run(fmt.Sprintf("%d %d %d", u, s, m), func(t *testing.T) {
					res := dane.Match([]dane.Record{rec(u, s, m, target)}, f.chain, "mx.example.org")
					wantMatch := u >= dane.DANETA
					if (res.Matched != nil) != wantMatch {
						t.Fatalf("matched %v, want %v (%s)", res.Matched, wantMatch, res.Why)
					}
					if wantMatch && res.Depth != map[uint8]int{dane.DANETA: 1, dane.DANEEE: 0}[u] {
						t.Errorf("depth %d", res.Depth)
					}
					if !wantMatch && (len(res.Unusable) != 1 || !strings.Contains(res.Unusable[0].Why, "PKIX")) {
						t.Errorf("PKIX record not flagged: %+v", res.Unusable)
					}
					miss := dane.Match([]dane.Record{rec(u, s, m, f.other)}, f.chain, "mx.example.org")
					if miss.Matched != nil {
						t.Errorf("another certificate matched")
					}
				})
			}
		}
	}
}

func TestMatchRules(t *testing.T) {
	f := newFixture(t, "mx.example.org", "*.mail.example.org")
	ee := rec(3, 1, 1, f.leaf)
	bad := ee
	bad.Data = make([]byte, 32)
	bad512 := rec(3, 1, 2, f.other)
	cases := []struct {
		name    string
		records []dane.Record
		chain   [][]byte
		names   []string
		match   string // the matched record's String(), "" for none
		why     string // substring of Why or of an Unusable's Why
	}{
		{"EE ignores names", []dane.Record{ee}, f.chain, []string{"other.example.net"}, ee.String(), ""},
		{"EE on a leaf alone", []dane.Record{ee}, f.chain[:1], nil, ee.String(), ""},
		{"second record matches", []dane.Record{bad, ee}, f.chain, nil, ee.String(), ""},
		{"TA wildcard name", []dane.Record{rec(2, 0, 1, f.inter)}, f.chain, []string{"mx2.mail.example.org"}, rec(2, 0, 1, f.inter).String(), ""},
		{"TA wildcard one label only", []dane.Record{rec(2, 0, 1, f.inter)}, f.chain, []string{"a.b.mail.example.org"}, "", "names none of"},
		{"TA wrong name", []dane.Record{rec(2, 1, 1, f.inter)}, f.chain, []string{"mx.example.net"}, "", "names none of"},
		{"TA alternative name", []dane.Record{rec(2, 1, 1, f.inter)}, f.chain, []string{"mx.example.net", "mx.example.org"}, rec(2, 1, 1, f.inter).String(), ""},
		{"TA not in chain", []dane.Record{rec(2, 0, 1, f.root)}, f.chain, []string{"mx.example.org"}, "", "no TLSA record matches"},
		{"TA not the issuer", []dane.Record{rec(2, 0, 1, f.other)}, append(append([][]byte{}, f.chain...), f.other.Raw), []string{"mx.example.org"}, "", "did not issue"},
		{"TA matching the leaf", []dane.Record{rec(2, 1, 1, f.leaf)}, f.chain, []string{"mx.example.org"}, "", "no TLSA record matches"},
		{"agility: SHA-512 wins", []dane.Record{ee, bad512}, f.chain, nil, "", "stronger matching type"},
		{"agility per selector", []dane.Record{ee, rec(3, 0, 2, f.other)}, f.chain, nil, ee.String(), ""},
		{"unknown usage", []dane.Record{{Usage: 4, Selector: 1, MatchingType: 1, Data: ee.Data}}, f.chain, nil, "", "unknown certificate usage 4"},
		{"unknown selector", []dane.Record{{Usage: 3, Selector: 2, MatchingType: 1, Data: ee.Data}}, f.chain, nil, "", "unknown selector 2"},
		{"unknown matching type", []dane.Record{{Usage: 3, Selector: 1, MatchingType: 255, Data: ee.Data}}, f.chain, nil, "", "unknown matching type 255"},
		{"short digest", []dane.Record{{Usage: 3, Selector: 1, MatchingType: 1, Data: ee.Data[:31]}}, f.chain, nil, "", "31 bytes"},
		{"bad hex", []dane.Record{dane.FromRR(&dns.TLSA{Usage: 3, Selector: 1, MatchingType: 1, Certificate: "zz"})}, f.chain, nil, "", "not hexadecimal"},
		{"no chain", []dane.Record{ee}, nil, nil, "", "no certificate"},
		{"no records", nil, f.chain, nil, "", "no usable TLSA record"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := dane.Match(tc.records, tc.chain, tc.names...)
			got := ""
			if res.Matched != nil {
				got = res.Matched.String()
			}
			if got != tc.match {
				t.Errorf("matched %q, want %q (why: %s)", got, tc.match, res.Why)
			}
			whys := res.Why
			for _, u := range res.Unusable {
				whys += "\n" + u.Why
			}
			if !strings.Contains(whys, tc.why) {
				t.Errorf("why %q does not contain %q", whys, tc.why)
			}
		})
	}
}

func TestRecommendAndText(t *testing.T) {
	f := newFixture(t, "mx.example.org")
	r, err := dane.Recommend(f.chain[0])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(f.leaf.RawSubjectPublicKeyInfo)
	if want := "3 1 1 " + hex.EncodeToString(sum[:]); r.String() != want {
		t.Errorf("Recommend = %q, want %q", r, want)
	}
	if res := dane.Match([]dane.Record{r}, f.chain); res.Matched == nil {
		t.Errorf("the recommended record does not match: %s", res.Why)
	}
	if d := r.Describe(); d != "DANE-EE(3) SPKI(1) SHA2-256(1)" {
		t.Errorf("Describe = %q", d)
	}
	if d := (dane.Record{Usage: 9, Selector: 7, MatchingType: 8}).Describe(); d != "usage 9 selector 7 matching type 8" {
		t.Errorf("Describe = %q", d)
	}
	rr, err := dns.NewRR("_25._tcp.mx.example.org. 300 IN TLSA " + r.String())
	if err != nil {
		t.Fatal(err)
	}
	if back := dane.FromRRs([]dns.RR{rr}); len(back) != 1 || back[0].String() != r.String() {
		t.Errorf("FromRRs = %+v", back)
	}
	if _, err := dane.Recommend([]byte("not a certificate")); err == nil {
		t.Error("Recommend accepted garbage")
	}
}

// FuzzMatch: TLSA records and a chain of arbitrary bytes never make Match
// panic, and a match is always a usable DANE record.
func FuzzMatch(f *testing.F) {
	fx := newFixture(f, "mx.example.org")
	ee := rec(3, 1, 1, fx.leaf)
	f.Add(ee.Usage, ee.Selector, ee.MatchingType, ee.Data, fx.chain[0], fx.chain[1])
	f.Add(uint8(2), uint8(0), uint8(0), fx.inter.Raw, fx.chain[0], fx.chain[1])
	f.Add(uint8(3), uint8(0), uint8(0), []byte("x"), []byte("x"), []byte{})
	f.Fuzz(func(t *testing.T, u, s, m uint8, data, c0, c1 []byte) {
		res := dane.Match([]dane.Record{{Usage: u, Selector: s, MatchingType: m, Data: data}}, [][]byte{c0, c1}, "mx.example.org")
		if res.Matched != nil && (res.Matched.Usage < dane.DANETA || res.Matched.Usage > dane.DANEEE) {
			t.Fatalf("matched an unusable record %+v", res.Matched)
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	f := newFixture(b, "mx.example.org")
	junk := make([]byte, 64)
	_, _ = rand.Read(junk)
	records := []dane.Record{rec(3, 1, 2, f.other), {Usage: 2, Selector: 1, MatchingType: 2, Data: junk}, rec(2, 0, 2, f.inter)}
	b.ReportAllocs()
	for b.Loop() {
		if dane.Match(records, f.chain, "mx.example.org").Matched == nil {
			b.Fatal("no match")
		}
	}
}
