package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mailcheck/mailcheck/report"
)

// domainsOf returns the domains of a JSON Lines output, in order; every
// line must be a report.
func domainsOf(t *testing.T, jsonl string) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(strings.NewReader(jsonl))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var b brief
		if err := json.Unmarshal(sc.Bytes(), &b); err != nil || b.Domain == "" {
			t.Fatalf("not a report: %q (%v)", sc.Text(), err)
		}
		out = append(out, b.Domain)
	}
	return out
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const bulkList = `# our domains
ok.mx.test
OK.MX.TEST.   # the same, spelled otherwise

nomail.mx.test
exa..mple.org
nov6.mx.test
ok.mx.test
`

// TestInputList: --input reads the list as it goes: comments, blanks and
// duplicates skipped, a malformed line reported with its number without
// stopping the run, and a summary on stderr.
func TestInputList(t *testing.T) {
	srv := startMX(t)
	list := writeFile(t, "list.txt", bulkList)
	args := []string{"--resolver", srv.Addr, "--checks", "mx,ptr", "--format", "json", "--input", list}
	code, stdout, stderr := cli(t, args...)
	if code != exitUsage {
		t.Errorf("exit %d, want %d (a malformed line)", code, exitUsage)
	}
	if got := domainsOf(t, stdout); fmt.Sprint(got) != "[ok.mx.test nomail.mx.test nov6.mx.test]" {
		t.Errorf("domains %v", got)
	}
	for _, want := range []string{list + ":6: ", "domains: 3", "malformed lines: 1", "grades:  A 2  D 1",
		"most frequent fail findings (domains):", "33.3%  mx.missing", "input: 2 duplicates skipped"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if code, _, _ := cli(t, append(args, "--report-only")...); code != exitOK {
		t.Errorf("--report-only: exit %d", code)
	}
	if _, _, stderr := cli(t, append(args, "--summary=false")...); strings.Contains(stderr, "domains:") {
		t.Errorf("--summary=false still summarises:\n%s", stderr)
	}
}

// TestInputStdin: --input - reads standard input; domains as arguments
// and --input together are refused.
func TestInputStdin(t *testing.T) {
	srv := startMX(t)
	stdin := func(a *app) { a.stdin = strings.NewReader("nov6.mx.test\nok.mx.test\n") }
	code, stdout, stderr := cliWith(t, stdin, "--resolver", srv.Addr, "--checks", "mx,ptr", "--format", "json", "--input", "-")
	if code != exitOK || fmt.Sprint(domainsOf(t, stdout)) != "[nov6.mx.test ok.mx.test]" {
		t.Errorf("exit %d, domains %v\n%s", code, domainsOf(t, stdout), stderr)
	}
	code, _, stderr = cliWith(t, stdin, "--input", "-", "ok.mx.test")
	if code != exitUsage || !strings.Contains(stderr, "not both") {
		t.Errorf("arguments and --input: exit %d\n%s", code, stderr)
	}
}

// TestOrderFlag: both orders report every domain once; input keeps the
// list's order (the scheduler's tests cover completion's own order).
func TestOrderFlag(t *testing.T) {
	srv := startMX(t)
	list := writeFile(t, "list.txt", "nov6.mx.test\nok.mx.test\nnomail.mx.test\nnull.mx.test\n")
	for _, order := range []string{"input", "completion"} {
		_, stdout, _ := cli(t, "--resolver", srv.Addr, "--checks", "mx", "--format", "json", "--order", order, "--input", list)
		got := domainsOf(t, stdout)
		if order == "input" && fmt.Sprint(got) != "[nov6.mx.test ok.mx.test nomail.mx.test null.mx.test]" {
			t.Errorf("--order input: %v", got)
		}
		slices.Sort(got)
		if fmt.Sprint(got) != "[nomail.mx.test nov6.mx.test null.mx.test ok.mx.test]" {
			t.Errorf("--order %s: %v", order, got)
		}
	}
	if code, _, stderr := cli(t, "--order", "random", "ok.mx.test"); code != exitUsage || !strings.Contains(stderr, "--order must be") {
		t.Errorf("bad --order: exit %d %s", code, stderr)
	}
}

// TestSummarize: summarize over saved files gives the run's summary; a
// last line cut short is reported and skipped.
func TestSummarize(t *testing.T) {
	srv := startMX(t)
	list := writeFile(t, "list.txt", bulkList)
	_, stdout, _ := cli(t, "--resolver", srv.Addr, "--checks", "mx,ptr", "--format", "json", "--input", list)
	lines := strings.SplitAfter(strings.TrimSpace(stdout), "\n")
	a := writeFile(t, "a.jsonl", lines[0])
	b := writeFile(t, "b.jsonl", strings.Join(lines[1:], "")+"\n"+lines[0][:40])
	code, text, stderr := cli(t, "summarize", a, b)
	if code != exitOK || !strings.Contains(stderr, b+":3: not a report (not JSON), skipped (the last line, cut short)") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"domains: 3  errors: 0  malformed lines: 1", "grades:  A 2  D 1", "      1   33.3%  mx.missing"} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
	code, js, _ := cliWith(t, func(a *app) { a.stdin = strings.NewReader(stdout) }, "summarize", "--format", "json", "-")
	var got fleet
	if err := json.Unmarshal([]byte(js), &got); err != nil || code != exitOK {
		t.Fatalf("exit %d, %v: %s", code, err, js)
	}
	if got.Domains != 3 || got.Grades["A"] != 2 || !slices.Contains(got.Fail, findingCount{"mx.missing", 1}) {
		t.Errorf("json summary %+v", got)
	}
}

// offlineRun audits a list offline (every domain unevaluated, quickly)
// and returns the domains reported.
func offlineRun(t *testing.T, setup func(*app), args ...string) []string {
	t.Helper()
	base := []string{"--offline", "--checks", "mx", "--format", "json", "--report-only", "--summary=false", "--parallel", "32"}
	code, stdout, stderr := cliWith(t, setup, append(base, args...)...)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	return domainsOf(t, stdout)
}

// TestShard: n runs with --shard 0/n ... n-1/n over 1,000 names report
// exactly the domains of the single run: no overlap, no gap.
func TestShard(t *testing.T) {
	var b strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&b, "host-%d.Example.org.\n", i)
	}
	list := writeFile(t, "list.txt", b.String())
	all := offlineRun(t, func(*app) {}, "--input", list)
	if len(all) != 1000 {
		t.Fatalf("%d domains in the single run", len(all))
	}
	const n = 4
	seen := map[string]int{}
	for i := range n {
		part := offlineRun(t, func(*app) {}, "--input", list, "--shard", fmt.Sprintf("%d/%d", i, n))
		if len(part) < 1000/n/2 {
			t.Errorf("shard %d/%d has only %d domains", i, n, len(part))
		}
		for _, d := range part {
			seen[d]++
		}
	}
	for _, d := range all {
		if seen[d] != 1 {
			t.Errorf("%s reported %d times by the shards", d, seen[d])
		}
	}
	if len(seen) != len(all) {
		t.Errorf("the shards reported %d domains, the single run %d", len(seen), len(all))
	}
	for _, bad := range []string{"4/4", "1", "a/b", "0/0"} {
		if code, _, _ := cli(t, "--shard", bad, "ok.mx.test"); code != exitUsage {
			t.Errorf("--shard %s: exit %d", bad, code)
		}
	}
}

// TestResume: a run killed while writing is resumed from its output file:
// the domains reported are skipped, the line cut short is replaced, and
// the file ends with every domain exactly once.
func TestResume(t *testing.T) {
	var b strings.Builder
	for i := range 20 {
		fmt.Fprintf(&b, "d%d.example\n", i)
	}
	list := writeFile(t, "list.txt", b.String())
	out := filepath.Join(t.TempDir(), "out.jsonl")
	first := offlineRun(t, func(*app) {}, "--input", list, "--output", "json="+out)
	data, _ := os.ReadFile(out)
	// Keep 7 complete lines and half of the 8th, as a kill would.
	lines := strings.SplitAfter(string(data), "\n")
	cut := strings.Join(lines[:7], "") + lines[7][:len(lines[7])/2]
	os.WriteFile(out, []byte(cut), 0o644)
	var errb strings.Builder
	second := offlineRun(t, func(a *app) { a.stderr = io.MultiWriter(a.stderr, &errb) },
		"--input", list, "--resume", out, "--output", "json="+out)
	if len(second) != 13 || !strings.Contains(errb.String(), "out.jsonl:8: the last line is cut short") {
		t.Errorf("the resumed run audited %d domains, want 13\n%s", len(second), errb.String())
	}
	final, _ := os.ReadFile(out)
	got := domainsOf(t, string(final))
	slices.Sort(got)
	slices.Sort(first)
	if fmt.Sprint(got) != fmt.Sprint(first) {
		t.Errorf("after resuming, the file holds %v", got)
	}
	if again := offlineRun(t, func(*app) {}, "--input", list, "--resume", out); len(again) != 0 {
		t.Errorf("a finished run resumed audits %v", again)
	}
}

// TestProgressBar: a bar on stderr when it is a terminal (and the reports
// go elsewhere), nothing otherwise.
func TestProgressBar(t *testing.T) {
	list := writeFile(t, "list.txt", "a.example\nb.example\n")
	for _, tty := range []bool{false, true} {
		var errb strings.Builder
		offlineRun(t, func(a *app) {
			a.stderr = &errb
			a.isTerminal = func(w io.Writer) bool { return tty && w == a.stderr }
		}, "--input", list)
		if got := strings.Contains(errb.String(), "auditing"); got != tty {
			t.Errorf("terminal %v: bar shown %v:\n%q", tty, got, errb.String())
		}
	}
}

func TestReadReportLine(t *testing.T) {
	long := strings.Repeat("x", maxReportLine+10)
	cases := []struct {
		name, in string
		want     []reportLine // n, b (as string; "-" for nil), size, complete
	}{
		{"two lines", "a\nbb\n", []reportLine{{1, []byte("a\n"), 2, true}, {2, []byte("bb\n"), 3, true}}},
		{"cut last line", "a\nbb", []reportLine{{1, []byte("a\n"), 2, true}, {2, []byte("bb"), 2, false}}},
		{"blank lines skipped", "\n  \na\n", []reportLine{{3, []byte("a\n"), 2, true}}},
		{"overlong line not held", long + "\nz\n", []reportLine{{1, nil, int64(len(long)) + 1, true}, {2, []byte("z\n"), 2, true}}},
		{"overlong last line cut", "a\n" + long, []reportLine{{1, []byte("a\n"), 2, true}, {2, nil, int64(len(long)), false}}},
	}
	for _, c := range cases {
		var got []reportLine
		if err := eachReportLine(strings.NewReader(c.in), func(l reportLine) { got = append(got, l) }); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(got) != len(c.want) {
			t.Fatalf("%s: %d lines, want %d", c.name, len(got), len(c.want))
		}
		for i, w := range c.want {
			g := got[i]
			if g.n != w.n || g.size != w.size || g.complete != w.complete || (g.b == nil) != (w.b == nil) || string(g.b) != string(w.b) {
				t.Errorf("%s: line %d = {%d %.20q %d %v}, want {%d %.20q %d %v}", c.name, i, g.n, g.b, g.size, g.complete, w.n, w.b, w.size, w.complete)
			}
		}
	}
}

func TestSummarizeSkipsWhatIsNotAReport(t *testing.T) {
	_, rep, _ := cli(t, "--offline", "--checks", "mx", "--format", "json", "a.example")
	foreign := strings.Replace(rep, `"schema_version":"`+schemaMajor(), `"schema_version":"9`, 1)
	in := strings.Join([]string{
		strings.TrimSpace(rep),
		`{"domain":"b.example"}`,
		strings.TrimSpace(foreign),
		"not json",
		strings.Repeat("y", maxReportLine+1),
	}, "\n") + "\n"
	code, text, stderr := cli(t, "summarize", writeFile(t, "mixed.jsonl", in))
	if code != exitOK || !strings.Contains(text, "domains: 1  errors: 1  malformed lines: 4") {
		t.Errorf("exit %d\n%s", code, text)
	}
	for _, want := range []string{":2: not a report (no domain or schema_version", ":3: not a report (no domain or schema_version",
		":4: not a report (not JSON)", ":5: not a report (longer than 16 MiB)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// schemaMajor is the report schema's major version with its dot.
func schemaMajor() string {
	major, _, _ := strings.Cut(report.SchemaVersion, ".")
	return major + "."
}
