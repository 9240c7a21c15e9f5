//go:build interop

// The DNSSEC interop test compares mailcheck's dnssec verdicts with those
// of delv (BIND's validating lookup tool, the oracle) on a signed zone
// world served by Knot and validated by Unbound on loopback, both started
// by scripts/dnssec-interop.sh, which builds the world at run time and
// passes it in through the environment. Run it with `make interop` (as
// root); it starts and stops nothing itself.
package dnssec_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/miekg/dns"
)

// interopScenarios are the zones of the world and the state each was
// built to have (except: the names, "TYPE name", built otherwise).
var interopScenarios = []struct {
	domain, want string
	except       map[string]string
}{
	{"secure.test", "secure", nil},     // signed, DS in test.
	{"insecure.test", "insecure", nil}, // unsigned, no DS (NSEC in test.)
	{"bogus.test", "bogus", nil},       // DS in test. for a key not in the zone
	{"expired.test", "bogus", nil},     // signatures expired
	{"wild.test", "secure", nil},       // _dmarc, _mta-sts, mx: wildcard answers, NSEC proofs
	{"wild3.test", "secure", nil},      // the same with NSEC3 (next closer name covered)
	// NSEC3 with 151 iterations: data is secure, a denial insecure.
	{"iter.test", "secure", map[string]string{"TXT _mta-sts.iter.test": "insecure"}},
}

// interopWorld is what scripts/dnssec-interop.sh started.
type interopWorld struct {
	bin, anchor, delvAnchor string
	servers                 []interopServer
}

// interopServer is one server both tools ask: Unbound (validating) or
// Knot (authoritative for every zone of the world).
type interopServer struct {
	label, addr string
	validating  bool
}

// interopRow is one name asked through one server.
type interopRow struct {
	server, name, qtype string
	want                string // the state the world was built with
	delv, delvDetail    string
	resolver            string // the validating resolver's own verdict (AD / SERVFAIL)
	mcResolver          string // mailcheck's reading of the resolver: bogus (dnssec.resolver-bogus) or not
	mailcheck, mcDetail string
}

func TestInteropDNSSEC(t *testing.T) {
	w := interopWorldFromEnv(t)
	var rows []interopRow
	for _, srv := range w.servers {
		for _, sc := range interopScenarios {
			mc := mailcheckVerdicts(t, w, srv, sc.domain)
			if got := mc["resolver"]; (got[0] == "validating") != srv.validating {
				t.Errorf("%s via %s: mailcheck finds the resolver %s: %s", sc.domain, srv.label, got[0], got[1])
			}
			for _, q := range interopNames(sc.domain) {
				r := interopRow{server: srv.label, name: q.name, qtype: dns.TypeToString[q.qtype], want: sc.want, resolver: "-"}
				if w, ok := sc.except[r.qtype+" "+q.name]; ok {
					r.want = w
				}
				r.delv, r.delvDetail = delvVerdict(t, w, srv, q.name, r.qtype)
				if srv.validating {
					r.resolver = resolverVerdict(t, srv.addr, q.name, q.qtype)
				}
				r.mailcheck, r.mcDetail, r.mcResolver = "not asked", "", "-"
				if v, ok := mc[r.qtype+" "+q.name]; ok {
					r.mailcheck, r.mcDetail = v[0], v[1]
					if srv.validating {
						r.mcResolver = mc["resolver "+r.qtype+" "+q.name][0]
					}
				}
				rows = append(rows, r)
			}
		}
	}
	printInteropTable(t, rows)
	judgeInteropRows(t, rows)
}

// interopWorldFromEnv reads the world's addresses and anchor files.
func interopWorldFromEnv(t *testing.T) interopWorld {
	get := func(k string) string {
		v := os.Getenv(k)
		if v == "" {
			t.Fatalf("%s is not set: run the DNSSEC interop test through scripts/dnssec-interop.sh (make interop), which starts the zone world", k)
		}
		return v
	}
	return interopWorld{
		bin:        get("MAILCHECK_BIN"),
		anchor:     get("DNSSEC_INTEROP_ANCHOR"),
		delvAnchor: get("DNSSEC_INTEROP_DELV_ANCHOR"),
		servers: []interopServer{
			{label: "unbound", addr: get("DNSSEC_INTEROP_RESOLVER"), validating: true},
			{label: "knot", addr: get("DNSSEC_INTEROP_AUTH")},
		},
	}
}

// interopName is one name mailcheck's dnssec check validates.
type interopName struct {
	name  string
	qtype uint16
}

// interopNames lists the names the dnssec check asks for a domain whose
// MX is mx.<domain>: the domain (MX), _dmarc and _mta-sts (TXT; no
// _mta-sts record exists, so its denial is validated) and the MX host (A).
func interopNames(domain string) []interopName {
	return []interopName{{domain, dns.TypeMX}, {"_dmarc." + domain, dns.TypeTXT}, {"_mta-sts." + domain, dns.TypeTXT}, {"mx." + domain, dns.TypeA}}
}

// delvVerdict asks delv through srv with the private root's anchor and
// CD=1 (+cdflag: a validating resolver hands over bogus data, which delv
// validates itself, as mailcheck does), and reads its verdict: "fully validated" is secure, "unsigned answer"
// insecure, a validation failure bogus; detail is the line that says so.
func delvVerdict(t *testing.T, w interopWorld, srv interopServer, name, qtype string) (verdict, detail string) {
	host, port, err := net.SplitHostPort(srv.addr)
	if err != nil {
		t.Fatalf("%s: %v", srv.label, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "delv", "@"+host, "-p", port, "-a", w.delvAnchor, "+cdflag", name, qtype).CombinedOutput()
	lines := strings.Split(string(out), "\n")
	find := func(s string) string {
		for _, l := range lines {
			if strings.Contains(l, s) {
				return strings.TrimSpace(l)
			}
		}
		return ""
	}
	switch {
	case find("fully validated") != "":
		return "secure", find("fully validated")
	case find("unsigned answer") != "":
		return "insecure", find("unsigned answer")
	case find(";; validating") != "":
		return "bogus", find(";; validating")
	}
	return "error", strings.TrimSpace(string(out))
}

// resolverVerdict asks the validating resolver itself with DO=1: SERVFAIL
// is bogus, AD secure, an answer without AD insecure.
func resolverVerdict(t *testing.T, addr, name string, qtype uint16) string {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(1232, true)
	r, _, err := (&dns.Client{Timeout: 10 * time.Second}).Exchange(m, addr)
	switch {
	case err != nil:
		return "error: " + err.Error()
	case r.Rcode == dns.RcodeServerFailure:
		return "bogus"
	case r.AuthenticatedData:
		return "secure"
	}
	return "insecure"
}

// mcStates maps the dnssec check's per-name finding IDs to states.
var mcStates = map[string]string{
	"dnssec.secure": "secure", "dnssec.insecure": "insecure", "dnssec.bogus": "bogus",
	"dnssec.indeterminate": "indeterminate", "dnssec.lookup-failed": "error",
}

// mcSubject finds "TYPE name" in a per-name finding's message.
var mcSubject = regexp.MustCompile(`^(?:could not evaluate DNSSEC for |no DNSSEC verdict for )?([A-Z0-9]+) (\S+?):? `)

// mcResolverBogus finds "TYPE name" in a dnssec.resolver-bogus message.
var mcResolverBogus = regexp.MustCompile(`it finds ([A-Z0-9]+) (\S+) bogus`)

// mailcheckVerdicts runs the mailcheck binary's dnssec check on domain
// through srv and returns, per "TYPE name", its state and message, and
// per "resolver TYPE name" its reading of the resolver ("bogus" or
// "not bogus"; "validating" under "resolver" when it trusted the AD bit).
func mailcheckVerdicts(t *testing.T, w interopWorld, srv interopServer, domain string) map[string][2]string {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, "--checks", "dnssec", "--resolver", srv.addr, "--trust-anchor", w.anchor, "--format", "json", domain)
	out, err := cmd.Output()
	var rep struct {
		Checks []struct {
			Findings []struct{ ID, Message string }
		}
	}
	if jerr := json.Unmarshal(out, &rep); jerr != nil {
		t.Fatalf("mailcheck %s via %s: %v (exit: %v)\n%s", domain, srv.addr, jerr, err, out)
	}
	got := map[string][2]string{"resolver": {"validating"}}
	for _, n := range interopNames(domain) {
		got["resolver "+dns.TypeToString[n.qtype]+" "+n.name] = [2]string{"not bogus"}
	}
	for _, c := range rep.Checks {
		for _, f := range c.Findings {
			switch m := mcResolverBogus.FindStringSubmatch(f.Message); {
			case f.ID == "dnssec.resolver-not-validating":
				got["resolver"] = [2]string{"not validating", f.Message}
			case f.ID == "dnssec.resolver-bogus" && m != nil:
				got["resolver "+m[1]+" "+m[2]] = [2]string{"bogus", f.Message}
			}
			st, ok := mcStates[f.ID]
			if !ok {
				continue
			}
			m := mcSubject.FindStringSubmatch(f.Message)
			if m == nil {
				t.Fatalf("mailcheck %s: cannot read the name in %q", f.ID, f.Message)
			}
			got[m[1]+" "+m[2]] = [2]string{st, f.Message}
		}
	}
	return got
}

// printInteropTable logs the agreement table.
func printInteropTable(t *testing.T, rows []interopRow) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "server\tname\ttype\tbuilt\tdelv\tmailcheck\tagree\tresolver AD\tmailcheck on resolver")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.server, r.name, r.qtype, r.want, r.delv, r.mailcheck, agreeText(r), r.resolver, r.mcResolver)
	}
	tw.Flush()
	t.Logf("DNSSEC verdicts, delv (oracle) vs mailcheck:\n%s", b.String())
}

func agreeText(r interopRow) string {
	switch {
	case r.mailcheck == "not asked":
		return "n/a"
	case r.delv == r.mailcheck:
		return "yes"
	}
	return "NO"
}

// judgeInteropRows fails on every disagreement, and when the oracle does
// not see the world as it was built (then the world, not mailcheck, is
// broken). A name mailcheck did not ask is allowed only where the domain's
// MX lookup could not give the MX host: a validating resolver answering
// SERVFAIL for a bogus domain.
func judgeInteropRows(t *testing.T, rows []interopRow) {
	for _, r := range rows {
		q := r.server + ": " + r.qtype + " " + r.name
		if r.delv != r.want {
			t.Errorf("%s: delv says %s, the world was built %s: %s", q, r.delv, r.want, r.delvDetail)
		}
		if r.resolver != "-" && r.resolver != r.want {
			t.Errorf("%s: the validating resolver says %s, the world was built %s", q, r.resolver, r.want)
		}
		if r.mcResolver != "-" && (r.resolver == "bogus") != (r.mcResolver == "bogus") {
			t.Errorf("%s: the resolver says %s, mailcheck's resolver path %s", q, r.resolver, r.mcResolver)
		}
		switch {
		case r.mailcheck == "not asked":
			if !(r.qtype == "A" && r.server == "unbound" && r.want == "bogus") {
				t.Errorf("%s: mailcheck did not validate this name", q)
			}
		case r.mailcheck != r.delv:
			t.Errorf("%s: mailcheck says %s, delv %s\n  delv: %s\n  mailcheck: %s", q, r.mailcheck, r.delv, r.delvDetail, r.mcDetail)
		}
	}
}
