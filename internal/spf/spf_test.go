package spf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

func TestParseDiagnostics(t *testing.T) {
	tests := []struct {
		record string
		index  int    // term the error names (0: the record)
		msg    string // part of the message
	}{
		{"v=spf1 foo -all", 1, `unknown mechanism "foo"`},
		{"v=spf1 -all ip4:1.2.3.4/33", 2, "maximum is 32"},
		{"v=spf1 ip4:1.2.3.4/032", 1, "leading zeros"},
		{"v=spf1 ip6:2001:db8::/129", 1, "maximum is 128"},
		{"v=spf1 ip4:2001:db8::1", 1, "not an IPv4 address"},
		{"v=spf1 ip6:192.0.2.1", 1, "not an IPv6 address"},
		{"v=spf1 a/33", 1, "maximum is 32"},
		{"v=spf1 mx//129", 1, "maximum is 128"},
		{"v=spf1 a:example.com/abc", 1, "not a valid top-level label"},
		{"v=spf1 include", 1, "include needs a domain"},
		{"v=spf1 include:", 1, "include needs a domain"},
		{"v=spf1 exists:foo", 1, "does not end in a top-level label"},
		{"v=spf1 a:foo.123", 1, "not a valid top-level label"},
		{"v=spf1 a:%{x}.example.com", 1, "unknown macro letter"},
		{"v=spf1 a:%{c}.example.com", 1, "only allowed in an explanation"},
		{"v=spf1 a:%{i0}.example.com", 1, "must be a positive number"},
		{"v=spf1 a:%{i.example.com", 1, "not closed"},
		{"v=spf1 a:100%.example.com", 1, "a % must be followed by"},
		{"v=spf1 redirect=a.example redirect=b.example", 2, "second redirect="},
		{"v=spf1 exp=a.example exp=b.example", 2, "second exp="},
		{"v=spf1 redirect=", 1, "redirect= needs a domain"},
		{"v=spf1 all:foo", 1, "all takes no argument"},
		{"v=spf1 -", 1, "expected a mechanism"},
		{"v=spf1 ptr/24", 1, "no CIDR length"},
		{"v=spf1 foo=%", 1, "invalid value"},
		{"v=spf1 a:ex\u00e4mple.com", 0, "non-ASCII"},
		{"v=spf1 a\tmx", 0, "control character"},
		{"v=spf10 -all", 0, `does not start with "v=spf1"`},
	}
	for _, tc := range tests {
		t.Run(tc.record, func(t *testing.T) {
			_, err := Parse(tc.record)
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse: %v, want a *SyntaxError", err)
			}
			if se.Index != tc.index {
				t.Errorf("term index %d, want %d (%v)", se.Index, tc.index, err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
		})
	}
}

func TestParseTerms(t *testing.T) {
	r, err := Parse("v=spf1  -a:%{d}.example.com/24//64 ~mx ?ip6:2001:DB8::/32 include:_spf.example.org exp=explain.%{d} x-foo=%{l} redirect=other.example ")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		kind Kind
		q    Qualifier
		pos  int
		text string
	}{
		{A, QFail, 8, "-a:%{d}.example.com/24//64"},
		{MX, QSoftFail, 35, "~mx"},
		{IP6, QNeutral, 39, "?ip6:2001:DB8::/32"},
		{Include, QPass, 58, "include:_spf.example.org"},
		{Exp, QPass, 83, "exp=explain.%{d}"},
		{UnknownModifier, QPass, 100, "x-foo=%{l}"},
		{Redirect, QPass, 111, "redirect=other.example"},
	}
	if len(r.Terms) != len(want) {
		t.Fatalf("%d terms, want %d", len(r.Terms), len(want))
	}
	for i, w := range want {
		got := r.Terms[i]
		if got.Kind != w.kind || got.Qualifier != w.q || got.Pos != w.pos || got.Text != w.text || got.Index != i+1 {
			t.Errorf("term %d = %v %c @%d %q, want %v %c @%d %q", i, got.Kind, got.Qualifier, got.Pos, got.Text, w.kind, w.q, w.pos, w.text)
		}
	}
	if a := r.Terms[0]; a.CIDR4 != 24 || a.CIDR6 != 64 || a.Domain.Raw != "%{d}.example.com" {
		t.Errorf("a: cidr %d/%d domain %q", a.CIDR4, a.CIDR6, a.Domain.Raw)
	}
	if p := r.Terms[2].Net; p != netip.MustParsePrefix("2001:db8::/32") {
		t.Errorf("ip6 network %v", p)
	}
	if r.Redirect == nil || r.Redirect.Domain.Raw != "other.example" || r.Exp == nil || r.Exp.Index != 5 {
		t.Errorf("redirect %+v exp %+v", r.Redirect, r.Exp)
	}
	if r.Terms[5].Name != "x-foo" || r.Terms[5].Value.Letters() != "l" {
		t.Errorf("unknown modifier %+v", r.Terms[5])
	}
}

// The examples of RFC 7208 §7.4.
func TestMacroExpansionRFCExamples(t *testing.T) {
	env4 := &macroEnv{sender: "strong-bad@email.example.com", local: "strong-bad", domain: "email.example.com",
		cur: "email.example.com", ip: netip.MustParseAddr("192.0.2.3"), helo: "mx.example.org", now: 1700000000}
	env6 := *env4
	env6.ip = netip.MustParseAddr("2001:db8::cb01")
	tests := []struct {
		env  *macroEnv
		in   string
		want string
	}{
		{env4, "%{s}", "strong-bad@email.example.com"},
		{env4, "%{o}", "email.example.com"},
		{env4, "%{d}", "email.example.com"},
		{env4, "%{d4}", "email.example.com"},
		{env4, "%{d3}", "email.example.com"},
		{env4, "%{d2}", "example.com"},
		{env4, "%{d1}", "com"},
		{env4, "%{dr}", "com.example.email"},
		{env4, "%{d2r}", "example.email"},
		{env4, "%{l}", "strong-bad"},
		{env4, "%{l-}", "strong.bad"},
		{env4, "%{lr}", "strong-bad"},
		{env4, "%{lr-}", "bad.strong"},
		{env4, "%{l1r-}", "strong"},
		{env4, "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
		{env4, "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
		{env4, "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
		{env4, "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
		{env4, "%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
		{&env6, "%{ir}.%{v}._spf.%{d2}", "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com"},
		{env4, "%{S}", "strong-bad%40email.example.com"},
		{env4, "%%%_%-", "% %20"},
		{env4, "%{c} %{t}", "192.0.2.3 1700000000"},
	}
	for _, tc := range tests {
		m, err := parseExplainString(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		got, err := m.expand(tc.env)
		if err != nil || got != tc.want {
			t.Errorf("%s = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// memZone answers from spf.test.zone without a network.
func memZone(t testing.TB) *resolve.Zones {
	t.Helper()
	z, err := resolve.LoadZoneFile("../../testdata/zones/spf/spf.test.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	return &resolve.Zones{List: []*resolve.Zone{z}}
}

func TestCheckHostOnZone(t *testing.T) {
	r := memZone(t)
	tests := []struct {
		ip, sender string
		want       Result
		expl       string
		lookups    int
	}{
		{"192.0.2.25", "a@ok.spf.test", Pass, "", 1},
		{"192.0.2.30", "a@ok.spf.test", Pass, "", 2},
		{"2001:db8::30", "a@ok.spf.test", Pass, "", 2},
		{"2001:db8:1::5", "a@ok.spf.test", Pass, "", 3},
		{"203.0.113.5", "a@ok.spf.test", Fail, "ok.spf.test does not designate 203.0.113.5 as a permitted sender", 3},
		{"192.0.2.1", "a@none.spf.test", None, "", 0},
		{"192.0.2.1", "a@multi.spf.test", PermError, "", 0},
		{"192.0.2.1", "a@toomany.spf.test", PermError, "", 11},
		{"192.0.2.1", "a@void.spf.test", PermError, "", 3},
		{"192.0.2.1", "a@voidlate.spf.test", Pass, "", 0},
		{"192.0.2.1", "a@incmissing.spf.test", PermError, "", 1},
		{"203.0.113.1", "a@loop.spf.test", PermError, "", 11},
		{"192.0.2.1", "a@loop.spf.test", Pass, "", 0},
		{"198.51.100.1", "a@redirok.spf.test", Pass, "", 1},
		{"192.0.2.1", "a@mxlimit.spf.test", PermError, "", 1},
		{"192.0.2.2", "a@explained.spf.test", Fail, "192.0.2.2 is not one of explained.spf.test's mail servers", 0},
		{"192.0.2.2", "", None, "", 0}, // HELO check with no HELO domain given below
	}
	for _, tc := range tests {
		t.Run(tc.sender+"/"+tc.ip, func(t *testing.T) {
			c := &Checker{Resolver: r, Trace: true}
			out := c.CheckHost(context.Background(), Request{IP: netip.MustParseAddr(tc.ip), Sender: tc.sender, Helo: "nohelo"})
			if out.Result != tc.want || out.Explanation != tc.expl || out.Lookups != tc.lookups {
				t.Errorf("got %s %q lookups %d (%s), want %s %q lookups %d\n%s", out.Result, out.Explanation, out.Lookups, out.Reason, tc.want, tc.expl, tc.lookups, formatTrace(out.Trace))
			}
		})
	}
}

func TestTraceRecordsTermsAndQueries(t *testing.T) {
	c := &Checker{Resolver: memZone(t), Trace: true}
	out := c.CheckHost(context.Background(), Request{IP: netip.MustParseAddr("198.51.100.7"), Sender: "x@ok.spf.test"})
	var got []string
	for _, s := range out.Trace {
		q := []string{}
		for _, x := range s.Queries {
			q = append(q, x.Type+" "+x.Name)
		}
		got = append(got, fmt.Sprintf("%d %s %q %s [%s]", s.Depth, s.Domain, s.Term, s.Result, strings.Join(q, ", ")))
	}
	want := []string{
		`0 ok.spf.test "" record "v=spf1 mx a:out.spf.test include:inc.spf.test -all" [TXT ok.spf.test]`,
		`0 ok.spf.test "mx" no match [MX ok.spf.test, A mail.ok.spf.test]`,
		`0 ok.spf.test "a:out.spf.test" no match [A out.spf.test]`,
		`0 ok.spf.test "include:inc.spf.test" match: pass []`,
		`1 inc.spf.test "" record "v=spf1 ip4:198.51.100.0/24 ip6:2001:db8:1::/48 -all" [TXT inc.spf.test]`,
		`1 inc.spf.test "ip4:198.51.100.0/24" match: pass []`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("trace:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAnalyze(t *testing.T) {
	r := memZone(t)
	tests := []struct {
		domain  string
		lookups int
		void    int
		issues  []IssueKind
		severe  bool
	}{
		{"ok.spf.test", 3, 0, nil, false},
		{"none.spf.test", 0, 0, []IssueKind{IssueMissing}, false},
		{"multi.spf.test", 0, 0, []IssueKind{IssueMultiple}, false},
		{"syntax.spf.test", 0, 0, []IssueKind{IssueSyntax}, false},
		{"incsyntax.spf.test", 1, 0, []IssueKind{IssueSyntax}, false},
		{"toomany.spf.test", 12, 1, nil, false},
		{"void.spf.test", 3, 3, []IssueKind{IssueMatchesNothing, IssueMatchesNothing, IssueTooManyVoid}, true},
		{"voidlate.spf.test", 3, 3, []IssueKind{IssueMatchesNothing, IssueMatchesNothing, IssueMatchesNothing, IssueTooManyVoid}, false},
		{"void6.spf.test", 3, 3, []IssueKind{IssueTooManyVoid}, true},
		{"incmissing.spf.test", 1, 0, []IssueKind{IssueIncludeMissing}, false},
		{"loop.spf.test", 2, 0, []IssueKind{IssueLoop}, false},
		{"allpass.spf.test", 0, 0, []IssueKind{IssueAllPass}, false},
		{"incallpass.spf.test", 1, 0, []IssueKind{IssueAllPass}, false},
		{"neutral.spf.test", 0, 0, []IssueKind{IssueAllNeutral}, false},
		{"noall.spf.test", 0, 0, []IssueKind{IssueAllNeutral}, false},
		{"ptr.spf.test", 1, 0, []IssueKind{IssuePTR}, false},
		{"macro.spf.test", 2, 0, []IssueKind{IssueMacroUnknowable}, false},
		{"redir.spf.test", 0, 0, []IssueKind{IssueRedirectIgnored}, false},
		{"redirok.spf.test", 1, 0, nil, false},
		{"mxlimit.spf.test", 1, 0, []IssueKind{IssueMXLimit}, false},
		{"incneutral.spf.test", 2, 0, nil, false},
		{"negincl.spf.test", 1, 0, nil, false},
		{"voidredir.spf.test", 4, 3, []IssueKind{IssueMatchesNothing, IssueMatchesNothing, IssueMatchesNothing, IssueTooManyVoid}, true},
		{"long.spf.test", 0, 0, []IssueKind{IssueTooLong}, false},
		{"aempty.spf.test", 1, 1, []IssueKind{IssueMatchesNothing}, false},
		{"mxnone.spf.test", 2, 1, []IssueKind{IssueMatchesNothing, IssueMatchesNothing}, false},
		{"expnone.spf.test", 0, 0, []IssueKind{IssueExpUnusable}, false},
		{"exptwo.spf.test", 0, 0, []IssueKind{IssueExpUnusable}, false},
		{"explained.spf.test", 0, 0, nil, false},
		{"badname.spf.test", 1, 0, []IssueKind{IssueIncludeMissing}, false},
	}
	for _, tc := range tests {
		t.Run(tc.domain, func(t *testing.T) {
			an := (&Analyzer{Resolver: r}).Analyze(context.Background(), tc.domain)
			var kinds []IssueKind
			severe := false
			for _, is := range an.Issues {
				kinds = append(kinds, is.Kind)
				severe = severe || is.Severe
			}
			if fmt.Sprint(kinds) != fmt.Sprint(tc.issues) || an.TotalLookups != tc.lookups || an.VoidLookups != tc.void || severe != tc.severe {
				t.Errorf("issues %v lookups %d void %d severe %v; want %v %d %d %v\n%v", kinds, an.TotalLookups, an.VoidLookups, severe,
					tc.issues, tc.lookups, tc.void, tc.severe, an.Issues)
			}
		})
	}
}

func TestAnalyzeTreeLines(t *testing.T) {
	an := (&Analyzer{Resolver: memZone(t)}).Analyze(context.Background(), "toomany.spf.test")
	want := []string{
		"toomany.spf.test [4 lookups: a (void for ipv6), mx (1 MX name), include:t1.spf.test, include:t2.spf.test; 12 with children]",
		"├─ include:t1.spf.test → t1.spf.test [4 lookups: a:out.spf.test, a:out.spf.test, a:out.spf.test, a:out.spf.test]",
		"└─ include:t2.spf.test → t2.spf.test [4 lookups: a:out.spf.test, a:out.spf.test, a:out.spf.test, a:out.spf.test]",
	}
	if got := an.TreeLines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tree:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// hostileZone builds a zone of hostile records under hostile.test.
func hostileZone(t testing.TB) *resolve.Zones {
	t.Helper()
	var b strings.Builder
	b.WriteString("$ORIGIN hostile.test.\n$TTL 300\n@ SOA ns hm 1 1 1 1 1\n")
	// A redirect chain 40 deep.
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "r%d TXT \"v=spf1 redirect=r%d.hostile.test\"\n", i, i+1)
	}
	// A 500-term record (ip4 terms and a final -all), split in 255-byte strings.
	var rec strings.Builder
	rec.WriteString("v=spf1")
	for i := 0; i < 499; i++ {
		fmt.Fprintf(&rec, " ip4:10.%d.%d.0/24", i/256, i%256)
	}
	rec.WriteString(" -all")
	fmt.Fprintf(&b, "big TXT %s\n", splitTXT(rec.String()))
	// 500 a terms: the lookup limit stops them.
	rec.Reset()
	rec.WriteString("v=spf1")
	for i := 0; i < 500; i++ {
		fmt.Fprintf(&rec, " a:h%d.hostile.test", i)
	}
	fmt.Fprintf(&b, "manya TXT %s\n", splitTXT(rec.String()))
	// Exploding macros: every term expands the sender many times.
	rec.Reset()
	rec.WriteString("v=spf1 exists:")
	for i := 0; i < 400; i++ {
		rec.WriteString("%{s}%{l}%{o}")
	}
	rec.WriteString(".x.hostile.test -all")
	fmt.Fprintf(&b, "macro TXT %s\n", splitTXT(rec.String()))
	// A wide include DAG: each level includes the next twice.
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&b, "w%d TXT \"v=spf1 include:w%d.hostile.test include:w%d.hostile.test -all\"\n", i, i+1, i+1)
	}
	b.WriteString("w30 TXT \"v=spf1 -all\"\n")
	z := dnstestZone(t, "hostile.test.", b.String())
	return &resolve.Zones{List: []*resolve.Zone{z}}
}

func dnstestZone(t testing.TB, origin, text string) *resolve.Zone {
	return dnstest.Zone(t, origin, text)
}

func splitTXT(s string) string {
	var parts []string
	for len(s) > 255 {
		parts = append(parts, fmt.Sprintf("%q", s[:255]))
		s = s[255:]
	}
	parts = append(parts, fmt.Sprintf("%q", s))
	return "( " + strings.Join(parts, " ") + " )"
}

func TestHostileRecords(t *testing.T) {
	r := hostileZone(t)
	tests := []struct {
		domain string
		ip     string
		want   Result
		reason string
	}{
		{"r0.hostile.test", "192.0.2.1", PermError, "more than 10 DNS-querying terms"},
		{"big.hostile.test", "10.1.200.9", Pass, `matched "ip4:10.1.200.0/24"`},
		{"big.hostile.test", "192.0.2.1", Fail, `matched "-all"`},
		{"manya.hostile.test", "192.0.2.1", PermError, "more than 2 void lookups"},
		{"macro.hostile.test", "192.0.2.1", PermError, "exceeds 8192 bytes"},
		{"w0.hostile.test", "192.0.2.1", PermError, "more than 10 DNS-querying terms"},
	}
	for _, tc := range tests {
		t.Run(tc.domain+"/"+tc.ip, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c := &Checker{Resolver: r, MaxVoidLookups: -1}
			if tc.domain == "manya.hostile.test" {
				c.MaxVoidLookups = 0
			}
			out := c.CheckHost(ctx, Request{IP: netip.MustParseAddr(tc.ip), Sender: "u@" + tc.domain})
			if out.Result != tc.want || !strings.Contains(out.Reason, tc.reason) {
				t.Errorf("%s (%s), want %s (%s)", out.Result, out.Reason, tc.want, tc.reason)
			}
			an := (&Analyzer{Resolver: r}).Analyze(ctx, tc.domain)
			if an.Root == nil {
				t.Fatal("no tree")
			}
		})
	}
	// The include DAG is bounded in the analysis too.
	an := (&Analyzer{Resolver: r}).Analyze(context.Background(), "w0.hostile.test")
	if !an.Truncated || an.TotalLookups <= DefaultMaxLookups {
		t.Errorf("w0: truncated %v lookups %d", an.Truncated, an.TotalLookups)
	}
	an = (&Analyzer{Resolver: r}).Analyze(context.Background(), "r0.hostile.test")
	if !an.Truncated || an.TotalLookups <= DefaultMaxLookups {
		t.Errorf("r0: truncated %v lookups %d", an.Truncated, an.TotalLookups)
	}
}

func TestExplanationExpansionCapped(t *testing.T) {
	z := dnstest.Zone(t, "exp.test.", `$ORIGIN exp.test.
$TTL 300
@ SOA ns hm 1 1 1 1 1
d TXT "v=spf1 -all exp=e.exp.test"
e TXT `+splitTXT(strings.Repeat("%{S}", 3000))+"\n")
	c := &Checker{Resolver: &resolve.Zones{List: []*resolve.Zone{z}}, DefaultExplanation: "DEFAULT"}
	out := c.CheckHost(context.Background(), Request{IP: netip.MustParseAddr("192.0.2.1"), Sender: strings.Repeat("s", 64) + "@d.exp.test"})
	if out.Result != Fail || out.Explanation != "DEFAULT" {
		t.Errorf("%s %q, want fail with the default explanation", out.Result, shorten(out.Explanation, 50))
	}
}

// A huge TXT answer over a real DNS server (UDP truncation, then TCP).
func TestHugeTXTOverDNS(t *testing.T) {
	var rec strings.Builder
	rec.WriteString("v=spf1")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&rec, " ip4:10.%d.%d.0/24", i/256, i%256)
	}
	rec.WriteString(" -all")
	z := dnstest.Zone(t, "huge.test.", "$ORIGIN huge.test.\n$TTL 300\n@ SOA ns hm 1 1 1 1 1\n@ TXT "+splitTXT(rec.String())+"\n")
	srv := dnstest.StartZones(t, z)
	r := resolve.NewCache(srv.Resolver(2 * time.Second))
	c := &Checker{Resolver: r}
	out := c.CheckHost(context.Background(), Request{IP: netip.MustParseAddr("10.7.207.1"), Sender: "a@huge.test"})
	if out.Result != Pass || !strings.Contains(out.Reason, "ip4:10.7.207.0/24") {
		t.Errorf("%s (%s)", out.Result, out.Reason)
	}
	if n := srv.CountProto("huge.test", dns.TypeTXT, "tcp"); n != 1 {
		t.Errorf("TXT over TCP %d times, want 1", n)
	}
}

func TestTimeoutIsTempError(t *testing.T) {
	z, err := resolve.LoadZoneFile("../../testdata/zones/spf/spf.test.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	srv := dnstest.StartZones(t, z)
	srv.Set("broken.spf.test", dnstest.ServFail)
	srv.Set("inc.spf.test", dnstest.Drop)
	r := resolve.NewCache(srv.Resolver(200 * time.Millisecond))
	for _, d := range []string{"temp.spf.test", "redirok.spf.test"} {
		c := &Checker{Resolver: r}
		out := c.CheckHost(context.Background(), Request{IP: netip.MustParseAddr("192.0.2.1"), Sender: "a@" + d})
		if out.Result != TempError {
			t.Errorf("%s: %s (%s), want temperror", d, out.Result, out.Reason)
		}
		an := (&Analyzer{Resolver: r}).Analyze(context.Background(), d)
		if len(an.Issues) != 1 || an.Issues[0].Kind != IssueTempError {
			t.Errorf("%s: analysis issues %v, want one temperror", d, an.Issues)
		}
	}
}

// Only the terms a receiver can reach are probed: a record of 500 a: terms
// costs its TXT question and 10 A/AAAA pairs, not 1000 questions (which,
// over a real resolver, ran into the audit deadline and flooded the report
// with temperror findings).
func TestAnalyzeProbesOnlyReachableTerms(t *testing.T) {
	srv := dnstest.StartZones(t, hostileZone(t).List...)
	an := (&Analyzer{Resolver: resolve.NewCache(srv.Resolver(2 * time.Second))}).Analyze(context.Background(), "manya.hostile.test")
	if n := srv.Total() - srv.Count("manya.hostile.test", dns.TypeTXT); n != 2*DefaultMaxLookups {
		t.Errorf("%d address questions, want %d", n, 2*DefaultMaxLookups)
	}
	if an.TotalLookups != 500 || an.VoidLookups != DefaultMaxLookups || len(an.Root.Terms) != 500 {
		t.Fatalf("lookups %d void %d terms %d", an.TotalLookups, an.VoidLookups, len(an.Root.Terms))
	}
	if tr := an.Root.Terms[DefaultMaxLookups-1]; tr.Void != "both" {
		t.Errorf("10th term %+v, want void", tr)
	}
	if tr := an.Root.Terms[DefaultMaxLookups]; tr.Void != "" || !strings.Contains(tr.Note, "not looked up") {
		t.Errorf("11th term %+v, want not looked up", tr)
	}
	var kinds []IssueKind
	for _, is := range an.Issues {
		kinds = append(kinds, is.Kind)
	}
	want := "[too-long" + strings.Repeat(" matches-nothing", DefaultMaxLookups) + " all-neutral too-many-void]"
	if fmt.Sprint(kinds) != want {
		t.Errorf("issues %v", an.Issues)
	}
}

// A malformed include target is reported as such, not as a missing domain.
func TestAnalyzeInvalidTarget(t *testing.T) {
	an := (&Analyzer{Resolver: memZone(t)}).Analyze(context.Background(), "badname.spf.test")
	if len(an.Issues) != 1 || an.Issues[0].Kind != IssueIncludeMissing || !strings.Contains(an.Issues[0].Msg, "not a valid domain name") {
		t.Errorf("issues %v", an.Issues)
	}
}

// Sibling records and probes are fetched concurrently, at most Parallel
// questions at a time, and the analysis is the same whatever the order
// the answers arrive in.
func TestAnalyzeConcurrentDeterministic(t *testing.T) {
	// w0: a DAG where each level includes the next record twice (the cache
	// must send each question once); fan: one record with six distinct
	// includes, all slow, so they can only overlap if fetched concurrently.
	zones := hostileZone(t).List
	fan := dnstest.Zone(t, "fan.test.", "$ORIGIN fan.test.\n@ IN SOA ns h 1 2 3 4 5\n"+
		"@ IN TXT \"v=spf1 include:f1.fan.test include:f2.fan.test include:f3.fan.test include:f4.fan.test include:f5.fan.test include:f6.fan.test -all\"\n"+
		"f1 IN TXT \"v=spf1 -all\"\nf2 IN TXT \"v=spf1 -all\"\nf3 IN TXT \"v=spf1 -all\"\nf4 IN TXT \"v=spf1 -all\"\nf5 IN TXT \"v=spf1 -all\"\nf6 IN TXT \"v=spf1 -all\"\n")
	srv := dnstest.StartZones(t, append(zones, fan)...)
	srv.SetDelay(20 * time.Millisecond)
	for i := 0; i <= 30; i++ {
		srv.Set(fmt.Sprintf("w%d.hostile.test", i), dnstest.Slow)
	}
	for i := 1; i <= 6; i++ {
		srv.Set(fmt.Sprintf("f%d.fan.test", i), dnstest.Slow)
	}
	var first []byte
	for i := 0; i < 5; i++ {
		an := (&Analyzer{Resolver: resolve.NewCache(srv.Resolver(2 * time.Second)), Parallel: 3}).Analyze(context.Background(), "w0.hostile.test")
		b, err := json.Marshal(an)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = b
			// The DAG includes each record twice, fetched concurrently:
			// the cache still sends each question once.
			if d := srv.Duplicates(); len(d) > 0 {
				t.Errorf("asked twice: %v", d)
			}
		} else if string(b) != string(first) {
			t.Fatalf("run %d differs:\n%s\n%s", i, b, first)
		}
	}
	an := (&Analyzer{Resolver: resolve.NewCache(srv.Resolver(2 * time.Second)), Parallel: 3}).Analyze(context.Background(), "fan.test")
	if an.TotalLookups != 6 {
		t.Errorf("fan.test: %d lookups, want 6", an.TotalLookups)
	}
	if p := srv.Peak(); p < 2 || p > 3 {
		t.Errorf("%d questions in flight at most, want 2 or 3 (Parallel is 3)", p)
	}
}

// %{p} prefers the validated name in the current domain: an include
// evaluated after the first expansion gets its own domain's name, not the
// one computed for the including record (RFC 7208 §7.3).
func TestMacroPFollowsCurrentDomain(t *testing.T) {
	fwd := dnstest.Zone(t, "test.", `$ORIGIN test.
$TTL 300
@ SOA ns hm 1 1 1 1 1
one TXT "v=spf1 exists:%{p}.ok.one.test include:two.test -all"
two TXT "v=spf1 exists:%{p}.ok.two.test -all"
h.one A 192.0.2.5
h.two A 192.0.2.5
h.two.test.ok.two A 127.0.0.2
`)
	rev := dnstest.Zone(t, "2.0.192.in-addr.arpa.", `$ORIGIN 2.0.192.in-addr.arpa.
$TTL 300
@ SOA ns hm 1 1 1 1 1
5 PTR h.one.test.
5 PTR h.two.test.
`)
	c := &Checker{Resolver: &resolve.Zones{List: []*resolve.Zone{fwd, rev}}}
	out := c.CheckHost(context.Background(), Request{IP: netip.MustParseAddr("192.0.2.5"), Sender: "u@one.test"})
	if out.Result != Pass || !strings.Contains(out.Reason, "two.test") {
		t.Errorf("%s (%s), want pass through the include", out.Result, out.Reason)
	}
}
