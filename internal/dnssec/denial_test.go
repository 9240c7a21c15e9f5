package dnssec_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/dnssec"
	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// tamper passes questions through to the in-process server, and changes
// the answer to one question: edit rewrites its authority section (the
// records of other answers can be spliced in, since each NSEC or NSEC3
// record is signed on its own).
type tamper struct {
	r     resolve.DNSSECResolver
	name  string
	qtype uint16
	edit  func(a *resolve.Answer)
}

func (t *tamper) QueryDNSSEC(ctx context.Context, name string, qtype uint16, cd bool) (*resolve.Answer, error) {
	a, err := t.r.QueryDNSSEC(ctx, name, qtype, cd)
	if err == nil && t.edit != nil && qtype == t.qtype && resolve.Canonical(name) == t.name {
		c := *a
		t.edit(&c)
		return &c, nil
	}
	return a, err
}

// without drops the denial records pick selects, with their RRSIGs.
// authorityOf returns the authority section of the answer for name
// (DO=1, CD=1).
func authorityOf(t *testing.T, ctx context.Context, r resolve.DNSSECResolver, name string, qtype uint16) []dns.RR {
	t.Helper()
	a, err := r.QueryDNSSEC(ctx, name, qtype, true)
	if err != nil {
		t.Fatal(err)
	}
	return a.Authority
}

// dropAuthority edits an answer: the records pick chooses (with their
// signatures) leave its authority section.
func dropAuthority(pick func(dns.RR) bool) func(*resolve.Answer) {
	return func(a *resolve.Answer) { a.Authority = without(a.Authority, pick) }
}

// swapAuthority edits an answer: the records pick chooses leave its
// authority section, with takes their place.
func swapAuthority(pick func(dns.RR) bool, with []dns.RR) func(*resolve.Answer) {
	return func(a *resolve.Answer) { a.Authority = append(without(a.Authority, pick), with...) }
}

func without(auth []dns.RR, pick func(dns.RR) bool) []dns.RR {
	type key struct {
		owner string
		rtype uint16
	}
	gone := map[key]bool{}
	for _, rr := range auth {
		if pick(rr) {
			gone[key{strings.ToLower(rr.Header().Name), rr.Header().Rrtype}] = true
		}
	}
	var out []dns.RR
	for _, rr := range auth {
		k := key{strings.ToLower(rr.Header().Name), rr.Header().Rrtype}
		if s, ok := rr.(*dns.RRSIG); ok {
			k.rtype = s.TypeCovered
		}
		if !gone[k] {
			out = append(out, rr)
		}
	}
	return out
}

// denialHosts makes many names, so that the roles of a proof (closest
// encloser, next closer, wildcard) fall on different denial records.
func denialHosts() string {
	s := mailRecords + "a.b 3600 IN A 192.0.2.2\n"
	for i := range 24 {
		s += fmt.Sprintf("h%d 3600 IN A 192.0.2.3\n", i)
	}
	return s
}

func denialWorld(t *testing.T) (*dnstest.World, *dnstest.Server) {
	w := dnstest.NewWorld(t, worldNow,
		dnstest.SignedSpec{Origin: "test."},
		dnstest.SignedSpec{Origin: "alt.", NSEC3: true},
		dnstest.SignedSpec{Origin: "n3.alt.", Records: denialHosts(), NSEC3: true},
		dnstest.SignedSpec{Origin: "insecure.alt.", Records: mailRecords, Unsigned: true},
		dnstest.SignedSpec{Origin: "nsec.test.", Records: denialHosts()})
	return w, dnstest.StartWorld(t, w)
}

// nxName returns a name below zone that does not exist and whose next
// closer name and wildcard are covered by different NSEC3 records.
func nxName(t *testing.T, r resolve.DNSSECResolver, zone string) string {
	for i := range 50 {
		n := fmt.Sprintf("nope%d.%s", i, zone)
		a, err := r.QueryDNSSEC(context.Background(), n, dns.TypeTXT, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(nsec3s(a.Authority)) == 3 {
			return n
		}
	}
	t.Fatal("no name with a three-record proof")
	return ""
}

func nsec3s(auth []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range auth {
		if rr.Header().Rrtype == dns.TypeNSEC3 {
			out = append(out, rr)
		}
	}
	return out
}

func covers3(name string) func(dns.RR) bool {
	return func(rr dns.RR) bool {
		n, ok := rr.(*dns.NSEC3)
		return ok && n.Cover(name) && !n.Match(name)
	}
}

func matches3(name string) func(dns.RR) bool {
	return func(rr dns.RR) bool { n, ok := rr.(*dns.NSEC3); return ok && n.Match(name) }
}

func coversNSEC(name string) func(dns.RR) bool {
	return func(rr dns.RR) bool { n, ok := rr.(*dns.NSEC); return ok && dnssec.NSECCovers(n, name) }
}

// TestDenialProofs: NXDOMAIN and NODATA proofs with NSEC3 (RFC 5155
// §8.3-§8.6) and NSEC (RFC 4035 §5.4), whole, with a record withheld,
// or with a record of another answer in its place.
func TestDenialProofs(t *testing.T) {
	w, srv := denialWorld(t)
	raw := srv.Resolver(2 * time.Second)
	ctx := context.Background()
	nx := nxName(t, raw, "n3.alt.")
	other := func(name string, qtype uint16) []dns.RR { return authorityOf(t, ctx, raw, name, qtype) }
	drop, swap := dropAuthority, swapAuthority
	asOther := func(name string, qtype uint16) func(*resolve.Answer) {
		return func(a *resolve.Answer) { a.Records, a.Authority, a.Rcode = nil, other(name, qtype), dns.RcodeSuccess }
	}
	cases := []struct {
		label, name string
		qtype       uint16
		edit        func(*resolve.Answer)
		state       dnssec.State
		reason      string
	}{
		{"nsec3 nxdomain", nx, dns.TypeTXT, nil, dnssec.Secure, "n3.alt."},
		{"nsec3 nxdomain without wildcard cover", nx, dns.TypeTXT, drop(covers3("*.n3.alt.")), dnssec.Bogus,
			"the denial of TXT " + nx + " is not proven: no NSEC3 record covers the wildcard *.n3.alt. at the closest encloser of " + nx},
		{"nsec3 nxdomain without next closer", nx, dns.TypeTXT, drop(covers3(nx)), dnssec.Bogus,
			"no NSEC3 record covers the next closer name " + nx + " (closest encloser n3.alt."},
		{"nsec3 nxdomain without closest encloser", nx, dns.TypeTXT, drop(matches3("n3.alt.")), dnssec.Bogus,
			"no NSEC3 record matches an ancestor of " + nx + " in n3.alt.: no closest encloser proof"},
		{"nsec3 nxdomain wildcard cover swapped", nx, dns.TypeTXT, swap(covers3("*.n3.alt."), other("mx.n3.alt.", dns.TypeTXT)), dnssec.Bogus,
			"no NSEC3 record covers the wildcard *.n3.alt."},
		{"nsec3 nxdomain below a missing name", "x." + nx, dns.TypeTXT, nil, dnssec.Secure, ""},
		{"nsec3 nodata", "mx.n3.alt.", dns.TypeTXT, nil, dnssec.Secure, ""},
		{"nsec3 nodata empty non-terminal", "b.n3.alt.", dns.TypeTXT, nil, dnssec.Secure, ""},
		{"nsec3 nodata match swapped", "mx.n3.alt.", dns.TypeTXT, swap(matches3("mx.n3.alt."), other("n3.alt.", dns.TypeTXT)), dnssec.Bogus,
			"no NSEC3 record matches mx.n3.alt. (RFC 5155 §8.5)"},
		{"nsec3 nodata lists the type", "mx.n3.alt.", dns.TypeA, asOther("mx.n3.alt.", dns.TypeTXT), dnssec.Bogus,
			"the NSEC3 record at mx.n3.alt. lists A: it does not deny A mx.n3.alt."},
		{"nsec3 insecure delegation", "insecure.alt.", dns.TypeMX, nil, dnssec.Insecure, "proven by NSEC3"},
		{"nsec nxdomain", "nope.nsec.test.", dns.TypeTXT, nil, dnssec.Secure, ""},
		{"nsec nxdomain without wildcard denial", "nope.nsec.test.", dns.TypeTXT, drop(coversNSEC("*.nsec.test.")), dnssec.Bogus,
			"no NSEC record proves that the wildcard *.nsec.test. at the closest encloser of nope.nsec.test. does not exist"},
		{"nsec nxdomain without cover", "nope.nsec.test.", dns.TypeTXT, drop(coversNSEC("nope.nsec.test.")), dnssec.Bogus,
			"no NSEC record covers nope.nsec.test."},
		{"nsec nodata", "mx.nsec.test.", dns.TypeTXT, nil, dnssec.Secure, ""},
		{"nsec nodata empty non-terminal", "b.nsec.test.", dns.TypeTXT, nil, dnssec.Secure, ""},
		{"nsec nodata empty non-terminal swapped", "b.nsec.test.", dns.TypeTXT, swap(coversNSEC("b.nsec.test."), other("mx.nsec.test.", dns.TypeTXT)), dnssec.Bogus,
			"no NSEC record at b.nsec.test., and none covers it"},
		{"nsec nodata lists the type", "mx.nsec.test.", dns.TypeA, asOther("mx.nsec.test.", dns.TypeTXT), dnssec.Bogus,
			"the NSEC record at mx.nsec.test. lists A"},
	}
	for _, tc := range cases {
		t.Run(tc.label, func(t *testing.T) {
			tr := &tamper{r: raw, name: tc.name, qtype: tc.qtype, edit: tc.edit}
			v := &dnssec.Validator{Resolver: tr, Anchors: w.Anchors, Now: func() time.Time { return w.Now }}
			r := v.Validate(ctx, tc.name, tc.qtype)
			if r.State != tc.state || !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("%s: %s (%s), want %s containing %q", tc.name, r.State, r.Reason, tc.state, tc.reason)
			}
		})
	}
}

// TestDenialProofDS: the proof that a delegation has no DS (RFC 5155
// §8.5-§8.6): the NSEC3 record matching the delegation, or, without one,
// a closest encloser proof whose next closer span is opt-out.
func TestDenialProofDS(t *testing.T) {
	w, srv := denialWorld(t)
	raw := srv.Resolver(2 * time.Second)
	ctx := context.Background()
	nxAuth, err := raw.QueryDNSSEC(ctx, "nope.alt.", dns.TypeTXT, true)
	if err != nil {
		t.Fatal(err)
	}
	tr := &tamper{r: raw, name: "insecure.alt.", qtype: dns.TypeDS, edit: func(a *resolve.Answer) {
		a.Authority = append(without(a.Authority, matches3("insecure.alt.")), nxAuth.Authority...)
	}}
	v := &dnssec.Validator{Resolver: tr, Anchors: w.Anchors, Now: func() time.Time { return w.Now }}
	r := v.Validate(ctx, "insecure.alt.", dns.TypeMX)
	want := "no NSEC or NSEC3 record proves that DS insecure.alt. does not exist: no NSEC3 record matches insecure.alt., and"
	if r.State != dnssec.Bogus || !strings.Contains(r.Reason, want) {
		t.Errorf("got %s (%s), want bogus containing %q", r.State, r.Reason, want)
	}
}
