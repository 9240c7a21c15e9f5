package checks_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"testing"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/dnstest"
)

func startSPFServer(t *testing.T) *dnstest.Server {
	t.Helper()
	srv := dnstest.Start(t, "../testdata/zones/spf/spf.test.zone")
	srv.Set("broken.spf.test", dnstest.ServFail)
	return srv
}

// spfFindings returns "id:severity" for each finding, sorted.
func spfFindings(r checks.CheckResult) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.ID+":"+string(f.Severity))
	}
	sort.Strings(out)
	return out
}

func TestSPFCheck(t *testing.T) {
	srv := startSPFServer(t)
	tests := []struct {
		domain string
		ips    []string
		want   []string
	}{
		{"ok.spf.test", nil, []string{"spf.ok:pass", "spf.tree:info"}},
		{"ok.spf.test", []string{"198.51.100.9", "203.0.113.9"}, []string{"spf.ip-not-authorized:fail", "spf.ip-pass:pass", "spf.tree:info"}},
		{"mxout.spf.test", nil, []string{"spf.mx-not-authorized:info", "spf.ok:pass", "spf.tree:info"}},
		{"none.spf.test", nil, []string{"spf.missing:fail"}},
		{"multi.spf.test", nil, []string{"spf.multiple:fail"}},
		{"syntax.spf.test", nil, []string{"spf.syntax:fail"}},
		{"incsyntax.spf.test", nil, []string{"spf.syntax:fail", "spf.tree:info"}},
		{"toomany.spf.test", nil, []string{"spf.too-many-lookups:fail"}},
		{"void.spf.test", nil, []string{"spf.term-matches-nothing:warn", "spf.term-matches-nothing:warn", "spf.too-many-void-lookups:fail", "spf.tree:info"}},
		{"voidlate.spf.test", nil, []string{"spf.ok:pass", "spf.term-matches-nothing:warn", "spf.term-matches-nothing:warn", "spf.term-matches-nothing:warn", "spf.too-many-void-lookups:warn", "spf.tree:info"}},
		// Void only for IPv6 senders: a warn unless the domain is seen to use IPv6.
		{"void6.spf.test", nil, []string{"spf.ok:pass", "spf.too-many-void-lookups:warn", "spf.tree:info"}},
		{"void6.spf.test", []string{"2001:db8::7"}, []string{"spf.ip-not-authorized:fail", "spf.too-many-void-lookups:fail", "spf.tree:info"}},
		{"void6mx.spf.test", nil, []string{"spf.mx-not-authorized:info", "spf.too-many-void-lookups:fail", "spf.tree:info"}},
		{"multi2.spf.test", nil, []string{"spf.all-neutral:warn", "spf.multiple:fail", "spf.too-many-lookups:fail"}},
		{"long.spf.test", nil, []string{"spf.ok:pass", "spf.record-too-long:warn", "spf.tree:info"}},
		{"aempty.spf.test", nil, []string{"spf.ok:pass", "spf.term-matches-nothing:warn", "spf.tree:info"}},
		{"mxnone.spf.test", nil, []string{"spf.ok:pass", "spf.term-matches-nothing:warn", "spf.term-matches-nothing:warn", "spf.tree:info"}},
		{"expnone.spf.test", nil, []string{"spf.exp-unusable:warn", "spf.ok:pass", "spf.tree:info"}},
		{"exptwo.spf.test", nil, []string{"spf.exp-unusable:warn", "spf.ok:pass", "spf.tree:info"}},
		{"explained.spf.test", nil, []string{"spf.ok:pass", "spf.tree:info"}},
		{"nx.spf.test", nil, []string{"spf.nxdomain:error"}},
		{"incmissing.spf.test", nil, []string{"spf.include-missing:fail", "spf.tree:info"}},
		{"loop.spf.test", nil, []string{"spf.loop:fail", "spf.tree:info"}},
		{"allpass.spf.test", nil, []string{"spf.all-pass:fail", "spf.tree:info"}},
		{"incallpass.spf.test", nil, []string{"spf.all-pass:fail", "spf.tree:info"}},
		{"neutral.spf.test", nil, []string{"spf.all-neutral:warn", "spf.ok:pass", "spf.tree:info"}},
		{"noall.spf.test", nil, []string{"spf.all-neutral:warn", "spf.ok:pass", "spf.tree:info"}},
		{"ptr.spf.test", nil, []string{"spf.ok:pass", "spf.ptr-deprecated:warn", "spf.tree:info"}},
		{"macro.spf.test", nil, []string{"spf.macro-unknowable:info", "spf.ok:pass", "spf.tree:info"}},
		{"redir.spf.test", nil, []string{"spf.ok:pass", "spf.redirect-ignored:warn", "spf.tree:info"}},
		{"mxlimit.spf.test", nil, []string{"spf.mx-limit:fail", "spf.tree:info"}},
		{"temp.spf.test", nil, []string{"spf.temperror:error", "spf.tree:info"}},
		{"temp.spf.test", []string{"192.0.2.1"}, []string{"spf.temperror:error", "spf.temperror:error", "spf.tree:info"}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s%v", tc.domain, tc.ips), func(t *testing.T) {
			var opts checks.Options
			for _, s := range tc.ips {
				opts.IPs = append(opts.IPs, netip.MustParseAddr(s))
			}
			res := runCheck(t, srv, tc.domain, opts, checks.SPF{})
			if got := spfFindings(res[0]); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("findings %v, want %v", got, tc.want)
				for _, f := range res[0].Findings {
					t.Logf("%s %s: %s", f.Severity, f.ID, f.Message)
				}
			}
		})
	}
}

// One audit asks each question once: the analysis, the --ip and MX
// evaluations and the mx check share the run's cache.
func TestSPFCheckAsksOnce(t *testing.T) {
	srv := startSPFServer(t)
	opts := checks.Options{IPs: []netip.Addr{netip.MustParseAddr("198.51.100.9"), netip.MustParseAddr("2001:db8::30")}}
	res := runCheck(t, srv, "ok.spf.test", opts, checks.MX{}, checks.SPF{})
	if got := spfFindings(res[1]); strings.Join(got, " ") != "spf.ip-pass:pass spf.ip-pass:pass spf.ok:pass spf.tree:info" {
		t.Errorf("findings %v", got)
	}
	if d := srv.Duplicates(); len(d) > 0 {
		t.Errorf("questions asked twice: %v", d)
	}
}

func TestSPFCheckEvidence(t *testing.T) {
	srv := startSPFServer(t)
	res := runCheck(t, srv, "toomany.spf.test", checks.Options{}, checks.SPF{})[0]
	var f checks.Finding
	for _, x := range res.Findings {
		if x.ID == "spf.too-many-lookups" {
			f = x
		}
	}
	wantLines := []string{
		"the SPF tree of toomany.spf.test needs 12 DNS lookups; the limit is 10",
		"├─ include:t1.spf.test → t1.spf.test [4 lookups:",
		"└─ include:t2.spf.test → t2.spf.test [4 lookups:",
	}
	for _, w := range wantLines {
		if !strings.Contains(f.Message, w) {
			t.Errorf("message lacks %q:\n%s", w, f.Message)
		}
	}
	if f.Fix == "" || len(f.Records) != 1 || !strings.HasPrefix(f.Records[0], `toomany.spf.test. IN TXT "v=spf1 a mx`) {
		t.Errorf("fix %q records %q", f.Fix, f.Records)
	}
	// The JSON data carries the same tree with per-node counts.
	b, err := json.Marshal(res.Data)
	if err != nil {
		t.Fatal(err)
	}
	var data struct {
		Lookups int `json:"lookups"`
		Tree    struct {
			Lookups  int `json:"lookups"`
			Total    int `json:"total"`
			Children []struct {
				Domain  string `json:"domain"`
				Lookups int    `json:"lookups"`
			} `json:"children"`
		} `json:"tree"`
	}
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	if data.Lookups != 12 || data.Tree.Lookups != 4 || data.Tree.Total != 12 || len(data.Tree.Children) != 2 ||
		data.Tree.Children[0].Domain != "t1.spf.test" || data.Tree.Children[0].Lookups != 4 {
		t.Errorf("data %s", b)
	}

	miss := runCheck(t, srv, "none.spf.test", checks.Options{}, checks.SPF{})[0].Findings[0]
	if miss.Fix != `none.spf.test. IN TXT "v=spf1 mx -all" (add ip4:/ip6:/include: terms for every other host or service that sends as none.spf.test)` {
		t.Errorf("fix %q", miss.Fix)
	}
}

// Fixes are the exact records to publish where one exists, and evidence
// quotes the record concerned.
func TestSPFCheckFixes(t *testing.T) {
	srv := startSPFServer(t)
	tests := []struct {
		domain, ip, id string
		fix, record    string
	}{
		{"neutral.spf.test", "", "spf.all-neutral", `neutral.spf.test. IN TXT "v=spf1 ip4:192.0.2.1 -all" (or "~all" while you collect DMARC reports)`, `neutral.spf.test. IN TXT "v=spf1 ip4:192.0.2.1 ?all"`},
		{"noall.spf.test", "", "spf.all-neutral", `noall.spf.test. IN TXT "v=spf1 ip4:192.0.2.1 -all" (or "~all" while you collect DMARC reports)`, `noall.spf.test. IN TXT "v=spf1 ip4:192.0.2.1"`},
		{"allpass.spf.test", "", "spf.all-pass", `list every host that sends as allpass.spf.test first, then: allpass.spf.test. IN TXT "v=spf1 -all" (or "~all" while you collect DMARC reports)`, `allpass.spf.test. IN TXT "v=spf1 +all"`},
		{"incallpass.spf.test", "", "spf.all-pass", `stop including allpass.spf.test, whose record ends in "+all"`, `allpass.spf.test. IN TXT "v=spf1 +all"`},
		{"redir.spf.test", "", "spf.redirect-ignored", `redir.spf.test. IN TXT "v=spf1 -all" (or remove the all term, if the redirect target's policy is the one meant)`, `redir.spf.test. IN TXT "v=spf1 redirect=inc.spf.test -all"`},
		{"ok.spf.test", "203.0.113.5", "spf.ip-not-authorized", `ok.spf.test. IN TXT "v=spf1 mx a:out.spf.test include:inc.spf.test ip4:203.0.113.5 -all"`, `ok.spf.test. IN TXT "v=spf1 mx a:out.spf.test include:inc.spf.test -all"`},
		{"redirok.spf.test", "2001:db8:99::1", "spf.ip-not-authorized", `redirok.spf.test. IN TXT "v=spf1 ip6:2001:db8:99::1 redirect=inc.spf.test"`, `redirok.spf.test. IN TXT "v=spf1 redirect=inc.spf.test"`},
		{"noall.spf.test", "203.0.113.5", "spf.ip-not-authorized", `noall.spf.test. IN TXT "v=spf1 ip4:192.0.2.1 ip4:203.0.113.5"`, `noall.spf.test. IN TXT "v=spf1 ip4:192.0.2.1"`},
		{"aempty.spf.test", "", "spf.term-matches-nothing", `aempty.spf.test. IN TXT "v=spf1 -all" (or publish the addresses or MX records "a" was meant to find)`, `aempty.spf.test. IN TXT "v=spf1 a -all"`},
		{"expnone.spf.test", "", "spf.exp-unusable", `publish exactly one TXT record at nowhy.spf.test, e.g. nowhy.spf.test. IN TXT "%{i} is not one of %{d}'s mail servers", or drop the modifier: expnone.spf.test. IN TXT "v=spf1 ip4:192.0.2.1 -all"`, `expnone.spf.test. IN TXT "v=spf1 ip4:192.0.2.1 -all exp=nowhy.spf.test"`},
		{"multi3.spf.test", "", "spf.multiple", `publish one record instead of the 2, with the terms of all of them (2 of 10 DNS lookups): multi3.spf.test. IN TXT "v=spf1 ip4:192.0.2.1 include:inc.spf.test a:out.spf.test -all"`, ""},
		{"multi2.spf.test", "", "spf.multiple", `merge the 2 records into one TXT record at multi2.spf.test; joined as they are ("v=spf1 a mx include:t1.spf.test include:t2.spf.test ip4:192.0.2.1 -all") they need 12 DNS lookups, over the limit of 10, so cut lookups first (see the findings below)`, ""},
		{"mxout.spf.test", "", "spf.mx-not-authorized", `only if mail.mxout.spf.test sends mail as mxout.spf.test: mxout.spf.test. IN TXT "v=spf1 ip4:203.0.113.0/24 ip4:192.0.2.99 -all"`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.domain+"/"+tc.id, func(t *testing.T) {
			var opts checks.Options
			if tc.ip != "" {
				opts.IPs = []netip.Addr{netip.MustParseAddr(tc.ip)}
			}
			res := runCheck(t, srv, tc.domain, opts, checks.SPF{})[0]
			for _, f := range res.Findings {
				if f.ID != tc.id {
					continue
				}
				if f.Fix != tc.fix {
					t.Errorf("fix %s\nwant %s", f.Fix, tc.fix)
				}
				if tc.record != "" && (len(f.Records) == 0 || f.Records[0] != tc.record) {
					t.Errorf("records %q, want %q", f.Records, tc.record)
				}
				return
			}
			t.Errorf("no %s finding", tc.id)
		})
	}
}

// Findings about hypothetical senders and hypothetical records say so.
func TestSPFCheckMessages(t *testing.T) {
	srv := startSPFServer(t)
	tests := []struct {
		domain, id string
		want       []string
	}{
		{"void6.spf.test", "spf.too-many-void-lookups", []string{"for IPv6 senders", "only an IPv6 sender meets these void lookups", "neither the MX hosts nor --ip include an IPv6 address"}},
		{"multi2.spf.test", "spf.too-many-lookups", []string{`record 1 of 2 ("v=spf1 a mx include:t1.spf.test include:t2.spf.test -all") on its own: `, "needs 12 DNS lookups"}},
		{"multi2.spf.test", "spf.all-neutral", []string{`record 2 of 2 ("v=spf1 ip4:192.0.2.1 ?all") on its own: `}},
		{"long.spf.test", "spf.record-too-long", []string{"total 525 octets, over the 450"}},
		{"mxnone.spf.test", "spf.term-matches-nothing", []string{`"mx:nullmx.spf.test"`, "publishes only a null MX"}},
		{"exptwo.spf.test", "spf.exp-unusable", []string{"there are 2 TXT records there"}},
		{"nx.spf.test", "spf.nxdomain", []string{"nx.spf.test does not exist (NXDOMAIN for MX nx.spf.test from "}},
	}
	for _, tc := range tests {
		t.Run(tc.domain+"/"+tc.id, func(t *testing.T) {
			res := runCheck(t, srv, tc.domain, checks.Options{}, checks.SPF{})[0]
			for _, f := range res.Findings {
				if f.ID != tc.id {
					continue
				}
				for _, w := range tc.want {
					if strings.Contains(f.Message, w) {
						return
					}
				}
			}
			t.Errorf("no %s finding says %q: %+v", tc.id, tc.want, res.Findings)
		})
	}
}
