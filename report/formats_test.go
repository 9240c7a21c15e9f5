package report

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailcheck/mailcheck/checks"
)

// update rewrites the golden files of report/testdata (every format).
var update = flag.Bool("update", false, "rewrite the golden files of report/testdata")

// fixedRun is the run of the golden files.
func fixedRun() Run {
	cat := []checks.Spec{
		{ID: "mx.present", Severity: checks.Pass, RFC: "RFC 5321 §5.1", Summary: "the domain publishes MX records"},
		{ID: "mx.cname", Severity: checks.Warn, RFC: "RFC 2181 §10.3", Summary: "an MX target is an alias"},
		{ID: "spf.missing", Severity: checks.Fail, RFC: "RFC 7208 §4", Summary: "no SPF record"},
		{ID: "tls.ok", Severity: checks.Pass, RFC: "RFC 3207", Summary: "STARTTLS with a valid certificate"},
		{ID: "dnsbl.listed", Severity: checks.Fail, RFC: "RFC 5782", Summary: "a blocklist lists an address"},
		{ID: "dnsbl.temperror", Severity: checks.Error, RFC: "RFC 5782", Summary: "a blocklist could not be asked"},
	}
	return Run{Tool: "mailcheck test", Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Domains: 2,
		Checks: []string{"mx", "spf", "tls", "dnsbl"}, Catalogue: cat}
}

// fixedReports builds two reports with findings of every severity and
// the data the metrics read (TLS chain, DNSBL answers).
func fixedReports() []*Report {
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tlsData := []map[string]any{{"target": "mx1.example.org:25", "tls": map[string]any{
		"chain": []map[string]any{{"not_after": "2026-03-01T00:00:00Z"}}}}}
	dnsblData := map[string]any{"lists": []map[string]any{{"list": map[string]any{"zone": "zen.example"},
		"results": []map[string]any{{"target": "192.0.2.25", "verdict": "listed"}, {"target": "192.0.2.26", "verdict": "clean"}}}}}
	good := []checks.CheckResult{
		{Name: "mx", Title: "MX records", Evaluated: true, Weight: 3, Verdict: checks.Warn, Status: checks.Warn, DurationMS: 12, Findings: []checks.Finding{
			{ID: "mx.present", Severity: checks.Pass, Message: "example.org has 2 MX records", RFC: "RFC 5321 §5.1", Records: []string{"example.org.\t3600\tIN\tMX\t10 mx1.example.org."}},
			{ID: "mx.cname", Severity: checks.Warn, Message: "mx2.example.org is an alias of mail.example.net", RFC: "RFC 2181 §10.3", Fix: "point the MX at mail.example.net", Records: []string{"mx2.example.org.\t300\tIN\tCNAME\tmail.example.net."}},
		}},
		{Name: "spf", Title: "SPF", Evaluated: true, Weight: 3, Verdict: checks.Pass, Status: checks.Pass, Findings: []checks.Finding{
			{ID: "spf.ok", Severity: checks.Pass, Message: "the SPF record is valid & ends in -all", Records: []string{`example.org.	3600	IN	TXT	"v=spf1 mx -all"`}},
		}},
		{Name: "tls", Title: "TLS", Evaluated: true, Weight: 3, Verdict: checks.Pass, Status: checks.Pass, Data: tlsData, Findings: []checks.Finding{
			{ID: "tls.ok", Severity: checks.Pass, Message: "mx1.example.org:25 offers TLS 1.3 <with a valid certificate>"},
		}},
		{Name: "dnsbl", Title: "Blocklists", Evaluated: true, Weight: 2, Verdict: checks.Fail, Status: checks.Fail, Data: dnsblData, Findings: []checks.Finding{
			{ID: "dnsbl.listed", Severity: checks.Fail, Message: "zen.example lists 192.0.2.25", RFC: "RFC 5782", Fix: "request removal at https://zen.example/lookup", Records: []string{"25.2.0.192.zen.example.\t60\tIN\tA\t127.0.0.2"}},
			{ID: "dnsbl.temperror", Severity: checks.Error, Message: "bl.example did not answer: timeout"},
			{ID: "dnsbl.info", Severity: checks.Info, Message: "\"quoted\", and, commas\nover two lines"},
		}},
	}
	bad := []checks.CheckResult{
		{Name: "mx", Title: "MX records", Evaluated: false, Weight: 3, Verdict: checks.Error, Status: checks.Error, Findings: []checks.Finding{
			{ID: "mx.temperror", Severity: checks.Error, Message: "the MX lookup timed out"},
		}},
		{Name: "spf", Title: "SPF", Evaluated: true, Weight: 3, Verdict: checks.Fail, Status: checks.Fail, Findings: []checks.Finding{
			{ID: "spf.missing", Severity: checks.Fail, Message: "example.net publishes no SPF record", RFC: "RFC 7208 §4", Fix: "publish example.net. TXT \"v=spf1 -all\""},
		}},
	}
	r1 := New("example.org", "example.org", started, []string{"zone:example.org.zone"}, good)
	r2 := New("example.net", "example.net", started, []string{"192.0.2.53:53"}, bad)
	r1.DurationMS, r2.DurationMS = 1500, 250
	return []*Report{r1, r2}
}

// render writes the fixed reports with a format.
func render(t testing.TB, name string, opt Options, reports []*Report) []byte {
	t.Helper()
	f, err := LookupFormat(name)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	rep := f.New(&buf, opt)
	if err := rep.Begin(fixedRun()); err != nil {
		t.Fatal(err)
	}
	sum := RunSummary{}
	for _, r := range reports {
		if err := rep.Report(r); err != nil {
			t.Fatal(err)
		}
		sum.Domains++
	}
	if err := rep.End(sum); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// golden compares got with testdata/NAME, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report/ -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; run go test ./report/ -update and review the diff\ngot:\n%s", name, got)
	}
}

// testLocate places the fixture's MX record on line 7 of a zone file.
func testLocate(rec string) (string, int, bool) {
	if rec == "mx2.example.org.\t300\tIN\tCNAME\tmail.example.net." {
		return "zones/example.org.zone", 7, true
	}
	return "", 0, false
}

// TestGoldenFormats renders the fixed reports in every machine format.
func TestGoldenFormats(t *testing.T) {
	cases := []struct {
		format, file string
		opt          Options
	}{
		{"sarif", "golden.sarif", Options{Locate: testLocate}},
		{"junit", "golden.junit.xml", Options{}},
		{"prometheus", "golden.prom", Options{}},
		{"csv", "golden.csv", Options{}},
		{"nagios", "golden.nagios.txt", Options{MultiDomain: true}},
	}
	for _, tc := range cases {
		t.Run(tc.format, func(t *testing.T) {
			golden(t, tc.file, render(t, tc.format, tc.opt, fixedReports()))
		})
	}
}

// BenchmarkFormats renders 1,000 reports in each format.
func BenchmarkFormats(b *testing.B) {
	base := fixedReports()
	reports := make([]*Report, 1000)
	for i := range reports {
		r := *base[i%2]
		r.Domain = fmt.Sprintf("d%d.%s", i, base[i%2].Domain)
		reports[i] = &r
	}
	for _, f := range Formats {
		b.Run(f.Name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				render(b, f.Name, Options{Width: 100}, reports)
			}
		})
	}
}
