package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/mailcheck/mailcheck/internal/dnstest"
)

var exampleZones = []string{
	"../../testdata/zones/example.org.zone",
	"../../testdata/zones/2.0.192.in-addr.arpa.zone",
	"../../testdata/zones/100.51.198.in-addr.arpa.zone",
	"../../testdata/zones/5.2.0.0.8.b.d.0.1.0.0.2.ip6.arpa.zone",
}

func zoneArgs() []string {
	var out []string
	for _, z := range exampleZones {
		out = append(out, "--zone", z)
	}
	return out
}

// cli runs the real command line in-process and returns exit code, stdout
// and stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return cliWith(t, func(*app) {}, args...)
}

func cliWith(t *testing.T, setup func(*app), args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	a := newApp(&out, &errb)
	a.getenv = func(string) string { return "" }
	setup(a)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := a.run(ctx, args)
	return code, out.String(), errb.String()
}

func startMX(t *testing.T) *dnstest.Server {
	t.Helper()
	srv := dnstest.Start(t, "../../testdata/zones/mx/mx.test.zone", "../../testdata/zones/mx/2.0.192.in-addr.arpa.zone",
		"../../testdata/zones/mx/8.b.d.0.1.0.0.2.ip6.arpa.zone")
	srv.Set("broken.mx.test", dnstest.ServFail)
	return srv
}

func TestExitCodes(t *testing.T) {
	srv := startMX(t)
	dead := dnstest.StartZones(t)
	dead.Set("example.org", dnstest.Drop)
	dead.Set("2.8.0.1.0.0.2.ip6.arpa", dnstest.Drop)
	r := []string{"--resolver", srv.Addr, "--timeout", "500ms"}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string // substring expected on stderr
		stdout string // substring expected on stdout
	}{
		{"pass", append(r, "--checks", "mx,ptr", "ok.mx.test"), exitOK, "", "grade A"},
		{"fail finding", append(r, "--checks", "mx", "nomail.mx.test"), exitFail, "", "mx.missing"},
		{"below fail-under", append(r, "--checks", "mx,ptr", "--fail-under", "95", "nov6.mx.test"), exitFail, "", "score: 92/100"},
		{"at fail-under", append(r, "--checks", "mx,ptr", "--fail-under", "92", "nov6.mx.test"), exitOK, "", "score: 92/100"},
		{"nothing evaluated", append(r, "--checks", "mx", "broken.mx.test"), exitUnevaluated, "", "nothing could be evaluated"},
		{"resolver never answers", []string{"--resolver", dead.Addr, "--timeout", "100ms", "--checks", "mx,ptr", "example.org"}, exitUnevaluated, "", "timeout from " + dead.Addr + " for MX example.org"},
		{"offline without zone", []string{"--offline", "--checks", "mx", "example.org"}, exitUnevaluated, "", "not resolvable offline for MX example.org"},
		{"fail beats unevaluated", append(r, "--checks", "mx", "nomail.mx.test", "broken.mx.test"), exitFail, "", "mx.temperror"},
		{"no domain", r, exitUsage, "no domain given", ""},
		{"unknown flag", append(r, "--bogus", "example.org"), exitUsage, "unknown flag: --bogus", ""},
		{"bad duration", append(r, "--timeout", "soon", "example.org"), exitUsage, `invalid argument "soon" for "--timeout"`, ""},
		{"negative timeout", []string{"--timeout", "-1s", "example.org"}, exitUsage, "--timeout must be positive", ""},
		{"bad format", []string{"--format", "xml", "example.org"}, exitUsage, `--format must be text or json or sarif or junit or prometheus or csv or nagios, not "xml"`, ""},
		{"unknown check", []string{"--checks", "mx,nope", "example.org"}, exitUsage, `unknown check "nope"`, ""},
		{"fail-under range", []string{"--fail-under", "101", "example.org"}, exitUsage, "--fail-under must be between 0 and 100", ""},
		{"bad ip", []string{"--ip", "300.1.1.1", "example.org"}, exitUsage, `--ip "300.1.1.1" is not an IP address`, ""},
		{"empty label", append(r, "exa..mple.org"), exitUsage, `empty label at position 2`, ""},
		{"label too long", append(r, strings.Repeat("a", 64)+".org"), exitUsage, "is 64 octets, the limit is 63", ""},
		{"name too long", append(r, strings.Repeat("abcdefghi.", 26)+"org"), exitUsage, "octets, the limit is 253", ""},
		{"one bad domain among good", append(r, "--checks", "mx", "ok..mx.test", "ok.mx.test"), exitUsage, "empty label", "ok.mx.test"},
		{"garbage zone", []string{"--offline", "--zone", "../../testdata/zones/bad/garbage.zone", "example.org"}, exitUsage, "garbage.zone", ""},
		{"bad record in zone", []string{"--offline", "--zone", "../../testdata/zones/bad/bad-address.zone", "broken.test"}, exitUsage, "bad-address.zone: bad A A: \"999.1.2.3\" at line: 5", ""},
		{"missing zone file", []string{"--offline", "--zone", "nope.zone", "example.org"}, exitUsage, "zone file nope.zone", ""},
		{"offline with resolver", []string{"--offline", "--resolver", srv.Addr, "example.org"}, exitUsage, "exclude each other", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := cli(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit code = %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr %q lacks %q", stderr, tc.stderr)
			}
			if !strings.Contains(flat(stdout), tc.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.stdout, stdout)
			}
			if strings.Contains(stdout+stderr, "panic") || strings.Contains(stdout+stderr, "goroutine ") {
				t.Errorf("output shows a panic:\n%s\n%s", stdout, stderr)
			}
		})
	}
}

// flat undoes the text report's table layout (borders, wrapping) so tests
// can look for a message as one string.
func flat(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "│", " ")), " ")
}

func loadSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	s, err := c.Compile("../../docs/report.schema.json")
	if err != nil {
		t.Fatalf("compiling the schema: %v", err)
	}
	return s
}

// TestJSONValidatesAgainstSchema runs every check on the bundled example
// (offline, so network probes report errors) plus an IDN domain, and
// validates each JSON line against docs/report.schema.json.
func TestJSONValidatesAgainstSchema(t *testing.T) {
	schema := loadSchema(t)
	idn := filepath.Join(t.TempDir(), "idn.zone")
	if err := os.WriteFile(idn, []byte("$ORIGIN xn--bcher-kva.example.\n@ IN SOA ns h 1 2 3 4 5\n@ IN MX 10 mail\nmail IN A 192.0.2.44\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--offline", "--format", "json", "--zone", idn}, zoneArgs()...)
	code, stdout, stderr := cli(t, append(args, "example.org", "bücher.example")...)
	if code == exitUsage {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(nil, 16<<20)
	var docs []map[string]any
	for sc.Scan() {
		lines++
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(sc.Text()))
		if err != nil {
			t.Fatalf("line %d is not JSON: %v", lines, err)
		}
		if err := schema.Validate(inst); err != nil {
			t.Errorf("line %d does not validate: %v", lines, err)
		}
		var m map[string]any
		json.Unmarshal(sc.Bytes(), &m)
		docs = append(docs, m)
	}
	if lines != 2 {
		t.Fatalf("%d JSON lines, want one per domain (2):\n%s", lines, stdout)
	}
	if docs[0]["domain"] != "example.org" || docs[0]["domain_unicode"] != nil {
		t.Errorf("first document: domain %v, domain_unicode %v", docs[0]["domain"], docs[0]["domain_unicode"])
	}
	if docs[1]["domain"] != "xn--bcher-kva.example" || docs[1]["domain_unicode"] != "bücher.example" {
		t.Errorf("IDN document: domain %v, domain_unicode %v", docs[1]["domain"], docs[1]["domain_unicode"])
	}
	if docs[0]["schema_version"] != reportSchema {
		t.Errorf("schema_version = %v", docs[0]["schema_version"])
	}
	// The schema is not vacuous: a finding without an ID is rejected.
	bad := strings.Replace(strings.SplitN(stdout, "\n", 2)[0], `"id":"mx.ok"`, `"idx":"mx.ok"`, 1)
	inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(bad))
	if err := schema.Validate(inst); err == nil {
		t.Error("a finding without id validated")
	}
}

func TestTraceAndColour(t *testing.T) {
	srv := startMX(t)
	args := []string{"--resolver", srv.Addr, "--checks", "mx", "ok.mx.test"}

	_, _, stderr := cli(t, append([]string{"--trace"}, args...)...)
	if !strings.Contains(stderr, "dns: MX    ok.mx.test. @"+srv.Addr+"/udp NOERROR") {
		t.Errorf("--trace output lacks the MX query:\n%s", stderr)
	}

	tty := func(a *app) { a.isTerminal = func(io.Writer) bool { return true } }
	tests := []struct {
		name  string
		setup func(*app)
		flags []string
		color bool
	}{
		{"not a terminal", func(*app) {}, nil, false},
		{"terminal", tty, nil, true},
		{"terminal --no-color", tty, []string{"--no-color"}, false},
		{"terminal NO_COLOR", func(a *app) {
			tty(a)
			a.getenv = func(k string) string { return map[string]string{"NO_COLOR": "1"}[k] }
		}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stdout, _ := cliWith(t, tc.setup, append(tc.flags, args...)...)
			if got := strings.Contains(stdout, "\x1b["); got != tc.color {
				t.Errorf("ANSI colour = %v, want %v:\n%s", got, tc.color, stdout)
			}
			if !strings.Contains(stdout, "mx.ok") {
				t.Errorf("report lacks mx.ok:\n%s", stdout)
			}
		})
	}
}

func TestBundledExampleOffline(t *testing.T) {
	code, stdout, stderr := cli(t, append(append([]string{"--offline", "--checks", "mx,ptr"}, zoneArgs()...), "example.org")...)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"mailcheck report for example.org", "mx.ok", "10 mail.example.org (192.0.2.25, 2001:db8:25::25)", "ptr.ok", "score:"} {
		if !strings.Contains(flat(stdout), want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
}

func TestVersionAndCatalogue(t *testing.T) {
	code, stdout, _ := cli(t, "version")
	if code != 0 || !strings.HasPrefix(stdout, "mailcheck dev (report schema "+reportSchema+")") {
		t.Errorf("version: %d %q", code, stdout)
	}
	code, stdout, _ = cli(t, "findings", "--format", "markdown")
	if code != 0 {
		t.Fatalf("findings exit %d", code)
	}
	doc, err := os.ReadFile("../../docs/findings.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(doc) != stdout {
		t.Errorf("docs/findings.md is out of date: run `make docs`")
	}
	code, _, _ = cli(t, "completion", "bash")
	if code != 0 {
		t.Errorf("completion bash exit %d", code)
	}
}

// TestDeadline: a resolver slower than --deadline ends the audit on time,
// with errors that name the deadline, not "missing" records.
func TestDeadline(t *testing.T) {
	srv := startMX(t)
	srv.Set("ok.mx.test", dnstest.Slow)
	srv.SetDelay(time.Second)
	start := time.Now()
	code, stdout, _ := cli(t, "--resolver", srv.Addr, "--timeout", "5s", "--deadline", "300ms", "--checks", "mx,ptr", "--format", "json", "ok.mx.test")
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("audit took %s with a 300ms deadline (hang)", el)
	}
	if code != exitUnevaluated {
		t.Errorf("exit %d, want %d", code, exitUnevaluated)
	}
	var doc struct {
		Checks []struct {
			Findings []struct{ ID, Severity, Message string }
		}
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	f := doc.Checks[0].Findings
	if len(f) != 2 || f[0].ID != "mx.temperror" || f[0].Severity != "error" || !strings.Contains(f[0].Message, "audit deadline reached") ||
		f[1].ID != "check.deadline" {
		t.Errorf("mx findings = %+v", f)
	}
}
