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

// wildRecords holds a wildcard (*.w) next to a name below it (e.w), so
// that a name below e.w has a closer encloser than the wildcard's.
const wildRecords = "*.w 3600 IN TXT \"wild\"\ne.w 3600 IN TXT \"e\"\n"

func wildWorld(t *testing.T) (*dnstest.World, *dnstest.Server) {
	w := dnstest.NewWorld(t, worldNow,
		dnstest.SignedSpec{Origin: "test."},
		dnstest.SignedSpec{Origin: "alt.", NSEC3: true},
		dnstest.SignedSpec{Origin: "wild.test.", Records: wildRecords},
		dnstest.SignedSpec{Origin: "wild.alt.", Records: wildRecords, NSEC3: true})
	return w, dnstest.StartWorld(t, w)
}

// renamedFrom makes the answer the records of the (wildcard) answer to
// (name, qtype), moved to the asked name: a replayed expansion.
func renamedFrom(t *testing.T, r resolve.DNSSECResolver, name string, qtype uint16) func(*resolve.Answer) {
	a, err := r.QueryDNSSEC(context.Background(), name, qtype, true)
	if err != nil {
		t.Fatal(err)
	}
	return func(b *resolve.Answer) {
		b.Records, b.Rcode = nil, dns.RcodeSuccess
		for _, rr := range a.Records {
			c := dns.Copy(rr)
			c.Header().Name = b.Name
			b.Records = append(b.Records, c)
		}
	}
}

// TestWildcardAnswers: an answer synthesized from a wildcard (RRSIG
// labels below the owner's) is secure only with the proof that the owner
// does not exist: RFC 4035 §5.3.4 (NSEC), RFC 5155 §8.8 (NSEC3).
func TestWildcardAnswers(t *testing.T) {
	w, srv := wildWorld(t)
	raw := srv.Resolver(2 * time.Second)
	ctx := context.Background()
	authOf := func(name string, qtype uint16) []dns.RR { return authorityOf(t, ctx, raw, name, qtype) }
	drop, swap := dropAuthority, swapAuthority
	cases := []struct {
		label, name string
		edit        func(*resolve.Answer)
		state       dnssec.State
		reason      string
	}{
		{"nsec expansion", "x.w.wild.test.", nil, dnssec.Secure, ""},
		{"nsec expansion two labels down", "a.b.w.wild.test.", nil, dnssec.Secure, ""},
		{"nsec the wildcard itself", "*.w.wild.test.", nil, dnssec.Secure, ""},
		{"nsec expansion without proof", "x.w.wild.test.", drop(coversNSEC("x.w.wild.test.")), dnssec.Bogus,
			"TXT x.w.wild.test. is synthesized from the wildcard *.w.wild.test., and its authority section proves nothing: no signed NSEC or NSEC3 record"},
		{"nsec expansion with another proof", "x.w.wild.test.", swap(coversNSEC("x.w.wild.test."), authOf("a.wild.test.", dns.TypeTXT)), dnssec.Bogus,
			"TXT x.w.wild.test. is synthesized from the wildcard *.w.wild.test.: no NSEC record proves that x.w.wild.test. does not exist (RFC 4035 §5.3.4)"},
		{"nsec expansion replayed below a closer encloser", "x.e.w.wild.test.", renamedFrom(t, raw, "y.w.wild.test.", dns.TypeTXT), dnssec.Bogus,
			"shows that e.w.wild.test. exists, a closer match for x.e.w.wild.test. than the wildcard at w.wild.test."},
		{"nsec3 expansion", "x.w.wild.alt.", nil, dnssec.Secure, ""},
		{"nsec3 expansion two labels down", "a.b.w.wild.alt.", nil, dnssec.Secure, ""},
		{"nsec3 expansion without proof", "x.w.wild.alt.", drop(covers3("x.w.wild.alt.")), dnssec.Bogus,
			"TXT x.w.wild.alt. is synthesized from the wildcard *.w.wild.alt., and its authority section proves nothing"},
		{"nsec3 expansion with another proof", "x.w.wild.alt.", swap(covers3("x.w.wild.alt."), authOf("e.w.wild.alt.", dns.TypeA)), dnssec.Bogus,
			"TXT x.w.wild.alt. is synthesized from the wildcard *.w.wild.alt.: no NSEC3 record covers the next closer name x.w.wild.alt. (RFC 5155 §8.8)"},
		{"nsec3 expansion replayed below a closer encloser", "x.e.w.wild.alt.", renamedFrom(t, raw, "y.w.wild.alt.", dns.TypeTXT), dnssec.Bogus,
			"no NSEC3 record covers the next closer name e.w.wild.alt. (RFC 5155 §8.8)"},
	}
	for _, tc := range cases {
		t.Run(tc.label, func(t *testing.T) {
			tr := &tamper{r: raw, name: tc.name, qtype: dns.TypeTXT, edit: tc.edit}
			v := &dnssec.Validator{Resolver: tr, Anchors: w.Anchors, Now: func() time.Time { return w.Now }}
			r := v.Validate(ctx, tc.name, dns.TypeTXT)
			if r.State != tc.state || !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("%s: %s (%s), want %s containing %q", tc.name, r.State, r.Reason, tc.state, tc.reason)
			}
		})
	}
}
