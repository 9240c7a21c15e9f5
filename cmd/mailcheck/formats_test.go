package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNagiosExitCodes: --format nagios exits with the plugin state.
func TestNagiosExitCodes(t *testing.T) {
	srv := startMX(t)
	r := []string{"--resolver", srv.Addr, "--timeout", "500ms", "--format", "nagios"}
	tests := []struct {
		args []string
		code int
		line string
	}{
		{[]string{"--checks", "mx,ptr", "ok.mx.test"}, 0, "MAILCHECK OK - ok.mx.test score 100 grade A | score=100;80;60;0;100"},
		{[]string{"--checks", "mx,ptr", "--fail-under", "101", "ok.mx.test"}, exitUsage, ""},
		{[]string{"--checks", "mx", "nxdomain.mx.test"}, 2, "MAILCHECK CRITICAL - nxdomain.mx.test"},
		{[]string{"--checks", "mx", "broken.mx.test"}, 3, "MAILCHECK UNKNOWN - broken.mx.test"},
	}
	for _, tc := range tests {
		code, out, errb := cli(t, append(append([]string{}, r...), tc.args...)...)
		if code != tc.code || !strings.HasPrefix(out, tc.line) || strings.Count(out, "\n") > 1 {
			t.Errorf("%v: exit %d, want %d\n%s%s", tc.args, code, tc.code, out, errb)
		}
	}
}

// TestOutputsAndBaseline: --output writes several formats in one run;
// a second run against the first's JSON marks findings unchanged, and
// --fail-on new passes a domain whose fail is known.
func TestOutputsAndBaseline(t *testing.T) {
	srv := startMX(t)
	dir := t.TempDir()
	base, xml := filepath.Join(dir, "base.json"), filepath.Join(dir, "out.xml")
	r := []string{"--resolver", srv.Addr, "--timeout", "500ms", "--checks", "mx"}
	code, out, errb := cli(t, append(r, "--format", "csv", "--output", "json="+base, "--output", "junit="+xml, "nxdomain.mx.test")...)
	if code != exitFail || !strings.HasPrefix(out, "domain,score,grade") {
		t.Fatalf("exit %d\n%s%s", code, out, errb)
	}
	if b, err := os.ReadFile(xml); err != nil || !strings.Contains(string(b), "<testsuite name=\"nxdomain.mx.test\"") {
		t.Errorf("junit output: %v\n%s", err, b)
	}
	code, out, errb = cli(t, append(r, "--format", "json", "--baseline", base, "--fail-on", "new", "nxdomain.mx.test")...)
	var doc struct {
		Baseline struct{ New, Unchanged int }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Baseline.New != 0 || doc.Baseline.Unchanged == 0 {
		t.Errorf("baseline: %v %+v\n%s%s", err, doc, out, errb)
	}
	if code != exitFail { // NXDOMAIN fails whatever the baseline says
		t.Errorf("exit %d, want %d", code, exitFail)
	}
	for _, args := range [][]string{
		{"--fail-on", "new", "ok.mx.test"},
		{"--fail-on", "some", "ok.mx.test"},
		{"--baseline", filepath.Join(dir, "missing.json"), "ok.mx.test"},
		{"--output", "xml=" + xml, "ok.mx.test"},
		{"--output", "json", "ok.mx.test"},
	} {
		if code, _, _ := cli(t, append(r, args...)...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// TestSubcommandFormats: version, findings and spf eval take the formats
// that make sense for them and refuse the others with exit 2.
func TestSubcommandFormats(t *testing.T) {
	code, out, _ := cli(t, "version", "--format", "json")
	if code != 0 || !strings.Contains(out, `"report_schema":"`+reportSchema+`"`) {
		t.Errorf("version --format json: %d %s", code, out)
	}
	code, out, _ = cli(t, "findings", "--format", "csv")
	if code != 0 || !strings.HasPrefix(out, "id,severity,rfc,summary\n") {
		t.Errorf("findings --format csv: %d %.80s", code, out)
	}
	for _, args := range [][]string{
		{"version", "--format", "sarif"},
		{"findings", "--format", "nagios"},
		{"spf", "eval", "--format", "junit", "--offline", "--ip", "192.0.2.1", "--sender", "a@example.org"},
	} {
		if code, _, errb := cli(t, args...); code != exitUsage || !strings.Contains(errb, "--format must be") {
			t.Errorf("%v: exit %d, want %d: %s", args, code, exitUsage, errb)
		}
	}
}

// TestSARIFZoneLines: with --zone, results about a record of the zone
// file point at the line that holds it.
func TestSARIFZoneLines(t *testing.T) {
	code, out, errb := cli(t, append(append([]string{"--offline", "--format", "sarif"}, zoneArgs()...), "example.org")...)
	if code == exitUsage || code == exitOutput {
		t.Fatalf("exit %d: %s", code, errb)
	}
	var log struct {
		Runs []struct {
			Results []struct {
				RuleID    string
				Locations []struct {
					PhysicalLocation *struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine int }
					}
				}
				Properties struct{ Records []string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &log); err != nil {
		t.Fatal(err)
	}
	located := 0
	for _, r := range log.Runs[0].Results {
		pl := r.Locations[0].PhysicalLocation
		if pl == nil {
			continue
		}
		located++
		text, err := os.ReadFile(pl.ArtifactLocation.URI)
		if err != nil {
			t.Fatal(err)
		}
		line := strings.Split(string(text), "\n")[pl.Region.StartLine-1]
		if !strings.Contains(line, "IN") {
			t.Errorf("%s located at %s:%d, which is %q", r.RuleID, pl.ArtifactLocation.URI, pl.Region.StartLine, line)
		}
	}
	if located == 0 {
		t.Errorf("no result located in the zone file:\n%s", out)
	}
}
