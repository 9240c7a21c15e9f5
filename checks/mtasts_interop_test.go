//go:build interop

// The MTA-STS interop test compares mailcheck's reading of MTA-STS
// policies with that of postfix-mta-sts-resolver (Debian's package, the
// oracle): its STSResolver.resolve, the code that turns a TXT record and
// an HTTP answer into a policy or an error, runs on exactly what the
// mtasts tests serve (status, media type, body, the TXT records of the
// test zone), with its DNS and HTTP clients replaced by ones that return
// those (scripts/mtasts-interop.py). mailcheck's side is the mtasts check
// through the real wire path of TestMTASTS for the served cases, and
// internal/mtasts.ParsePolicy for mode and mx. Run it with
// `make interop` (scripts/mtasts-interop.sh installs the package).
package checks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/mtasts"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// stsOracleCase is one policy as the oracle is given it.
type stsOracleCase struct {
	Name   string   `json:"name"`
	TXT    []string `json:"txt"`
	Status int      `json:"status"`
	CType  string   `json:"ctype"`
	Body   string   `json:"body"`
}

// stsOracleResult is the oracle's verdict on a case.
type stsOracleResult struct {
	Name   string   `json:"name"`
	Result string   `json:"result"` // VALID, FETCH_ERROR, NONE
	Mode   string   `json:"mode"`
	MX     []string `json:"mx"`
	MaxAge int64    `json:"max_age"`
}

// stsParserVectors are policy bodies beyond the served ones: the edges
// of the grammar (RFC 8461 §3.2), served with status 200 as text/plain.
var stsParserVectors = map[string]string{
	"v-tabs-no-final-newline": "version:\tSTSv1\nmode:enforce\nmx: a.example\nmax_age: 0",
	"v-unknown-keys":          "version: STSv1\nmode: enforce\nfoo: bar\nmx: a.example\nmax_age: 1\n",
	"v-none-without-mx":       "version: STSv1\nmode: none\nmax_age: 86400\n",
	"v-enforce-without-mx":    "version: STSv1\nmode: enforce\nmax_age: 86400\n",
	"v-ipv6-mx":               "version: STSv1\nmode: enforce\nmx: [2001:db8::1]\nmax_age: 1\n",
	"v-bad-wildcard":          "version: STSv1\nmode: enforce\nmx: mail.*.example\nmax_age: 1\n",
	"v-max-age-limit":         "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557600\n",
	"v-max-age-too-big":       "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n",
	"v-max-age-negative":      "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n",
	"v-max-age-11-digits":     "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 00000000001\n",
	"v-mode-case":             "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n",
	"v-version-2":             "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",
	"v-duplicate-mode":        "version: STSv1\nmode: enforce\nmode: testing\nmx: a.example\nmax_age: 1\n",
	"v-no-version":            "mode: enforce\nmx: a.example\nmax_age: 1\n",
	"v-empty":                 "",
}

// stsInvalidIDs are the mtasts findings that mean senders have no policy.
var stsInvalidIDs = []string{"mtasts.missing", "mtasts.multiple", "mtasts.record-syntax", "mtasts.policy-host-missing", "mtasts.policy-syntax",
	"mtasts.fetch-status", "mtasts.fetch-redirect", "mtasts.fetch-size", "mtasts.fetch-content-type", "mtasts.fetch-tls"}

// stsRow is one line of the agreement table.
type stsRow struct {
	name, source string
	oracle, ours string // "valid enforce [mx…] 86400", or "invalid (why)"
	agree        bool
	understood   string // why a disagreement is expected
}

func TestInteropMTASTSResolver(t *testing.T) {
	python := os.Getenv("MTASTS_ORACLE_PYTHON")
	if python == "" {
		t.Fatal("run through scripts/mtasts-interop.sh (make interop): it installs postfix-mta-sts-resolver and sets MTASTS_ORACLE_PYTHON")
	}
	w := startMTASTSWorld(t)
	var cases []stsOracleCase
	ours := map[string]string{}
	for _, label := range servedLabels() {
		c, v := servedCase(t, w, label)
		cases, ours[c.Name] = append(cases, c), v
	}
	for name, body := range stsParserVectors {
		cases = append(cases, stsOracleCase{Name: name, TXT: []string{"v=STSv1; id=1"}, Status: 200, CType: "text/plain", Body: body})
		ours[name] = policyVerdict(mtasts.ParsePolicy(body))
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].Name < cases[j].Name })
	results := runOracle(t, python, cases)
	var rows []stsRow
	for _, c := range cases {
		r := stsRow{name: c.Name, source: "served", oracle: oracleVerdict(results[c.Name]), ours: ours[c.Name]}
		if strings.HasPrefix(c.Name, "v-") {
			r.source = "vector"
		}
		r.agree = sameValidity(r.oracle, r.ours) && (!strings.HasPrefix(r.ours, "valid") || r.oracle == r.ours)
		r.understood = stsUnderstood[c.Name]
		rows = append(rows, r)
	}
	printSTSTable(rows)
	for _, r := range rows {
		if !r.agree && r.understood == "" {
			t.Errorf("%s: postfix-mta-sts-resolver %q, mailcheck %q", r.name, r.oracle, r.ours)
		}
		if r.agree && r.understood != "" {
			t.Errorf("%s: listed as an understood disagreement, but both agree now: %q", r.name, r.ours)
		}
	}
}

// stsUnderstood are the disagreements explained by the oracle's own
// leniency, each against the RFC text mailcheck follows.
var stsUnderstood = map[string]string{
	"badid":               "the resolver only requires an id field; RFC 8461 §3.1: id = 1*32(ALPHA / DIGIT), so \"2026-12-05\" is invalid",
	"ipmx":                "the resolver does not check mx values; RFC 8461 §3.2/§4.1: mx patterns are host names, an IP address matches no MX",
	"v-ipv6-mx":           "as ipmx: an address literal is not a host name pattern",
	"v-bad-wildcard":      "the resolver does not check mx values; RFC 8461 §3.2: a wildcard is only the whole left-most label (\"*.\")",
	"v-max-age-11-digits": "the resolver reads max_age with int(); RFC 8461 §3.2: max_age = 1*10DIGIT",
	"v-duplicate-mode":    "the resolver silently keeps the last of two mode lines; mailcheck reports a repeated field other than mx as a syntax error (RFC 8461 §3.2 provides for repeating mx only), so the sender's mode is not guessed",
}

// servedLabels are the cases of TestMTASTS whose policy the oracle can
// judge: every served label but the TLS ones (the certificate is not the
// parser's business) and the shared-session one (a copy of ok).
func servedLabels() []string {
	var out []string
	for label := range mtastsPolicies {
		if !slices.Contains([]string{"certname", "expired", "sharedsession"}, label) {
			out = append(out, label)
		}
	}
	sort.Strings(out)
	return out
}

// servedCase is what the test world serves for label (TXT records from
// the test zone, the handler's answer) and mailcheck's verdict through
// the wire path of the mtasts check.
func servedCase(t *testing.T, w *mtastsWorld, label string) (stsOracleCase, string) {
	domain := label + ".mtasts.test"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	look, err := mtasts.LookupRecord(ctx, resolve.NewCache(w.dns.Resolver(5*time.Second)), domain)
	if err != nil {
		t.Fatalf("%s: %v", domain, err)
	}
	rec := httptest.NewRecorder()
	mtastsPolicies[label](rec, httptest.NewRequest(http.MethodGet, mtasts.URL(domain), nil))
	c := stsOracleCase{Name: label, TXT: look.Texts, Status: rec.Code, CType: rec.Header().Get("Content-Type"), Body: rec.Body.String()}
	res := w.run(t, domain, checks.Options{}, checks.SMTP{}, checks.MTASTS{})["mtasts"]
	for _, f := range res.Findings {
		if slices.Contains(stsInvalidIDs, f.ID) {
			return c, "invalid (" + f.ID + ")"
		}
	}
	return c, policyVerdict(mtasts.ParsePolicy(c.Body))
}

// policyVerdict is mailcheck's parser's verdict on a body.
func policyVerdict(p *mtasts.Policy) string {
	if !p.Valid() {
		var kinds []string
		for _, pr := range p.Problems {
			kinds = append(kinds, string(pr.Kind))
		}
		return "invalid (" + strings.Join(kinds, ", ") + ")"
	}
	return fmt.Sprintf("valid %s [%s] %d", p.Mode, strings.Join(p.MX, " "), p.MaxAge)
}

// oracleVerdict is the resolver's verdict in the same words.
func oracleVerdict(r stsOracleResult) string {
	if r.Result != "VALID" {
		return "invalid (" + r.Result + ")"
	}
	return fmt.Sprintf("valid %s [%s] %d", r.Mode, strings.Join(r.MX, " "), r.MaxAge)
}

func sameValidity(a, b string) bool {
	return strings.HasPrefix(a, "valid") == strings.HasPrefix(b, "valid")
}

// runOracle writes the cases to a file and runs the resolver on them all
// in one python3 call.
func runOracle(t *testing.T, python string, cases []stsOracleCase) map[string]stsOracleResult {
	dir := t.TempDir()
	in := filepath.Join(dir, "cases.json")
	b, _ := json.Marshal(cases)
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, python, "../scripts/mtasts-interop.py", in)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("oracle: %v\n%s", err, stderr.String())
	}
	var list []stsOracleResult
	if err := json.Unmarshal(stdout.Bytes(), &list); err != nil {
		t.Fatalf("oracle output: %v\n%s", err, stdout.String())
	}
	out := map[string]stsOracleResult{}
	for _, r := range list {
		out[r.Name] = r
	}
	return out
}

// printSTSTable prints the agreement table.
func printSTSTable(rows []stsRow) {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "case\tsource\tpostfix-mta-sts-resolver\tmailcheck\tagree")
	for _, r := range rows {
		agree := "yes"
		if !r.agree {
			agree = "NO (understood: " + r.understood + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.name, r.source, r.oracle, r.ours, agree)
	}
	tw.Flush()
	fmt.Print("== MTA-STS oracle: postfix-mta-sts-resolver vs mailcheck\n" + b.String())
}
