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

// resigned returns an edit that replaces the NSEC3 records pick selects
// by copies that change makes, signed with the key of zone (so that only
// the change can make the validator refuse them); add keeps the
// originals too.
func resigned(t *testing.T, w *dnstest.World, zone string, pick func(dns.RR) bool, change func(*dns.NSEC3), add bool) func(*resolve.Answer) {
	return func(a *resolve.Answer) {
		var made []dns.RR
		for _, rr := range a.Authority {
			if !pick(rr) {
				continue
			}
			c := dns.Copy(rr).(*dns.NSEC3)
			change(c)
			sig, err := w.Zones[zone].SignRRset(w.Now, []dns.RR{c})
			if err != nil {
				t.Fatal(err)
			}
			made = append(made, c, sig)
		}
		if !add {
			a.Authority = without(a.Authority, pick)
		}
		a.Authority = append(made, a.Authority...)
	}
}

// spanAll makes an NSEC3 record whose span (next hash = own hash) holds
// every hash, as an unknown hash algorithm leaves it to a naive reader.
func spanAll(hash uint8) func(*dns.NSEC3) {
	return func(n *dns.NSEC3) {
		n.Hash = hash
		n.NextDomain = strings.ToUpper(dns.SplitDomainName(n.Hdr.Name)[0])
	}
}

// otherHash returns an NSEC3 owner name with another hash label, in the
// same zone.
func otherHash(owner string) string {
	if owner[0] == 'v' {
		return "0" + owner[1:]
	}
	return "v" + owner[1:]
}

// TestNSEC3Unusable: NSEC3 records of an unknown hash algorithm or with
// flags other than 0 and 1 are ignored (RFC 5155 §8.1, §8.2): they prove
// nothing, and do not spoil the proof of the others.
func TestNSEC3Unusable(t *testing.T) {
	w, srv := denialWorld(t)
	raw := srv.Resolver(2 * time.Second)
	ctx := context.Background()
	nx := nxName(t, raw, "n3.alt.")
	all := func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeNSEC3 }
	cases := []struct {
		label  string
		edit   func(*resolve.Answer)
		state  dnssec.State
		reason string
	}{
		{"unknown hash in place of the wildcard cover", resigned(t, w, "n3.alt.", covers3("*.n3.alt."), spanAll(2), false), dnssec.Bogus,
			"no NSEC3 record covers the wildcard *.n3.alt. at the closest encloser of " + nx},
		{"flags 2 on the wildcard cover", resigned(t, w, "n3.alt.", covers3("*.n3.alt."), func(n *dns.NSEC3) { n.Flags = 2 }, false), dnssec.Bogus,
			"no NSEC3 record covers the wildcard *.n3.alt. at the closest encloser of " + nx},
		{"only unknown hashes", resigned(t, w, "n3.alt.", all, func(n *dns.NSEC3) { n.Hash = 2 }, false), dnssec.Bogus,
			"the denial of TXT " + nx + " is not proven: the NSEC3 records of n3.alt. are ignored (hash algorithm 2 is unknown: RFC 5155 §8.1)"},
		{"unknown hashes beside a whole proof", resigned(t, w, "n3.alt.", all, func(n *dns.NSEC3) { n.Hdr.Name = otherHash(n.Hdr.Name); spanAll(2)(n) }, true), dnssec.Secure, "n3.alt."},
	}
	for _, tc := range cases {
		t.Run(tc.label, func(t *testing.T) {
			tr := &tamper{r: raw, name: nx, qtype: dns.TypeTXT, edit: tc.edit}
			v := &dnssec.Validator{Resolver: tr, Anchors: w.Anchors, Now: func() time.Time { return w.Now }}
			r := v.Validate(ctx, nx, dns.TypeTXT)
			if r.State != tc.state || !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("%s: %s (%s), want %s containing %q", nx, r.State, r.Reason, tc.state, tc.reason)
			}
		})
	}
}

// TestNSEC3IterationCap: a proof whose NSEC3 records have more than 150
// iterations is insecure, naming the zone and the count (RFC 9276 §3.2);
// up to 150 it is checked as any other, with a note (§3.1).
func TestNSEC3IterationCap(t *testing.T) {
	w := dnstest.NewWorld(t, worldNow,
		dnstest.SignedSpec{Origin: "test."},
		dnstest.SignedSpec{Origin: "alt.", NSEC3: true},
		dnstest.SignedSpec{Origin: "hi.alt.", Records: mailRecords, NSEC3: true, Iterations: 151},
		dnstest.SignedSpec{Origin: "hw.alt.", Records: "* 3600 IN TXT \"wild\"\n", NSEC3: true, Iterations: 151},
		dnstest.SignedSpec{Origin: "cap.alt.", Records: mailRecords, NSEC3: true, Iterations: 150},
		dnstest.SignedSpec{Origin: "insecure.hi.alt.", Records: mailRecords, Unsigned: true})
	srv := dnstest.StartWorld(t, w)
	raw := srv.Resolver(2 * time.Second)
	ctx := context.Background()
	absurd := resigned(t, w, "cap.alt.", func(rr dns.RR) bool { _, ok := rr.(*dns.NSEC3); return ok },
		func(n *dns.NSEC3) { n.Iterations = 65535 }, false)
	cases := []struct {
		name   string
		qtype  uint16
		edit   func(*resolve.Answer)
		state  dnssec.State
		reason string
	}{
		{"nope.hi.alt.", dns.TypeTXT, nil, dnssec.Insecure, "the proof for TXT nope.hi.alt.: the NSEC3 records of hi.alt. use 151 iterations, more than the 150 this validator computes: treated as insecure (RFC 9276 §3.2)"},
		{"hi.alt.", dns.TypeTXT, nil, dnssec.Insecure, "the NSEC3 records of hi.alt. use 151 iterations"},
		// Below a DS denial that is not computed: unsigned data is
		// insecure (it may come from an unsigned child), signed data
		// secure (delv and Unbound agree: scripts/dnssec-interop.sh).
		{"insecure.hi.alt.", dns.TypeMX, nil, dnssec.Insecure, "whether a delegation lies between is not proven: the NSEC3 records of hi.alt. use 151 iterations"},
		{"mx.hi.alt.", dns.TypeA, nil, dnssec.Secure, "hi.alt."},
		{"_dmarc.hi.alt.", dns.TypeTXT, nil, dnssec.Secure, "hi.alt."},
		{"x.hw.alt.", dns.TypeTXT, nil, dnssec.Insecure, "the proof for TXT x.hw.alt.: the NSEC3 records of hw.alt. use 151 iterations"},
		{"hi.alt.", dns.TypeMX, nil, dnssec.Secure, "hi.alt."},
		{"nope.cap.alt.", dns.TypeTXT, nil, dnssec.Secure, "cap.alt."},
		{"nope.cap.alt.", dns.TypeTXT, absurd, dnssec.Insecure, "the NSEC3 records of cap.alt. use 65535 iterations"},
	}
	for _, tc := range cases {
		t.Run(tc.name+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
			tr := &tamper{r: raw, name: tc.name, qtype: tc.qtype, edit: tc.edit}
			v := &dnssec.Validator{Resolver: tr, Anchors: w.Anchors, Now: func() time.Time { return w.Now }}
			r := v.Validate(ctx, tc.name, tc.qtype)
			if r.State != tc.state || !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("%s: %s (%s), want %s containing %q", tc.name, r.State, r.Reason, tc.state, tc.reason)
			}
			if capped := tc.state == dnssec.Insecure; (r.Iterations > dnssec.MaxNSEC3Iterations) != capped {
				t.Errorf("%s: Iterations = %d, want it set only for the capped proofs", tc.name, r.Iterations)
			}
			if !hasNote(r.Notes, dnssec.NSEC3Iterations) {
				t.Errorf("no NSEC3Iterations note in %+v", r.Notes)
			}
		})
	}
}
