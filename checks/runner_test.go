package checks_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// fakeCheck runs fn as its body.
type fakeCheck struct {
	name string
	fn   func(ctx context.Context) checks.Result
}

var specFake = checks.Spec{ID: "fake.ok", Severity: checks.Pass}

func (f fakeCheck) Meta() checks.Meta {
	return checks.Meta{Name: f.name, Title: "Fake " + f.name, Weight: 1, Findings: []checks.Spec{specFake}}
}
func (f fakeCheck) Run(ctx context.Context, _ *checks.Env) checks.Result { return f.fn(ctx) }

func TestRunnerIsolatesPanicsAndDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ok := func(context.Context) checks.Result {
			return checks.Result{Findings: []checks.Finding{specFake.New("fine")}}
		}
		list := []checks.Check{
			fakeCheck{"first", ok},
			fakeCheck{"boom", func(context.Context) checks.Result { var m map[string]int; m["x"]++; return checks.Result{} }},
			fakeCheck{"stuck", func(context.Context) checks.Result { time.Sleep(5 * time.Second); return checks.Result{} }},
			fakeCheck{"empty", func(context.Context) checks.Result { return checks.Result{} }},
			fakeCheck{"late", func(ctx context.Context) checks.Result {
				<-ctx.Done()
				time.Sleep(checks.DeadlineGrace / 2)
				return checks.Result{Findings: []checks.Finding{specFake.New("looked fine so far")}}
			}},
			fakeCheck{"last", ok},
		}
		n, _ := resolve.ParseName("example.org")
		env := checks.NewEnv(n, &resolve.Zones{})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		res := checks.Run(ctx, env, list)
		// Fake time: the runner waits the deadline plus one grace, not
		// the stuck check's 5 s.
		if el := time.Since(start); el != 200*time.Millisecond+checks.DeadlineGrace {
			t.Errorf("runner returned after %s", el)
		}
		want := []struct {
			name, verdict string
			evaluated     bool
			ids, msg      string
		}{
			{"first", "pass", true, "fake.ok", "fine"},
			{"boom", "error", false, "check.panic", "the boom check crashed: assignment to entry in nil map"},
			{"stuck", "error", false, "check.deadline", "the audit deadline ended the stuck check: it did not finish"},
			{"empty", "error", false, "check.no-finding", "the empty check returned no finding"},
			{"late", "error", false, "fake.ok check.deadline", "the audit deadline ended the late check: it was cut short"},
			{"last", "pass", true, "fake.ok", "fine"},
		}
		if len(res) != len(want) {
			t.Fatalf("%d results, want %d", len(res), len(want))
		}
		for i, w := range want {
			r := res[i]
			var ids []string
			for _, f := range r.Findings {
				ids = append(ids, f.ID)
			}
			if r.Name != w.name || string(r.Verdict) != w.verdict || r.Evaluated != w.evaluated {
				t.Errorf("result %d = %s/%s/%v, want %s/%s/%v", i, r.Name, r.Verdict, r.Evaluated, w.name, w.verdict, w.evaluated)
			}
			last := r.Findings[len(r.Findings)-1]
			if strings.Join(ids, " ") != w.ids || !strings.Contains(last.Message, w.msg) {
				t.Errorf("%s: findings = %+v, want %s %q", w.name, r.Findings, w.ids, w.msg)
			}
		}
		time.Sleep(5 * time.Second) // let the stuck check end inside the bubble
	})
}

// TestRunnerInterrupted: a run cancelled with ErrInterrupted (SIGINT)
// says "interrupted", not "deadline".
func TestRunnerInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		list := []checks.Check{fakeCheck{"slow", func(ctx context.Context) checks.Result {
			<-ctx.Done()
			return checks.Result{}
		}}}
		n, _ := resolve.ParseName("example.org")
		go func() { time.Sleep(time.Second); cancel(checks.ErrInterrupted) }()
		res := checks.Run(ctx, checks.NewEnv(n, &resolve.Zones{}), list)
		if f := res[0].Findings; len(f) != 1 || f[0].ID != "check.interrupted" || res[0].Evaluated {
			t.Errorf("findings = %+v", f)
		}
	})
}

// TestRunnerBoundsEvidence: a check that makes thousands of findings,
// each with thousands of records, yields a bounded result.
func TestRunnerBoundsEvidence(t *testing.T) {
	recs := make([]string, 5000)
	for i := range recs {
		recs[i] = fmt.Sprintf("sel._domainkey.example.org. 300 IN TXT \"v=DKIM1; p=%d%s\x1b[2J\"", i, strings.Repeat("A", 1000))
	}
	recs[0] = strings.Repeat("x", 100000)
	list := []checks.Check{fakeCheck{"many", func(context.Context) checks.Result {
		var fs []checks.Finding
		for range 5000 {
			fs = append(fs, specFake.New("record\x1b]52;c;ZXZpbA==\x07").WithRecords(recs...))
		}
		return checks.Result{Findings: fs}
	}}}
	n, _ := resolve.ParseName("example.org")
	res := checks.Run(context.Background(), checks.NewEnv(n, &resolve.Zones{}), list)[0]
	if len(res.Findings) != checks.MaxPerID+1 || res.Findings[checks.MaxPerID].ID != "check.truncated" ||
		!strings.Contains(res.Findings[checks.MaxPerID].Message, "4968 more fake.ok findings") {
		t.Fatalf("%d findings, last %+v", len(res.Findings), res.Findings[len(res.Findings)-1])
	}
	kept := 0
	for _, f := range res.Findings[:checks.MaxPerID] {
		if len(f.Records)+f.RecordsOmitted != 5000 || len(f.Records) > checks.MaxRecords {
			t.Fatalf("%d records, %d omitted", len(f.Records), f.RecordsOmitted)
		}
		for _, r := range f.Records {
			kept += len(r)
		}
		if len(f.Records) < 2 {
			continue
		}
		if len(f.Records[0]) > checks.MaxRecordBytes || strings.ContainsRune(f.Records[1], 0x1b) || strings.ContainsRune(f.Message, 0x1b) {
			t.Fatalf("unbounded or unsanitised evidence: %q / %q", f.Records[1], f.Message)
		}
	}
	if kept > checks.MaxCheckRecords || kept < checks.MaxCheckRecords/2 {
		t.Errorf("%d bytes of evidence kept, bound %d", kept, checks.MaxCheckRecords)
	}
}

func TestSelect(t *testing.T) {
	reg := checks.Registry()
	if _, err := checks.Select(reg, []string{}); err != nil {
		t.Errorf("Select(empty list) = %v; the CLI rejects --checks '' itself", err)
	}
	if _, err := checks.Select(reg, []string{"mx", " "}); err == nil {
		t.Errorf("Select with an empty name: no error")
	}
	got, err := checks.Select(reg, []string{"ptr", "MX"})
	if err != nil || strings.Join(checks.Names(got), ",") != "mx,ptr" {
		t.Errorf("Select = %v, %v; want registry order mx,ptr", checks.Names(got), err)
	}
	if _, err := checks.Select(reg, []string{"mx", "nope"}); err == nil || !strings.Contains(err.Error(), `unknown check "nope" (known: mx, ptr`) {
		t.Errorf("Select(nope) error = %v", err)
	}
	all, _ := checks.Select(reg, nil)
	if len(all) != len(reg) {
		t.Errorf("Select(nil) = %d checks, want all %d", len(all), len(reg))
	}
}

func TestStatusOrder(t *testing.T) {
	tests := []struct {
		sevs []checks.Severity
		want checks.Severity
	}{
		{nil, checks.Pass},
		{[]checks.Severity{checks.Pass, checks.Info}, checks.Info},
		{[]checks.Severity{checks.Warn, checks.Info}, checks.Warn},
		{[]checks.Severity{checks.Warn, checks.Error}, checks.Error},
		{[]checks.Severity{checks.Error, checks.Fail, checks.Warn}, checks.Fail},
	}
	for _, tc := range tests {
		var fs []checks.Finding
		for _, s := range tc.sevs {
			fs = append(fs, checks.Finding{Severity: s})
		}
		if got := checks.Status(fs); got != tc.want {
			t.Errorf("Status(%v) = %s, want %s", tc.sevs, got, tc.want)
		}
	}
}

// TestCatalogue: IDs are unique, dotted, lower case, with a valid severity.
func TestCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range checks.Catalogue(checks.Registry()) {
		if seen[s.ID] {
			t.Errorf("duplicate finding ID %q", s.ID)
		}
		seen[s.ID] = true
		if s.ID != strings.ToLower(s.ID) || !strings.Contains(s.ID, ".") || strings.ContainsAny(s.ID, " _") {
			t.Errorf("finding ID %q is not dotted lower case", s.ID)
		}
		if !s.Severity.Valid() || s.Summary == "" {
			t.Errorf("finding %q: severity %q, summary %q", s.ID, s.Severity, s.Summary)
		}
	}
}
