package dnssec_test

import (
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/dnssec"
)

// TestRootAnchors: the built-in anchors are KSK-2017 and KSK-2024.
func TestRootAnchors(t *testing.T) {
	got := dnssec.RootAnchors()
	if len(got) != 2 || got[0].(*dns.DS).KeyTag != 20326 || got[1].(*dns.DS).KeyTag != 38696 {
		t.Errorf("RootAnchors() = %v", got)
	}
}

// TestParseAnchors: DS and zone-key DNSKEY records are accepted; any
// other input is an error naming the problem.
func TestParseAnchors(t *testing.T) {
	cases := []struct{ in, err string }{
		{". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n", ""},
		{"example. 3600 IN DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==\n", ""},
		{"", "no DS or DNSKEY record"},
		{"example. IN A 192.0.2.1\n", "a trust anchor is a DS or DNSKEY record"},
		{"example. IN DNSKEY 0 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==\n", "lack the zone key bit"},
		{"example. CH DS 1 8 2 AA\n", "class CH"},
		{". IN DS 20326 8 2\n", "anchors.txt"},
		{"$INCLUDE /etc/passwd\n", "anchors.txt"},
	}
	for _, tc := range cases {
		rrs, err := dnssec.ParseAnchors(strings.NewReader(tc.in), "anchors.txt")
		if tc.err == "" && (err != nil || len(rrs) != 1) {
			t.Errorf("%q: %v, %v", tc.in, rrs, err)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
		}
	}
}

// FuzzCanonicalCompare: the hand-written canonical order (applied to
// names from DNS replies) is antisymmetric and never panics.
func FuzzCanonicalCompare(f *testing.F) {
	f.Add("a.example.", "Z.a.example.")
	f.Add(`\001.example.`, `\200.example.`)
	f.Add(`a\.b.example`, "*.example.")
	f.Fuzz(func(t *testing.T, a, b string) {
		ab, ba := dnssec.CanonicalCompare(a, b), dnssec.CanonicalCompare(b, a)
		if ab != -ba {
			t.Errorf("compare(%q, %q) = %d but compare(b, a) = %d", a, b, ab, ba)
		}
	})
}
