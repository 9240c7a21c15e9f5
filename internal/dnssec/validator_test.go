package dnssec_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/dnssec"
	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

var worldNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const mailRecords = "@ 3600 IN MX 10 mx\nmx 3600 IN A 192.0.2.1\n_dmarc 3600 IN TXT \"v=DMARC1; p=none\"\n"

// testWorld is the scenarios of the dnssec check: a root, an NSEC tld
// (test.) and an NSEC3 tld with iterations (alt.), and one zone per
// scenario below them.
func testWorld(t testing.TB) *dnstest.World {
	return dnstest.NewWorld(t, worldNow,
		dnstest.SignedSpec{Origin: "test."},
		dnstest.SignedSpec{Origin: "alt.", NSEC3: true, Iterations: 5, Salt: "aabb"},
		dnstest.SignedSpec{Origin: "secure.test.", Records: mailRecords},
		dnstest.SignedSpec{Origin: "insecure.test.", Records: mailRecords, Unsigned: true},
		dnstest.SignedSpec{Origin: "bogus.test.", Records: mailRecords, DS: dnstest.DSWrongKey},
		dnstest.SignedSpec{Origin: "badsig.test.", Records: mailRecords, BadSig: true},
		dnstest.SignedSpec{Origin: "expired.test.", Records: mailRecords, Expires: -24 * time.Hour},
		dnstest.SignedSpec{Origin: "expiring.test.", Records: mailRecords, Expires: 72 * time.Hour},
		dnstest.SignedSpec{Origin: "weak.test.", Records: mailRecords, Algorithm: dns.RSASHA1, DS: dnstest.DSSHA1},
		dnstest.SignedSpec{Origin: "secure.alt.", Records: mailRecords, NSEC3: true, Iterations: 10},
		dnstest.SignedSpec{Origin: "insecure.alt.", Records: mailRecords, Unsigned: true},
		dnstest.SignedSpec{Origin: "alias.test.", Records: "mx 3600 IN CNAME mx.secure.test.\n"},
	)
}

func newValidator(w *dnstest.World, srv *dnstest.Server) *dnssec.Validator {
	return &dnssec.Validator{Resolver: srv.Resolver(2 * time.Second), Anchors: w.Anchors,
		Now: func() time.Time { return w.Now }}
}

// TestValidate: each scenario's state, reason and notes, through the
// in-process server over the real wire.
func TestValidate(t *testing.T) {
	w := testWorld(t)
	srv := dnstest.StartWorld(t, w)
	v := newValidator(w, srv)
	cases := []struct {
		name   string
		qtype  uint16
		state  dnssec.State
		reason string
		notes  []dnssec.NoteKind
	}{
		{"secure.test", dns.TypeMX, dnssec.Secure, ". → test. → secure.test.", nil},
		{"_dmarc.secure.test", dns.TypeTXT, dnssec.Secure, "secure.test.", nil},
		{"mx.secure.test", dns.TypeA, dnssec.Secure, "secure.test.", nil},
		{"secure.test", dns.TypeTXT, dnssec.Secure, "secure.test.", nil},          // NODATA
		{"_mta-sts.secure.test", dns.TypeTXT, dnssec.Secure, "secure.test.", nil}, // NXDOMAIN
		{"insecure.test", dns.TypeMX, dnssec.Insecure, "insecure.test. has no DS record in test. (proven by NSEC)", nil},
		{"_dmarc.insecure.alt", dns.TypeTXT, dnssec.Insecure, "insecure.alt. has no DS record in alt. (proven by NSEC3)", []dnssec.NoteKind{dnssec.NSEC3Iterations}},
		{"bogus.test", dns.TypeMX, dnssec.Bogus, "DNSKEY bogus.test.: no key matches the DS key tag", nil},
		{"badsig.test", dns.TypeMX, dnssec.Bogus, "MX badsig.test.: RRSIG key tag", nil},
		{"expired.test", dns.TypeMX, dnssec.Bogus, "DNSKEY expired.test.: RRSIG key tag", nil},
		{"expiring.test", dns.TypeMX, dnssec.Secure, "", []dnssec.NoteKind{dnssec.Expiring}},
		{"weak.test", dns.TypeMX, dnssec.Secure, "", []dnssec.NoteKind{dnssec.WeakAlgorithm, dnssec.WeakDigest}},
		{"secure.alt", dns.TypeMX, dnssec.Secure, ". → alt. → secure.alt.", []dnssec.NoteKind{dnssec.NSEC3Iterations}},
		{"mx.alias.test", dns.TypeA, dnssec.Secure, ". → test. → alias.test.", nil}, // the CNAME at the name; a DS question there gets it too
	}
	for _, tc := range cases {
		t.Run(tc.name+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
			r := v.Validate(context.Background(), tc.name, tc.qtype)
			if r.State != tc.state || !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("state %s (%s), want %s containing %q", r.State, r.Reason, tc.state, tc.reason)
			}
			for _, k := range tc.notes {
				if !hasNote(r.Notes, k) {
					t.Errorf("no note of kind %d in %+v", k, r.Notes)
				}
			}
			if len(tc.notes) == 0 && tc.state == dnssec.Secure && len(r.Notes) > 0 {
				t.Errorf("unexpected notes %+v", r.Notes)
			}
		})
	}
}

func hasNote(notes []dnssec.Note, k dnssec.NoteKind) bool {
	for _, n := range notes {
		if n.Kind == k {
			return true
		}
	}
	return false
}

// TestValidateLookupFailure: a query that fails leaves the name
// indeterminate, naming the query and the server.
func TestValidateLookupFailure(t *testing.T) {
	w := testWorld(t)
	srv := dnstest.StartWorld(t, w)
	srv.SetType("secure.test.", dns.TypeDNSKEY, dnstest.ServFail)
	r := newValidator(w, srv).Validate(context.Background(), "secure.test", dns.TypeMX)
	if r.State != dnssec.Indeterminate || r.Err == nil || !strings.Contains(r.Reason, "DNSKEY query for secure.test. failed: SERVFAIL from "+srv.Addr) {
		t.Errorf("got %s: %s (%v)", r.State, r.Reason, r.Err)
	}
}

// TestValidateNoAnchor: the built-in root anchors do not validate a
// world signed with its own root key.
func TestValidateNoAnchor(t *testing.T) {
	w := testWorld(t)
	srv := dnstest.StartWorld(t, w)
	v := &dnssec.Validator{Resolver: srv.Resolver(2 * time.Second), Now: func() time.Time { return w.Now }}
	r := v.Validate(context.Background(), "secure.test", dns.TypeMX)
	if r.State != dnssec.Bogus || !strings.Contains(r.Reason, "DNSKEY .: no key matches the DS key tag 20326") {
		t.Errorf("got %s: %s", r.State, r.Reason)
	}
	v.Anchors = []dns.RR{}
	if got := v.Validate(context.Background(), "secure.test", dns.TypeMX); got.State != dnssec.Indeterminate || !strings.Contains(got.Reason, "no trust anchor") {
		t.Errorf("empty (non-nil) anchors: %s: %s", got.State, got.Reason)
	}
}

// TestValidateThroughCache: the validator works behind resolve.Cache,
// and a DNSSEC question does not answer a plain one.
func TestValidateThroughCache(t *testing.T) {
	w := testWorld(t)
	srv := dnstest.StartWorld(t, w)
	c := resolve.NewCache(srv.Resolver(2 * time.Second))
	v := &dnssec.Validator{Resolver: c, Anchors: w.Anchors, Now: func() time.Time { return w.Now }}
	if r := v.Validate(context.Background(), "secure.test", dns.TypeMX); r.State != dnssec.Secure {
		t.Fatalf("got %s: %s", r.State, r.Reason)
	}
	a, err := c.Query(context.Background(), "secure.test", dns.TypeMX)
	if err != nil || len(a.Of(dns.TypeRRSIG)) != 0 || a.Authority != nil {
		t.Errorf("plain query after a DNSSEC one: %v, %v", a, err)
	}
	if n := srv.Count("secure.test.", dns.TypeMX); n != 2 {
		t.Errorf("MX secure.test reached the server %d times, want 2 (DNSSEC and plain)", n)
	}
}

// BenchmarkValidateChain: a 3-level chain (root, tld, domain) validated
// from scratch each time.
func BenchmarkValidateChain(b *testing.B) {
	w := testWorld(b)
	srv := dnstest.StartWorld(b, w)
	var queries int64
	for i := 0; i < b.N; i++ {
		v := newValidator(w, srv)
		if r := v.Validate(context.Background(), "_dmarc.secure.test", dns.TypeTXT); r.State != dnssec.Secure {
			b.Fatalf("got %s: %s", r.State, r.Reason)
		}
		queries = v.Queries()
	}
	b.ReportMetric(float64(queries), "queries/op")
}
