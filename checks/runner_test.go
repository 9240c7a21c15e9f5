package checks_test

import (
	"context"
	"strings"
	"testing"
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
	ok := func(context.Context) checks.Result {
		return checks.Result{Findings: []checks.Finding{specFake.New("fine")}}
	}
	list := []checks.Check{
		fakeCheck{"first", ok},
		fakeCheck{"boom", func(context.Context) checks.Result { var m map[string]int; m["x"]++; return checks.Result{} }},
		fakeCheck{"stuck", func(context.Context) checks.Result { time.Sleep(5 * time.Second); return checks.Result{} }},
		fakeCheck{"empty", func(context.Context) checks.Result { return checks.Result{} }},
		fakeCheck{"last", ok},
	}
	n, _ := resolve.ParseName("example.org")
	env := checks.NewEnv(n, &resolve.Zones{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res := checks.Run(ctx, env, list)
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("runner waited %s for a stuck check", el)
	}
	want := []struct{ name, status, id, msg string }{
		{"first", "pass", "fake.ok", "fine"},
		{"boom", "error", "check.panic", "the boom check crashed: assignment to entry in nil map"},
		{"stuck", "error", "check.deadline", "the stuck check did not finish before the audit deadline"},
		{"empty", "pass", "", ""},
		{"last", "pass", "fake.ok", "fine"},
	}
	if len(res) != len(want) {
		t.Fatalf("%d results, want %d", len(res), len(want))
	}
	for i, w := range want {
		r := res[i]
		if r.Name != w.name || string(r.Status) != w.status {
			t.Errorf("result %d = %s/%s, want %s/%s", i, r.Name, r.Status, w.name, w.status)
		}
		if w.id == "" {
			if len(r.Findings) != 0 || r.Findings == nil {
				t.Errorf("%s: findings = %#v, want an empty, non-nil list", w.name, r.Findings)
			}
			continue
		}
		if len(r.Findings) != 1 || r.Findings[0].ID != w.id || !strings.Contains(r.Findings[0].Message, w.msg) {
			t.Errorf("%s: findings = %+v, want %s %q", w.name, r.Findings, w.id, w.msg)
		}
	}
}

func TestSelect(t *testing.T) {
	reg := checks.Registry()
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
