//go:build interop

// The DANE interop test compares mailcheck's dane (and delivery) verdicts
// with those of Postfix's DANE client, posttls-finger -l dane (the
// oracle), on a signed zone world with TLSA records served by Knot and
// validated by Unbound, and a Postfix server presenting the certificate
// the records were made from, all on loopback and started by
// scripts/dane-interop.sh, which passes the world in through the
// environment. Run it with `make interop` (as root); it starts and stops
// nothing itself.
package dane_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

// The verdicts both tools are read into: what a sender enforcing DANE
// does at the MX host.
const (
	verdictMatch    = "authenticated"           // a TLSA record matches: it delivers
	verdictMismatch = "no matching TLSA"        // it defers
	verdictNoTLS    = "TLSA, no STARTTLS"       // it defers
	verdictUnusable = "TLSA unusable: TLS only" // it delivers over TLS, unauthenticated
	verdictNoDANE   = "no DANE"                 // no secure TLSA: as without DANE
	verdictUnknown  = "unknown"
)

// interopDelivery is the delivery finding each verdict must come with.
var interopDelivery = map[string]string{
	verdictMatch:    "delivery.ok",
	verdictMismatch: "delivery.blocked",
	verdictNoTLS:    "delivery.blocked",
	verdictUnusable: "delivery.ok",
	verdictNoDANE:   "delivery.unprotected",
}

// interopWorld is what scripts/dane-interop.sh started.
type interopWorld struct {
	bin, resolver, anchor, client, resolvConf string
	cases                                     []string
}

func interopWorldFromEnv(t *testing.T) interopWorld {
	w := interopWorld{bin: os.Getenv("MAILCHECK_BIN"), resolver: os.Getenv("DANE_INTEROP_RESOLVER"), anchor: os.Getenv("DANE_INTEROP_ANCHOR"),
		client: os.Getenv("DANE_INTEROP_CLIENT"), resolvConf: os.Getenv("DANE_INTEROP_RESOLV_CONF"), cases: strings.Fields(os.Getenv("DANE_INTEROP_CASES"))}
	if w.bin == "" || w.resolver == "" || len(w.cases) == 0 {
		t.Fatal("run through scripts/dane-interop.sh (make interop): it builds the world and sets MAILCHECK_BIN and DANE_INTEROP_*")
	}
	return w
}

// interopRow is one case.
type interopRow struct {
	domain, oracle, oracleDetail, mailcheck, mcDetail, delivery string
}

func TestInteropDANE(t *testing.T) {
	w := interopWorldFromEnv(t)
	var rows []interopRow
	for _, c := range w.cases {
		r := interopRow{domain: c + ".test"}
		r.oracle, r.oracleDetail = postfixVerdict(t, w, r.domain)
		r.mailcheck, r.mcDetail, r.delivery = mailcheckVerdict(t, w, r.domain)
		rows = append(rows, r)
	}
	printTable(rows)
	for _, r := range rows {
		if r.oracle == verdictUnknown || r.oracle != r.mailcheck {
			t.Errorf("%s: posttls-finger %q (%s), mailcheck %q (%s)", r.domain, r.oracle, r.oracleDetail, r.mailcheck, r.mcDetail)
		}
		if want := interopDelivery[r.oracle]; r.delivery != want {
			t.Errorf("%s: delivery finding %s, want %s for %q", r.domain, r.delivery, want, r.oracle)
		}
	}
}

// postfixVerdict runs posttls-finger -v -l dane on domain with Unbound as
// its resolver (the world's resolv.conf bind-mounted over /etc/resolv.conf
// in a private mount namespace: the system's stays untouched) and reads
// its verdict from what it logs.
func postfixVerdict(t *testing.T, w interopWorld, domain string) (verdict, detail string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "-m", "sh", "-c", `mount --bind "$0" /etc/resolv.conf && exec posttls-finger -v -l dane "$1"`, w.resolvConf, domain)
	cmd.Env = append(os.Environ(), "MAIL_CONFIG="+w.client)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("posttls-finger %s: %v\n%s", domain, err, out)
		return verdictUnknown, err.Error()
	}
	return readPostfix(string(out))
}

// readPostfix maps posttls-finger's log to a verdict, with the line that
// decided it.
func readPostfix(log string) (string, string) {
	for _, p := range []struct{ marker, verdict string }{
		{"Verified TLS connection established", verdictMatch},
		{"no matching DANE TLSA records", verdictMismatch},
		{"no usable TLSA records found", verdictUnusable},
		{"no TLSA records found", verdictNoDANE},
	} {
		if line := lineWith(log, p.marker); line != "" {
			return p.verdict, line
		}
	}
	if lineWith(log, "ctable_locate: install entry key _25._tcp.") != "" && lineWith(log, "> STARTTLS") == "" {
		return verdictNoTLS, "TLSA records found, STARTTLS not sent (not offered)"
	}
	return verdictUnknown, "no marker in the log"
}

func lineWith(log, s string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			return strings.TrimSpace(strings.TrimPrefix(l, "posttls-finger: "))
		}
	}
	return ""
}

// mailcheckVerdict runs the binary's dane, smtp and delivery checks and
// reads the dane verdict (the advisory findings aside) and the delivery
// finding from the JSON report.
func mailcheckVerdict(t *testing.T, w interopWorld, domain string) (verdict, detail, delivery string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, "--resolver", w.resolver, "--trust-anchor", w.anchor, "--allow-private",
		"--checks", "dane,smtp,delivery", "--format", "json", domain)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil && cmd.ProcessState == nil {
		t.Fatalf("mailcheck %s: %v\n%s", domain, err, stderr.String())
	}
	var rep struct {
		Checks []struct {
			Name     string `json:"name"`
			Findings []struct {
				ID      string `json:"id"`
				Message string `json:"message"`
			} `json:"findings"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("mailcheck %s: %v\n%s\n%s", domain, err, stdout.String(), stderr.String())
	}
	verdict = verdictUnknown
	for _, c := range rep.Checks {
		for _, f := range c.Findings {
			switch v, ok := mailcheckVerdicts[f.ID]; {
			case ok:
				verdict, detail = v, f.ID
			case c.Name == "delivery":
				delivery = f.ID
			}
		}
	}
	return verdict, detail, delivery
}

// mailcheckVerdicts maps the dane check's verdict findings.
var mailcheckVerdicts = map[string]string{
	"dane.match":            verdictMatch,
	"dane.mismatch":         verdictMismatch,
	"dane.no-tls":           verdictNoTLS,
	"dane.no-usable-record": verdictUnusable,
	"dane.none":             verdictNoDANE,
	"dane.insecure":         verdictNoDANE,
}

// printTable prints the agreement table.
func printTable(rows []interopRow) {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "domain\tposttls-finger -l dane\tmailcheck dane\tagree\tmailcheck delivery\tposttls-finger said")
	for _, r := range rows {
		agree := "yes"
		if r.oracle != r.mailcheck {
			agree = "NO"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s (%s)\t%s\t%s\t%s\n", r.domain, r.oracle, r.mailcheck, r.mcDetail, agree, r.delivery, trim(r.oracleDetail, 90))
	}
	tw.Flush()
	fmt.Print("== DANE oracle: posttls-finger vs mailcheck\n" + b.String())
}

func trim(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
