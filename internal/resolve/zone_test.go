package resolve_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/resolve"
)

func TestLoadZoneFileErrors(t *testing.T) {
	tests := []struct {
		file string
		want []string // substrings of the message
	}{
		{"../../testdata/zones/bad/bad-address.zone", []string{"bad-address.zone", "bad A", "line: 5"}},
		{"../../testdata/zones/bad/garbage.zone", []string{"garbage.zone", "line: 1"}},
		{"../../testdata/zones/bad/outside.zone", []string{"outside.zone", "www.elsewhere.test. is outside the zone other.test."}},
		{"../../testdata/zones/bad/empty.zone", []string{"empty.zone", "no records"}},
		{"../../testdata/zones/bad/does-not-exist.zone", []string{"does-not-exist.zone", "no such file"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			_, err := resolve.LoadZoneFile(tc.file, "")
			if err == nil {
				t.Fatal("LoadZoneFile succeeded")
			}
			if !errors.Is(err, resolve.ErrZoneFile) {
				t.Errorf("%v is not ErrZoneFile", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestZoneOrigin(t *testing.T) {
	z, err := resolve.LoadZoneFile("../../testdata/zones/example.org.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	if z.Origin != "example.org." {
		t.Errorf("origin = %q", z.Origin)
	}
	// Without SOA or $ORIGIN: explicit origin, or the common apex.
	z, err = resolve.ParseZone(strings.NewReader("@ IN A 192.0.2.1\nwww IN A 192.0.2.2\n"), "x", "lab.test")
	if err != nil || z.Origin != "lab.test." {
		t.Fatalf("explicit origin: %v, %v", z, err)
	}
	z, err = resolve.ParseZone(strings.NewReader("lab.test. IN A 192.0.2.1\nwww.lab.test. IN A 192.0.2.2\n"), "x", "")
	if err != nil || z.Origin != "lab.test." {
		t.Fatalf("common apex: %v, %v", z, err)
	}
	_, err = resolve.ParseZone(strings.NewReader("a.test. IN A 192.0.2.1\nb.test. IN A 192.0.2.2\n"), "x", "")
	if err == nil || !strings.Contains(err.Error(), "no SOA record") {
		t.Fatalf("no apex: %v", err)
	}
	_, err = resolve.ParseZone(strings.NewReader("$INCLUDE /etc/passwd\n"), "x", "lab.test")
	if err == nil {
		t.Fatal("$INCLUDE was followed")
	}
}

func TestZonesOfflineAndRouting(t *testing.T) {
	org, err := resolve.ParseZone(strings.NewReader(testZone), "org.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := resolve.ParseZone(strings.NewReader("$ORIGIN sub.example.org.\n@ IN SOA ns h 1 2 3 4 5\n@ IN A 192.0.2.77\n"), "sub.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	var events []resolve.TraceEvent
	zs := &resolve.Zones{List: []*resolve.Zone{org, sub}, Trace: func(e resolve.TraceEvent) { events = append(events, e) }}
	ctx := context.Background()

	// The longest apex wins.
	a, err := zs.Query(ctx, "sub.example.org", dns.TypeA)
	if err != nil || len(a.Of(dns.TypeA)) != 1 || a.Server != "zone:sub.zone" {
		t.Fatalf("sub.example.org A = %+v, %v", a, err)
	}
	// In-zone chains, wildcard, NXDOMAIN, loops.
	if a, err := zs.Query(ctx, "alias2.example.org", dns.TypeA); err != nil || len(a.Of(dns.TypeA)) != 1 || len(a.Chain()) != 2 {
		t.Errorf("alias2 = %+v, %v", a, err)
	}
	if a, err := zs.Query(ctx, "deep.x.wild.example.org", dns.TypeTXT); err != nil || len(a.Of(dns.TypeTXT)) != 1 || a.Of(dns.TypeTXT)[0].Header().Name != "deep.x.wild.example.org." {
		t.Errorf("wildcard = %+v, %v", a, err)
	}
	if a, err := zs.Query(ctx, "wild.example.org", dns.TypeTXT); err != nil || !a.NoData() {
		t.Errorf("wildcard parent should be NODATA: %+v, %v", a, err)
	}
	if a, err := zs.Query(ctx, "nope.example.org", dns.TypeTXT); err != nil || !a.NXDomain() {
		t.Errorf("nope = %+v, %v", a, err)
	}
	if _, err := zs.Query(ctx, "loop1.example.org", dns.TypeA); !errors.Is(err, resolve.ErrLoop) {
		t.Errorf("loop: %v", err)
	}
	// Offline: names outside the zones are errors, never NXDOMAIN.
	_, err = zs.Query(ctx, "out.example.org", dns.TypeA)
	if !errors.Is(err, resolve.ErrOffline) || !strings.Contains(err.Error(), "not resolvable offline for A host.example.net") {
		t.Errorf("offline: %v", err)
	}
	if len(events) == 0 || events[0].Server != "zone:sub.zone" || events[0].Proto != "zone" {
		t.Errorf("trace events = %+v", events)
	}
}

func TestParseName(t *testing.T) {
	long63 := strings.Repeat("a", 63)
	tests := []struct {
		in, ascii, unicode, err string
	}{
		{"Example.ORG", "example.org", "example.org", ""},
		{"example.org.", "example.org", "example.org", ""},
		{"bücher.example", "xn--bcher-kva.example", "bücher.example", ""},
		{"xn--bcher-kva.example", "xn--bcher-kva.example", "bücher.example", ""},
		{"_dmarc.example.org", "_dmarc.example.org", "_dmarc.example.org", ""},
		{long63 + ".example", long63 + ".example", long63 + ".example", ""},
		{strings.Repeat("a", 64) + ".example", "", "", "is 64 octets, the limit is 63"},
		{strings.Repeat(long63+".", 4) + "example", "", "", "octets, the limit is 253"},
		{"example..org", "", "", "empty label at position 2"},
		{".example.org", "", "", "empty label at position 1"},
		{"", "", "", "empty name"},
		{".", "", "", "the root is not a mail domain"},
		{"user@example.org", "", "", "not an e-mail address"},
		{"exa mple.org", "", "", "not allowed"},
		{"-bad.example", "", "", "invalid label \"-bad\""},
		{"example.org/path", "", "", "not allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			n, err := resolve.ParseName(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, resolve.ErrBadName) {
					t.Fatalf("ParseName(%q) = %+v, %v; want error containing %q", tc.in, n, err, tc.err)
				}
				return
			}
			if err != nil || n.ASCII != tc.ascii || n.Unicode != tc.unicode {
				t.Fatalf("ParseName(%q) = %+v, %v; want %q / %q", tc.in, n, err, tc.ascii, tc.unicode)
			}
		})
	}
}

// TestRootZone: a zone whose origin is the root answers without looping.
func TestRootZone(t *testing.T) {
	z, err := resolve.ParseZone(strings.NewReader(". IN SOA a.root. h. 1 2 3 4 5\n*.test. IN TXT \"wild\"\nexample.com. IN A 192.0.2.1\n"), "root.zone", "")
	if err != nil || z.Origin != "." {
		t.Fatalf("root zone: %v, %v", z, err)
	}
	tests := []struct {
		name  string
		rcode int
		n     int
	}{
		{"example.com.", dns.RcodeSuccess, 1},
		{"com.", dns.RcodeSuccess, 0},
		{"nope.org.", dns.RcodeNameError, 0},
		{"org.", dns.RcodeNameError, 0},
		{"a.b.test.", dns.RcodeSuccess, 1}, // closest encloser test.: the wildcard applies
		{"x.test.", dns.RcodeSuccess, 1},
	}
	for _, tc := range tests {
		qt := dns.TypeA
		if strings.HasSuffix(tc.name, "test.") {
			qt = dns.TypeTXT
		}
		rc, rrs := z.Exchange(tc.name, qt)
		if rc != tc.rcode || len(rrs) != tc.n {
			t.Errorf("%s: rcode %d with %d records, want %d with %d", tc.name, rc, len(rrs), tc.rcode, tc.n)
		}
	}
}
