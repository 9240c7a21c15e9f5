package dnsbl

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestQueryName(t *testing.T) {
	long := strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + ".example"
	tests := []struct {
		target Target
		zone   string
		want   string
		err    error
	}{
		{IPTarget(netip.MustParseAddr("192.0.2.66")), "zen.spamhaus.org", "66.2.0.192.zen.spamhaus.org.", nil},
		{IPTarget(netip.MustParseAddr("127.0.0.2")), "ZEN.Spamhaus.org.", "2.0.0.127.zen.spamhaus.org.", nil},
		{IPTarget(netip.MustParseAddr("2001:db8:25::66")), "zen.spamhaus.org",
			"6.6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.5.2.0.0.8.b.d.0.1.0.0.2.zen.spamhaus.org.", nil},
		// RFC 5782 §5 IPv6 test entry: an IPv4-mapped address stays IPv6.
		{IPTarget(netip.MustParseAddr("::ffff:7f00:2")), "v6.example",
			"2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.v6.example.", nil},
		{DomainTarget("Spammy.Example."), "dbl.spamhaus.org", "spammy.example.dbl.spamhaus.org.", nil},
		{DomainTarget(long), strings.Repeat("z", 60) + ".example", "", ErrNameTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.target.String(), func(t *testing.T) {
			got, err := QueryName(tt.target, tt.zone)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if got != tt.want && tt.err == nil {
				t.Errorf("QueryName = %q, want %q", got, tt.want)
			}
		})
	}
}

func known(t *testing.T, zone string) *List {
	t.Helper()
	l := Known(zone, nil)
	if l == nil {
		t.Fatalf("%s not in the catalogue", zone)
	}
	return l
}

func TestInterpret(t *testing.T) {
	generic, err := ParseSpec("bl.example.net", nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		zone    string
		list    *List
		answer  string
		classes []Class
		meaning string // substring of the first hit's meaning
	}{
		{zone: "zen.spamhaus.org", answer: "127.0.0.2", classes: []Class{ClassListed}, meaning: "SBL"},
		{zone: "zen.spamhaus.org", answer: "127.0.0.3", classes: []Class{ClassListed}, meaning: "CSS"},
		{zone: "zen.spamhaus.org", answer: "127.0.0.4", classes: []Class{ClassListed}, meaning: "XBL"},
		{zone: "zen.spamhaus.org", answer: "127.0.0.9", classes: []Class{ClassListed}, meaning: "DROP"},
		{zone: "zen.spamhaus.org", answer: "127.0.0.10", classes: []Class{ClassPolicy}, meaning: "PBL (maintained by the ISP)"},
		{zone: "zen.spamhaus.org", answer: "127.0.0.11", classes: []Class{ClassPolicy}, meaning: "PBL (maintained by Spamhaus)"},
		{zone: "zen.spamhaus.org", answer: "127.255.255.252", classes: []Class{ClassError}, meaning: "misspelled"},
		{zone: "zen.spamhaus.org", answer: "127.255.255.254", classes: []Class{ClassRefused}, meaning: "public or open resolver"},
		{zone: "zen.spamhaus.org", answer: "127.255.255.255", classes: []Class{ClassRefused}, meaning: "too many queries"},
		{zone: "zen.spamhaus.org", answer: "127.255.255.250", classes: []Class{ClassError}, meaning: "Spamhaus error code"},
		{zone: "zen.spamhaus.org", answer: "127.0.0.99", classes: []Class{ClassListed}, meaning: "not in this list's documented table"},
		{zone: "zen.spamhaus.org", answer: "192.0.2.1", classes: []Class{ClassError}, meaning: "outside 127.0.0.0/8"},
		{zone: "dbl.spamhaus.org", answer: "127.0.1.4", classes: []Class{ClassListed}, meaning: "phishing"},
		{zone: "dbl.spamhaus.org", answer: "127.0.1.255", classes: []Class{ClassError}, meaning: "IP address was queried"},
		{zone: "dbl.spamhaus.org", answer: "127.255.255.254", classes: []Class{ClassRefused}, meaning: "refused"},
		{zone: "multi.uribl.com", answer: "127.0.0.1", classes: []Class{ClassRefused}, meaning: "query refused"},
		{zone: "multi.uribl.com", answer: "127.0.0.2", classes: []Class{ClassListed}, meaning: "black"},
		{zone: "multi.uribl.com", answer: "127.0.0.4", classes: []Class{ClassPolicy}, meaning: "grey"},
		{zone: "multi.uribl.com", answer: "127.0.0.14", classes: []Class{ClassListed, ClassPolicy, ClassPolicy}, meaning: "black"},
		{zone: "multi.surbl.org", answer: "127.0.0.1", classes: []Class{ClassRefused}, meaning: "refused"},
		{zone: "multi.surbl.org", answer: "127.0.0.80", classes: []Class{ClassListed, ClassListed}, meaning: "MW"},
		{zone: "multi.surbl.org", answer: "127.0.0.2", classes: []Class{ClassListed}, meaning: "bit 2 (not in this list's documented table)"},
		{zone: "bl.spamcop.net", answer: "127.0.0.2", classes: []Class{ClassListed}, meaning: "SpamCop"},
		{zone: "bl.example.net", list: generic, answer: "127.0.0.7", classes: []Class{ClassListed}, meaning: "no code table"},
		{zone: "bl.example.net", list: generic, answer: "10.0.0.1", classes: []Class{ClassError}, meaning: "outside 127.0.0.0/8"},
	}
	for _, tt := range tests {
		t.Run(tt.zone+"/"+tt.answer, func(t *testing.T) {
			l := tt.list
			if l == nil {
				l = known(t, tt.zone)
			}
			hits := l.Interpret(netip.MustParseAddr(tt.answer))
			var classes []Class
			for _, h := range hits {
				classes = append(classes, h.Class)
				if h.Code != tt.answer {
					t.Errorf("hit code %q, want %q", h.Code, tt.answer)
				}
			}
			if !slices.Equal(classes, tt.classes) {
				t.Fatalf("classes %v, want %v (%+v)", classes, tt.classes, hits)
			}
			if !strings.Contains(hits[0].Meaning, tt.meaning) {
				t.Errorf("meaning %q, want it to contain %q", hits[0].Meaning, tt.meaning)
			}
		})
	}
}

func TestJudge(t *testing.T) {
	zen := known(t, "zen.spamhaus.org")
	tests := []struct {
		answers []string
		want    Verdict
	}{
		{nil, Clean},
		{[]string{"127.0.0.10"}, Policy},
		{[]string{"127.0.0.4", "127.0.0.10"}, Listed},
		{[]string{"127.0.0.2", "127.255.255.254"}, Refused},
		{[]string{"127.0.0.2", "127.255.255.252"}, Invalid},
	}
	for _, tt := range tests {
		r := Result{}
		for _, a := range tt.answers {
			r.Hits = append(r.Hits, zen.Interpret(netip.MustParseAddr(a))...)
		}
		r.judge()
		if r.Verdict != tt.want {
			t.Errorf("%v: verdict %s, want %s", tt.answers, r.Verdict, tt.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	var zones []string
	kinds := map[string]Kind{}
	for _, l := range Defaults() {
		zones = append(zones, l.Zone)
		kinds[l.Zone] = l.Kind
		if l.Delist == "" || !strings.HasPrefix(l.Delist, "https://") {
			t.Errorf("%s: delisting page %q", l.Zone, l.Delist)
		}
		if l.Name == "" || l.Generic {
			t.Errorf("%s: name %q generic %v", l.Zone, l.Name, l.Generic)
		}
		hasListed := false
		for _, c := range l.Codes {
			hasListed = hasListed || c.Class == ClassListed
		}
		if !hasListed {
			t.Errorf("%s: no listing code", l.Zone)
		}
	}
	want := []string{"zen.spamhaus.org", "b.barracudacentral.org", "bl.spamcop.net", "psbl.surriel.com", "bl.mailspike.net",
		"dnsbl-1.uceprotect.net", "dbl.spamhaus.org", "multi.surbl.org", "multi.uribl.com"}
	if !slices.Equal(zones, want) {
		t.Errorf("default set %v, want %v", zones, want)
	}
	// Only lists documented to cover IPv6 are asked about IPv6 addresses.
	if kinds["zen.spamhaus.org"] != KindIP || kinds["bl.spamcop.net"] != KindIP4 || kinds["dbl.spamhaus.org"] != KindDomain {
		t.Errorf("kinds: %v", kinds)
	}
	if l := known(t, "dbl.spamhaus.org"); l.TestListed != "dbltest.com" || l.TestClean != "invalid" {
		t.Errorf("DBL test entries %q %q", l.TestListed, l.TestClean)
	}
	if l := known(t, "bl.spamcop.net"); l.TestListed != "127.0.0.2" || l.TestClean != "127.0.0.1" {
		t.Errorf("SpamCop test entries %q %q", l.TestListed, l.TestClean)
	}
	// Defaults returns copies: changing one does not change the catalogue.
	Defaults()[0].Codes[0].Class = ClassError
	if Defaults()[0].Codes[0].Class != ClassListed {
		t.Error("Defaults shares its code tables")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"empty", "", "no lists"},
		{"unknown key", "lists:\n  - zone: bl.example.net\n    zones: x\n", "test.yaml:3: field zones not found"},
		{"bad yaml", "lists:\n  - zone: [\n", "test.yaml:"},
		{"line of the list", "lists:\n  - zone: bl.example.net\n    codes: [{code: 127.0.0.2, class: listed, meaning: x}]\n  - zone: bl2.example.net\n", "test.yaml:4: list 2 (bl2.example.net): no codes"},
		{"not text", "lists:\n  - zone: \xff\xfe\n", "not UTF-8"},
		{"bad zone", "lists:\n  - zone: bl..example\n    codes: [{code: 127.0.0.2, class: listed, meaning: x}]\n", "empty label"},
		{"tld zone", "lists:\n  - zone: example\n    codes: [{code: 127.0.0.2, class: listed, meaning: x}]\n", "top-level"},
		{"bad kind", "lists:\n  - zone: bl.example.net\n    kind: ipv4\n    codes: [{code: 127.0.0.2, class: listed, meaning: x}]\n", "kind \"ipv4\""},
		{"no codes", "lists:\n  - zone: bl.example.net\n", "no codes"},
		{"bad class", "lists:\n  - zone: bl.example.net\n    codes: [{code: 127.0.0.2, class: black, meaning: x}]\n", "class \"black\""},
		{"no meaning", "lists:\n  - zone: bl.example.net\n    codes: [{code: 127.0.0.2, class: listed}]\n", "no meaning"},
		{"code outside", "lists:\n  - zone: bl.example.net\n    codes: [{code: 10.0.0.2, class: listed, meaning: x}]\n", "127.0.0.0/8"},
		{"code v6", "lists:\n  - zone: bl.example.net\n    codes: [{code: \"::1\", class: listed, meaning: x}]\n", "127.0.0.0/8"},
		{"host bits", "lists:\n  - zone: bl.example.net\n    codes: [{code: 127.255.255.1/24, class: error, meaning: x}]\n", "host bits"},
		{"bit no mask", "lists:\n  - zone: bl.example.net\n    codes: [{bit: 2, class: listed, meaning: x}]\n", "bitmask: true"},
		{"bit value", "lists:\n  - zone: bl.example.net\n    bitmask: true\n    codes: [{bit: 6, class: listed, meaning: x}]\n", "bit 6"},
		{"both", "lists:\n  - zone: bl.example.net\n    bitmask: true\n    codes: [{bit: 2, code: 127.0.0.2, class: listed, meaning: x}]\n", "either code or bit"},
		{"test kind", "lists:\n  - zone: bl.example.net\n    kind: ip4\n    test_listed: \"::2\"\n    codes: [{code: 127.0.0.2, class: listed, meaning: x}]\n", "does not match kind"},
		{"twice", "lists:\n  - zone: bl.example.net\n    codes: [{code: 127.0.0.2, class: listed, meaning: x}]\n  - zone: BL.example.net\n    codes: [{code: 127.0.0.2, class: listed, meaning: x}]\n", "test.yaml:4: list 2: zone bl.example.net defined twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.yaml), "test.yaml")
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrConfig containing %q", err, tt.want)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	f, err := LoadFile("testdata/lists.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !f.IncludeDefaults || len(f.Lists) != 3 {
		t.Fatalf("include_defaults %v, %d lists", f.IncludeDefaults, len(f.Lists))
	}
	l := f.Lists[0]
	if l.Zone != "bl.example.net" || l.Kind != KindIP || l.TestListed != "127.0.0.2" || l.Delist != "https://bl.example.net/remove" {
		t.Errorf("list 1: %+v", l)
	}
	if h := l.Interpret(netip.MustParseAddr("127.0.0.10")); h[0].Class != ClassPolicy || h[0].Meaning != "dynamic address space" {
		t.Errorf("127.0.0.10: %+v", h)
	}
	if h := l.Interpret(netip.MustParseAddr("127.0.0.200")); h[0].Class != ClassRefused {
		t.Errorf("127.0.0.200: %+v", h)
	}
	for _, bad := range []string{"testdata/missing.yaml", "testdata", "/dev/zero"} {
		if _, err := LoadFile(bad); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), bad) {
			t.Errorf("%s: %v", bad, err)
		}
	}

	// Select: the file's default lists, then the built-in set; the file's
	// zen.spamhaus.org definition wins; its "default: false" list is only
	// used when named.
	lists, err := Select(nil, f)
	if err != nil {
		t.Fatal(err)
	}
	var zones []string
	for _, l := range lists {
		zones = append(zones, l.Zone)
	}
	if len(zones) != 10 || zones[0] != "bl.example.net" || zones[1] != "zen.spamhaus.org" || slices.Contains(zones, "optin.example.net") {
		t.Errorf("selected %v", zones)
	}
	if lists[1].Name != "ZEN via my own mirror" {
		t.Errorf("zen definition: %q", lists[1].Name)
	}
	lists, err = Select([]string{"optin.example.net", "domain:rhsbl.example.org"}, f)
	if err != nil || len(lists) != 2 || lists[0].Generic || !lists[1].Generic || lists[1].Kind != KindDomain {
		t.Errorf("Select with zones: %v %+v", err, lists)
	}
}

func TestParseSpec(t *testing.T) {
	tests := []struct {
		spec    string
		zone    string
		kind    Kind
		generic bool
		name    string
		err     string
	}{
		{spec: "zen.spamhaus.org", zone: "zen.spamhaus.org", kind: KindIP, name: "Spamhaus ZEN"},
		{spec: "ZEN.spamhaus.org.", zone: "zen.spamhaus.org", kind: KindIP, name: "Spamhaus ZEN"},
		{spec: "ip:zen.spamhaus.org", zone: "zen.spamhaus.org", kind: KindIP, name: "Spamhaus ZEN"},
		{spec: "abcdefkey.zen.dq.spamhaus.net", zone: "abcdefkey.zen.dq.spamhaus.net", kind: KindIP, name: "Spamhaus ZEN (DQS)"},
		{spec: "abcdefkey.dbl.dq.spamhaus.net", zone: "abcdefkey.dbl.dq.spamhaus.net", kind: KindDomain, name: "Spamhaus DBL (DQS)"},
		{spec: "bl.example.net", zone: "bl.example.net", kind: KindIP4, generic: true},
		{spec: "ip6:v6.example.net", zone: "v6.example.net", kind: KindIP6, generic: true},
		{spec: "domain:rhsbl.example.net", zone: "rhsbl.example.net", kind: KindDomain, generic: true},
		{spec: "domain:zen.spamhaus.org", err: "is a ip list"},
		{spec: "ipv4:bl.example.net", err: "kind \"ipv4\""},
		{spec: "bl example.net", err: "not allowed"},
		{spec: "", err: "empty name"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			l, err := ParseSpec(tt.spec, nil)
			if tt.err != "" {
				if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.Zone != tt.zone || l.Kind != tt.kind || l.Generic != tt.generic || l.Name != tt.name {
				t.Errorf("got zone %q kind %s generic %v name %q", l.Zone, l.Kind, l.Generic, l.Name)
			}
		})
	}
	l, _ := ParseSpec("ip6:v6.example.net", nil)
	if l.TestListed != "::ffff:7f00:2" || l.TestClean != "::ffff:7f00:1" {
		t.Errorf("IPv6 test entries %q %q", l.TestListed, l.TestClean)
	}
	l, _ = ParseSpec("domain:rhsbl.example.net", nil)
	if l.TestListed != "test" || l.TestClean != "invalid" {
		t.Errorf("domain test entries %q %q", l.TestListed, l.TestClean)
	}
}

// docs/checks/dnsbl.md documents every built-in list with its whole code
// table; this keeps it in step with defaults.yaml.
func TestDocsListEveryCode(t *testing.T) {
	b, err := os.ReadFile("../../docs/checks/dnsbl.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, l := range Catalogue() {
		if !strings.Contains(doc, fmt.Sprintf("### %s (`%s`)", l.Name, l.Zone)) {
			t.Errorf("docs: no section for %s", l.Zone)
		}
		if !strings.Contains(doc, "- Delisting: "+l.Delist) {
			t.Errorf("docs: %s delisting page %s missing", l.Zone, l.Delist)
		}
		for _, c := range l.Codes {
			code := "`" + c.Match.String() + "`"
			if c.Match.Bits() == 32 {
				code = "`" + c.Match.Addr().String() + "`"
			}
			if c.Bit != 0 {
				code = fmt.Sprintf("bit %d", c.Bit)
			}
			if row := fmt.Sprintf("| %s | %s | %s |", code, c.Class, c.Meaning); !strings.Contains(doc, row) {
				t.Errorf("docs: %s: row %q missing", l.Zone, row)
			}
		}
	}
}
