package report

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/mailcheck/mailcheck/checks"
)

// needTool skips a test when an external validator is not installed
// (.ci/run installs libxml2-utils and prometheus).
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed", name)
	}
}

// TestJUnitValidatesAgainstXSD: the JUnit output validates against the
// Jenkins JUnit schema (testdata/junit-10.xsd) with xmllint.
func TestJUnitValidatesAgainstXSD(t *testing.T) {
	needTool(t, "xmllint")
	path := filepath.Join(t.TempDir(), "out.xml")
	os.WriteFile(path, render(t, "junit", Options{}, fixedReports()), 0o644)
	out, err := exec.Command("xmllint", "--noout", "--schema", "testdata/junit-10.xsd", path).CombinedOutput()
	if err != nil {
		t.Errorf("xmllint: %v\n%s", err, out)
	}
}

// TestPrometheusPassesPromtool: promtool finds nothing to lint.
func TestPrometheusPassesPromtool(t *testing.T) {
	needTool(t, "promtool")
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = bytes.NewReader(render(t, "prometheus", Options{}, fixedReports()))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestSARIFValidatesAgainstSchema: the log validates against the OASIS
// SARIF 2.1.0 schema (testdata/sarif-schema-2.1.0.json), and places the
// located finding at its zone-file line.
func TestSARIFValidatesAgainstSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	sch, err := c.Compile("testdata/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	out := render(t, "sarif", Options{Locate: testLocate}, fixedReports())
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("SARIF log does not validate: %v", err)
	}
	bad, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},"level":"fatal"}]}]}`))
	if sch.Validate(bad) == nil {
		t.Errorf("the schema accepts a result of level fatal: it checks nothing")
	}
	var log sarifLog
	json.Unmarshal(out, &log)
	run := log.Runs[0]
	levels := map[string]string{}
	for _, r := range run.Results {
		levels[r.RuleID] = r.Kind + "/" + r.Level
		if r.RuleID == "mx.cname" && (r.Locations[0].Physical == nil || r.Locations[0].Physical.Region.StartLine != 7) {
			t.Errorf("mx.cname is not located at line 7: %+v", r.Locations[0])
		}
	}
	want := map[string]string{"mx.present": "pass/none", "mx.cname": "fail/warning", "dnsbl.listed": "fail/error", "dnsbl.info": "fail/note"}
	for id, w := range want {
		if levels[id] != w {
			t.Errorf("%s: %s, want %s", id, levels[id], w)
		}
	}
	if n := len(run.Invocations[0].Notifications); n != 2 || levels["dnsbl.temperror"] != "" {
		t.Errorf("error findings: %d notifications, result %q; want 2 and none", n, levels["dnsbl.temperror"])
	}
}

// TestBaselineMarks: a finding matches its baseline twin across changes
// of TTL, case and numbers in the message; new and fixed are counted.
func TestBaselineMarks(t *testing.T) {
	var buf bytes.Buffer
	for _, r := range fixedReports() {
		WriteJSON(&buf, r)
	}
	b, err := ReadBaseline(&buf)
	if err != nil {
		t.Fatal(err)
	}
	cur := fixedReports()[0]
	mx := &cur.Checks[0]
	mx.Findings[0].Message = "example.org has 3 MX records" // numbers masked
	mx.Findings[1].Records = []string{"MX2.example.org. 60 IN CNAME mail.example.net."}
	mx.Findings = append(mx.Findings, checks.Finding{ID: "mx.new", Severity: checks.Fail, Message: "something new"})
	cur.Checks = cur.Checks[:3] // dnsbl fixed
	res := b.Apply(cur)
	cur.Baseline = res
	if res.New != 1 || res.Unchanged != 4 || len(res.Fixed) != 3 {
		t.Errorf("baseline: %+v", res)
	}
	if mx.Findings[1].Baseline != BaselineUnchanged || mx.Findings[2].Baseline != BaselineNew {
		t.Errorf("marks: %q %q", mx.Findings[1].Baseline, mx.Findings[2].Baseline)
	}
	if cur.Gate(0, true) != Failed || cur.GateNew(0, true) != Failed {
		t.Errorf("a new fail must fail both gates")
	}
	mx.Findings = mx.Findings[:2]
	cur.Summary.Fail = 0
	if cur.GateNew(0, true) == Failed {
		t.Errorf("no new fail: --fail-on new must not fail")
	}
	var text bytes.Buffer
	rep := newBaselineTextReporter(&text, Options{Width: 100})
	rep.Report(cur)
	if !strings.Contains(text.String(), "[unchanged]") || !strings.Contains(text.String(), "baseline -: 1 new, 4 unchanged, 3 fixed") {
		t.Errorf("text report lacks the baseline marks:\n%s", text.String())
	}
	if _, err := ReadBaseline(strings.NewReader(`{"foo":1}`)); err == nil {
		t.Errorf("a document that is not a report was accepted")
	}
}
