package checks_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/dnsbl"
	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/sharedtest"
)

const dnsblZoneDir = "../testdata/zones/dnsbl/"

// startDNSBLServer serves the audited domains and the given blocklist
// zone files (names inside testdata/zones/dnsbl), plus an inline domain
// that the DBL lists.
func startDNSBLServer(t *testing.T, files ...string) *dnstest.Server {
	t.Helper()
	zones := []*resolve.Zone{dnstest.Zone(t, "spammy.example.", `
$TTL 300
@	IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@	IN MX 10 mx
mx	IN A 192.0.2.25
`)}
	for _, f := range append([]string{"mail.example.zone", "clean.example.zone", "lab.example.zone"}, files...) {
		z, err := resolve.LoadZoneFile(dnsblZoneDir+f, "")
		if err != nil {
			t.Fatal(err)
		}
		zones = append(zones, z)
	}
	return dnstest.StartZones(t, zones...)
}

// runDNSBL runs the dnsbl check like the CLI: a fresh cache in front of
// r, under an audit deadline.
func runDNSBL(t *testing.T, r resolve.Resolver, domain string, opts checks.Options, deadline time.Duration) checks.CheckResult {
	t.Helper()
	n, err := resolve.ParseName(domain)
	if err != nil {
		t.Fatal(err)
	}
	env := checks.NewEnv(n, resolve.NewCache(r))
	env.Options = opts
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	list := []checks.Check{checks.DNSBL{}}
	res := checks.Run(ctx, env, list)
	sharedtest.Dump(t, res)
	assertCatalogued(t, res[0], list)
	return res[0]
}

func dnsblFindings(fs []checks.Finding, id string) []checks.Finding {
	var out []checks.Finding
	for _, f := range fs {
		if f.ID == id {
			out = append(out, f)
		}
	}
	return out
}

// mustFind returns the finding with id whose message contains every text.
func dnsblMustFind(t *testing.T, fs []checks.Finding, id string, texts ...string) checks.Finding {
	t.Helper()
	for _, f := range dnsblFindings(fs, id) {
		ok := true
		for _, s := range texts {
			ok = ok && strings.Contains(f.Message, s)
		}
		if ok {
			return f
		}
	}
	t.Fatalf("no %s finding containing %q in:\n%s", id, texts, dnsblDump(fs))
	return checks.Finding{}
}

func dnsblDump(fs []checks.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + f.ID + " [" + string(f.Severity) + "] " + f.Message + "\n")
	}
	return b.String()
}

var dnsblTestLists = []string{"zen.spamhaus.org", "bl.spamcop.net", "dbl.spamhaus.org", "multi.uribl.com"}

func TestDNSBL(t *testing.T) {
	srv := startDNSBLServer(t, "zen.spamhaus.org.zone", "bl.spamcop.net.zone", "dbl.spamhaus.org.zone", "multi.uribl.com.zone")
	tests := []struct {
		name   string
		domain string
		opts   checks.Options
		want   []string // sorted id:severity
		check  func(t *testing.T, fs []checks.Finding)
	}{
		{
			name: "listed, policy, IPv6 and private", domain: "mail.example",
			opts: checks.Options{DNSBL: checks.DNSBLOptions{Zones: dnsblTestLists}},
			want: []string{"dnsbl.listed:fail", "dnsbl.listed:fail", "dnsbl.listed:fail", "dnsbl.policy-listed:warn", "dnsbl.skipped:info"},
			check: func(t *testing.T, fs []checks.Finding) {
				f := dnsblMustFind(t, fs, "dnsbl.listed", "192.0.2.66 (MX mx1.mail.example)", "Spamhaus ZEN (zen.spamhaus.org)", "127.0.0.2 SBL", "SBL424242")
				if !strings.Contains(f.Fix, "https://check.spamhaus.org/") || !slices.Contains(f.Records, "66.2.0.192.zen.spamhaus.org.\t60\tIN\tA\t127.0.0.2") {
					t.Errorf("fix %q records %q", f.Fix, f.Records)
				}
				f = dnsblMustFind(t, fs, "dnsbl.listed", "192.0.2.66", "SpamCop (bl.spamcop.net)", "bl.shtml?192.0.2.66")
				if !strings.Contains(f.Fix, "https://www.spamcop.net/bl.shtml") {
					t.Errorf("spamcop fix %q", f.Fix)
				}
				dnsblMustFind(t, fs, "dnsbl.listed", "2001:db8:25::66 (MX mx1.mail.example)", "127.0.0.3 CSS")
				f = dnsblMustFind(t, fs, "dnsbl.policy-listed", "198.51.100.25 (MX mx2.mail.example)", "127.0.0.10 PBL", "policy listing, not a spam report", "harmless for an MX that only receives mail")
				if !strings.Contains(f.Fix, "relay") {
					t.Errorf("policy fix %q", f.Fix)
				}
				dnsblMustFind(t, fs, "dnsbl.skipped", "10.0.0.25 is a private address", "2001:db8:25::66 was only checked on the lists that cover IPv6 (bl.spamcop.net covers IPv4 only)")
			},
		},
		{
			name: "clean", domain: "clean.example",
			opts: checks.Options{DNSBL: checks.DNSBLOptions{Zones: dnsblTestLists}},
			want: []string{"dnsbl.ok:pass", "dnsbl.skipped:info"},
			check: func(t *testing.T, fs []checks.Finding) {
				dnsblMustFind(t, fs, "dnsbl.ok", "2 addresses and 1 domain are listed on none of the 4 lists that answered: zen.spamhaus.org, bl.spamcop.net, dbl.spamhaus.org, multi.uribl.com")
			},
		},
		{
			name: "--ip address listed", domain: "clean.example",
			opts: checks.Options{DNSBL: checks.DNSBLOptions{Zones: []string{"bl.spamcop.net"}}, IPs: []netip.Addr{netip.MustParseAddr("192.0.2.66")}},
			want: []string{"dnsbl.listed:fail", "dnsbl.skipped:info"},
			check: func(t *testing.T, fs []checks.Finding) {
				dnsblMustFind(t, fs, "dnsbl.listed", "192.0.2.66 (a sending address given with --ip)")
			},
		},
		{
			name: "listed domain", domain: "spammy.example",
			opts: checks.Options{DNSBL: checks.DNSBLOptions{Zones: dnsblTestLists}},
			want: []string{"dnsbl.listed:fail"},
			check: func(t *testing.T, fs []checks.Finding) {
				f := dnsblMustFind(t, fs, "dnsbl.listed", "spammy.example (the domain)", "Spamhaus DBL", "127.0.1.2 DBL: low-reputation domain", "query/domain/spammy.example")
				if !strings.Contains(f.Fix, "request delisting") {
					t.Errorf("domain fix %q", f.Fix)
				}
			},
		},
		{
			name: "error code is not a listing", domain: "clean.example",
			opts: checks.Options{DNSBL: checks.DNSBLOptions{Zones: []string{"zen.spamhaus.org"}}, IPs: []netip.Addr{netip.MustParseAddr("203.0.113.7")}},
			want: []string{"dnsbl.ok:pass", "dnsbl.temperror:error"},
			check: func(t *testing.T, fs []checks.Finding) {
				dnsblMustFind(t, fs, "dnsbl.ok", "2 addresses are listed on none of the 1 list that answered: zen.spamhaus.org")
				dnsblMustFind(t, fs, "dnsbl.temperror", "7.113.0.203.zen.spamhaus.org answered 127.255.255.252", "misspelled")
			},
		},
		{
			name: "refused after a healthy probe", domain: "clean.example",
			opts: checks.Options{DNSBL: checks.DNSBLOptions{Zones: []string{"zen.spamhaus.org"}}, IPs: []netip.Addr{netip.MustParseAddr("203.0.113.8")}},
			want: []string{"dnsbl.ok:pass", "dnsbl.resolver-refused:error"},
			check: func(t *testing.T, fs []checks.Finding) {
				dnsblMustFind(t, fs, "dnsbl.resolver-refused", "1 lookup(s) (203.0.113.8) were refused", "127.255.255.255", "too many queries")
			},
		},
		{
			name: "only loopback and private addresses: an error that says why, never an empty pass", domain: "lab.example",
			opts: checks.Options{DNSBL: checks.DNSBLOptions{Zones: []string{"bl.spamcop.net"}}},
			want: []string{"dnsbl.not-evaluated:error"},
			check: func(t *testing.T, fs []checks.Finding) {
				f := dnsblMustFind(t, fs, "dnsbl.not-evaluated", "no blocklist lookup was made for lab.example", "127.0.0.5 is a loopback address (MX mx.lab.example)", "10.0.0.26 is a private address", "bl.spamcop.net (ip4)")
				if !strings.Contains(f.Fix, "--allow-private") || !strings.Contains(f.Fix, "--ip") {
					t.Errorf("fix %q", f.Fix)
				}
			},
		},
		{
			name: "--allow-private looks them up, with a note", domain: "lab.example",
			opts: checks.Options{DNSBL: checks.DNSBLOptions{Zones: []string{"bl.spamcop.net"}}, AllowPrivate: true},
			want: []string{"dnsbl.ok:pass", "dnsbl.private-queried:info"},
			check: func(t *testing.T, fs []checks.Finding) {
				dnsblMustFind(t, fs, "dnsbl.private-queried", "127.0.0.5 (a loopback address), 10.0.0.26 (a private address) looked up as well", "public blocklists never list")
				dnsblMustFind(t, fs, "dnsbl.ok", "2 addresses are listed on none of the 1 list")
			},
		},
		{
			name: "--allow-private with --ip 127.0.0.2, the test entry every list lists", domain: "lab.example",
			opts: checks.Options{DNSBL: checks.DNSBLOptions{Zones: []string{"bl.spamcop.net"}}, AllowPrivate: true, IPs: []netip.Addr{netip.MustParseAddr("127.0.0.2")}},
			want: []string{"dnsbl.listed:fail", "dnsbl.private-queried:info"},
		},
		{
			name: "bad --dnsbl", domain: "clean.example",
			opts: checks.Options{DNSBL: checks.DNSBLOptions{Zones: []string{"ipv4:bl.example.net"}}},
			want: []string{"dnsbl.config:error"},
		},
		{
			name: "missing --dnsbl-file", domain: "clean.example",
			opts: checks.Options{DNSBL: checks.DNSBLOptions{File: dnsblZoneDir + "no-such-file.yaml"}},
			want: []string{"dnsbl.config:error"},
			check: func(t *testing.T, fs []checks.Finding) {
				dnsblMustFind(t, fs, "dnsbl.config", "no-such-file.yaml")
			},
		},
		{
			// The lists decided once for a run win over a file gone since.
			name: "lists decided for the run", domain: "clean.example",
			opts: checks.Options{DNSBL: checks.DNSBLOptions{File: dnsblZoneDir + "no-such-file.yaml",
				Lists: mustDNSBLLists(t, checks.DNSBLOptions{Zones: []string{"bl.spamcop.net"}})}, IPs: []netip.Addr{netip.MustParseAddr("192.0.2.66")}},
			want: []string{"dnsbl.listed:fail", "dnsbl.skipped:info"},
			check: func(t *testing.T, fs []checks.Finding) {
				dnsblMustFind(t, fs, "dnsbl.listed", "192.0.2.66 (a sending address given with --ip)", "SpamCop")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runDNSBL(t, srv.Resolver(2*time.Second), tt.domain, tt.opts, 10*time.Second)
			if got := ids(r.Findings); !slices.Equal(got, tt.want) {
				t.Fatalf("findings %v, want %v\n%s", got, tt.want, dnsblDump(r.Findings))
			}
			if tt.check != nil {
				tt.check(t, r.Findings)
			}
		})
	}
}

func TestDNSBLRefusedIsNeverAListing(t *testing.T) {
	srv := startDNSBLServer(t, "zen-refused.zone", "bl.spamcop.net.zone")
	r := runDNSBL(t, srv.Resolver(2*time.Second), "mail.example", checks.Options{DNSBL: checks.DNSBLOptions{Zones: []string{"zen.spamhaus.org", "bl.spamcop.net"}}}, 10*time.Second)
	want := []string{"dnsbl.listed:fail", "dnsbl.resolver-refused:error", "dnsbl.skipped:info"}
	if got := ids(r.Findings); !slices.Equal(got, want) {
		t.Fatalf("findings %v, want %v\n%s", got, want, dnsblDump(r.Findings))
	}
	f := dnsblMustFind(t, r.Findings, "dnsbl.resolver-refused", "Spamhaus ZEN", "refused to answer the resolver used", "127.255.255.254", "public or open resolver", "not a listing")
	if !strings.Contains(f.Fix, "zen.dq.spamhaus.net") || !strings.Contains(f.Fix, "own recursive resolver") {
		t.Errorf("fix %q", f.Fix)
	}
	// The only listing is SpamCop's.
	if l := dnsblFindings(r.Findings, "dnsbl.listed"); !strings.Contains(l[0].Message, "SpamCop") {
		t.Errorf("listing: %s", l[0].Message)
	}
}

func TestDNSBLUnhealthyLists(t *testing.T) {
	srv := startDNSBLServer(t, "everything.example.net.zone", "nothing.example.net.zone", "bl.example.net.zone")
	r := runDNSBL(t, srv.Resolver(2*time.Second), "mail.example",
		checks.Options{DNSBL: checks.DNSBLOptions{Zones: []string{"everything.example.net", "nothing.example.net", "bl.example.net"}}}, 10*time.Second)
	want := []string{"dnsbl.list-unhealthy:error", "dnsbl.list-unhealthy:error", "dnsbl.listed:fail", "dnsbl.skipped:info", "dnsbl.temperror:error"}
	if got := ids(r.Findings); !slices.Equal(got, want) {
		t.Fatalf("findings %v, want %v\n%s", got, want, dnsblDump(r.Findings))
	}
	dnsblMustFind(t, r.Findings, "dnsbl.list-unhealthy", "everything.example.net", "lists everything", "127.0.0.1")
	dnsblMustFind(t, r.Findings, "dnsbl.list-unhealthy", "nothing.example.net", "lists nothing", "127.0.0.2")
	// A list without a code table: 127.0.0.5 is a listing, 192.0.2.200 an error.
	dnsblMustFind(t, r.Findings, "dnsbl.listed", "192.0.2.66", "bl.example.net", "127.0.0.5")
	dnsblMustFind(t, r.Findings, "dnsbl.temperror", "25.100.51.198.bl.example.net answered 192.0.2.200", "outside 127.0.0.0/8")
}

// A list whose servers never answer costs no more than the deadline, and
// the answers of the other lists are reported.
func TestDNSBLNeverAnsweringList(t *testing.T) {
	srv := startDNSBLServer(t, "dead.example.net.zone", "bl.spamcop.net.zone")
	for _, n := range []string{"2.0.0.127", "1.0.0.127", "66.2.0.192", "25.100.51.198", "25.2.0.192"} {
		srv.Set(n+".dead.example.net", dnstest.Drop)
	}
	start := time.Now()
	r := runDNSBL(t, srv.Resolver(20*time.Second), "mail.example",
		checks.Options{DNSBL: checks.DNSBLOptions{Zones: []string{"dead.example.net", "bl.spamcop.net"}}}, 500*time.Millisecond)
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("the check took %s under a 500ms deadline", el)
	}
	want := []string{"check.deadline:error", "dnsbl.listed:fail", "dnsbl.skipped:info", "dnsbl.timeout:error"}
	if got := ids(r.Findings); !slices.Equal(got, want) {
		t.Fatalf("findings %v, want %v\n%s", got, want, dnsblDump(r.Findings))
	}
	dnsblMustFind(t, r.Findings, "dnsbl.timeout", "dead.example.net did not answer", "2.0.0.127.dead.example.net")
}

func TestDNSBLOffline(t *testing.T) {
	z, err := resolve.LoadZoneFile(dnsblZoneDir+"mail.example.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	offline := &resolve.Zones{List: []*resolve.Zone{z}}
	r := runDNSBL(t, offline, "mail.example", checks.Options{Offline: true}, 10*time.Second)
	want := []string{"dnsbl.offline:error"}
	if got := ids(r.Findings); !slices.Equal(got, want) {
		t.Fatalf("findings %v, want %v\n%s", got, want, dnsblDump(r.Findings))
	}
	dnsblMustFind(t, r.Findings, "dnsbl.offline", "no blocklist was queried", "9 lists are outside them", "zen.spamhaus.org", "multi.uribl.com")

	// A list's zone given with --zone is queried offline; the others make
	// one finding.
	zen, err := resolve.LoadZoneFile(dnsblZoneDir+"zen.spamhaus.org.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	offline = &resolve.Zones{List: []*resolve.Zone{z, zen}}
	r = runDNSBL(t, offline, "mail.example", checks.Options{Offline: true, DNSBL: checks.DNSBLOptions{Zones: []string{"zen.spamhaus.org", "bl.spamcop.net", "psbl.surriel.com"}}}, 10*time.Second)
	want = []string{"dnsbl.listed:fail", "dnsbl.listed:fail", "dnsbl.offline:error", "dnsbl.policy-listed:warn", "dnsbl.skipped:info"}
	if got := ids(r.Findings); !slices.Equal(got, want) {
		t.Fatalf("findings %v, want %v\n%s", got, want, dnsblDump(r.Findings))
	}
	dnsblMustFind(t, r.Findings, "dnsbl.offline", "2 blocklists were not queried", "2 lists are outside them: bl.spamcop.net, psbl.surriel.com")
}

// The JSON data says, per list and address, what was asked and what came
// back.
func TestDNSBLData(t *testing.T) {
	srv := startDNSBLServer(t, "zen.spamhaus.org.zone", "dbl.spamhaus.org.zone")
	r := runDNSBL(t, srv.Resolver(2*time.Second), "mail.example", checks.Options{DNSBL: checks.DNSBLOptions{Zones: []string{"zen.spamhaus.org", "dbl.spamhaus.org"}}}, 10*time.Second)
	b, err := json.Marshal(r.Data)
	if err != nil {
		t.Fatal(err)
	}
	var data struct {
		Targets []struct {
			Target  string   `json:"target"`
			Kind    string   `json:"kind"`
			Sources []string `json:"sources"`
		} `json:"targets"`
		Skipped []struct{ Target, Reason string } `json:"skipped"`
		Lists   []struct {
			List struct {
				Zone, Kind string
				Delist     string `json:"delist"`
			} `json:"list"`
			Health struct {
				Status string
				Probes []dnsbl.Result
			} `json:"health"`
			Results []dnsbl.Result `json:"results"`
		} `json:"lists"`
	}
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, tg := range data.Targets {
		targets = append(targets, tg.Kind+":"+tg.Target+":"+strings.Join(tg.Sources, ","))
	}
	wantTargets := []string{"ip:192.0.2.66:MX mx1.mail.example", "ip:2001:db8:25::66:MX mx1.mail.example",
		"ip:198.51.100.25:MX mx2.mail.example", "ip:192.0.2.25:MX mx3.mail.example", "domain:mail.example:the domain"}
	if !slices.Equal(targets, wantTargets) {
		t.Errorf("targets %v, want %v", targets, wantTargets)
	}
	if len(data.Skipped) != 1 || data.Skipped[0].Target != "10.0.0.25" {
		t.Errorf("skipped %+v", data.Skipped)
	}
	if len(data.Lists) != 2 || data.Lists[0].List.Zone != "zen.spamhaus.org" || data.Lists[0].Health.Status != "healthy" || len(data.Lists[0].Health.Probes) != 2 {
		t.Fatalf("lists %+v", data.Lists)
	}
	got := map[string]dnsbl.Result{}
	for _, res := range data.Lists[0].Results {
		got[res.Target] = res
	}
	r66 := got["192.0.2.66"]
	if r66.Query != "66.2.0.192.zen.spamhaus.org" || r66.Rcode != "NOERROR" || !slices.Equal(r66.A, []string{"127.0.0.2"}) ||
		r66.Verdict != dnsbl.Listed || len(r66.TXT) != 1 || len(r66.Hits) != 1 || r66.Hits[0].Class != dnsbl.ClassListed {
		t.Errorf("192.0.2.66: %+v", r66)
	}
	if c := got["192.0.2.25"]; c.Query != "25.2.0.192.zen.spamhaus.org" || c.Rcode != "NXDOMAIN" || c.Verdict != dnsbl.Clean || c.A == nil {
		t.Errorf("192.0.2.25: %+v", c)
	}
	if v6 := got["2001:db8:25::66"]; !strings.HasPrefix(v6.Query, "6.6.0.0.") || v6.Verdict != dnsbl.Listed {
		t.Errorf("IPv6: %+v", v6)
	}
	if d := data.Lists[1]; len(d.Results) != 1 || d.Results[0].Query != "mail.example.dbl.spamhaus.org" || d.Results[0].Verdict != dnsbl.Clean {
		t.Errorf("dbl: %+v", d.Results)
	}
}

// Every question of the dnsbl check reaches the DNS server once per audit,
// also when the mx and ptr checks run beside it, when an address is both
// an MX address and an --ip, and when the domain is its own registered
// domain.
func TestDNSBLNoDuplicateQueries(t *testing.T) {
	srv := startDNSBLServer(t, "zen.spamhaus.org.zone", "bl.spamcop.net.zone", "dbl.spamhaus.org.zone", "multi.uribl.com.zone")
	n, err := resolve.ParseName("MAIL.example.")
	if err != nil {
		t.Fatal(err)
	}
	env := checks.NewEnv(n, resolve.NewCache(srv.Resolver(2*time.Second)))
	env.Options = checks.Options{DNSBL: checks.DNSBLOptions{Zones: dnsblTestLists}, IPs: []netip.Addr{netip.MustParseAddr("192.0.2.66"), netip.MustParseAddr("::ffff:198.51.100.25")}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := checks.Run(ctx, env, []checks.Check{checks.MX{}, checks.PTR{}, checks.DNSBL{}})
	sharedtest.Dump(t, res)
	if d := srv.Duplicates(); len(d) > 0 {
		t.Errorf("questions asked more than once: %v", d)
	}
	for _, r := range res {
		if r.Name == "dnsbl" && len(dnsblFindings(r.Findings, "dnsbl.listed")) != 3 {
			t.Errorf("dnsbl findings:\n%s", dnsblDump(r.Findings))
		}
	}
	// The health probes ask for A records only: a test entry's TXT is
	// no evidence about the audited domain.
	if c := srv.Count("2.0.0.127.zen.spamhaus.org.", dns.TypeTXT); c != 0 {
		t.Errorf("the health probe asked for the test entry's TXT %d time(s)", c)
	}
}

func mustDNSBLLists(t *testing.T, o checks.DNSBLOptions) []*dnsbl.List {
	t.Helper()
	lists, err := checks.DNSBLLists(o)
	if err != nil {
		t.Fatal(err)
	}
	return lists
}
