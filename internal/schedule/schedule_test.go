package schedule

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/report"
)

var specOK = checks.Spec{ID: "fake.ok", Severity: checks.Pass}

// sleepy takes as long as its domain's first label says ("d250" = 250ms).
type sleepy struct{}

func (sleepy) Meta() checks.Meta {
	return checks.Meta{Name: "sleepy", Title: "Sleepy", Weight: 1, Findings: []checks.Spec{specOK}}
}

func (sleepy) Run(ctx context.Context, env *checks.Env) checks.Result {
	var ms int
	fmt.Sscanf(env.Domain.ASCII, "d%d", &ms)
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
	case <-ctx.Done():
	}
	return checks.Result{Findings: []checks.Finding{specOK.New("ok")}}
}

func names(t *testing.T, ss ...string) *List {
	var l List
	for _, s := range ss {
		n, err := resolve.ParseName(s)
		if err != nil {
			t.Fatal(err)
		}
		l = append(l, n)
	}
	return &l
}

func config(parallel, window int, progress func(Event)) Config {
	return Config{
		Checks: []checks.Check{sleepy{}}, Parallel: parallel, Window: window, Progress: progress,
		NewEnv: func(n resolve.Name) *checks.Env { return checks.NewEnv(n, &resolve.Zones{}) },
	}
}

// TestOrderAndWindow: reports come in source order; a slow first domain
// holds back at most Window audits, not the whole run.
func TestOrderAndWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		doms := []string{"d5000.test"}
		for i := range 200 {
			doms = append(doms, fmt.Sprintf("d%d.test", 10+i%7))
		}
		var mu sync.Mutex
		started, emitted, peak := 0, 0, 0
		cfg := config(4, 8, func(e Event) {
			mu.Lock()
			defer mu.Unlock()
			if e.Kind == Started {
				started++
				peak = max(peak, started-emitted)
			}
		})
		var got []string
		err := Run(context.Background(), cfg, names(t, doms...), func(r *report.Report) error {
			mu.Lock()
			emitted++
			mu.Unlock()
			got = append(got, r.Domain)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(doms) {
			t.Fatalf("order %v", got[:5])
		}
		if peak > 8 {
			t.Errorf("%d audits held at once, window 8", peak)
		}
	})
}

// TestEmitErrorStops: a report that cannot be written ends the run.
func TestEmitErrorStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		full := errors.New("disk full")
		calls := 0
		err := Run(context.Background(), config(2, 4, nil), names(t, "d1.test", "d2.test", "d3.test", "d4.test", "d5.test", "d6.test"),
			func(*report.Report) error { calls++; return full })
		if !errors.Is(err, ErrEmit) || !errors.Is(err, full) || calls != 1 {
			t.Errorf("err %v after %d calls", err, calls)
		}
		time.Sleep(time.Second) // let the cancelled audits end inside the bubble
	})
}

// TestInterruptedReportsEveryDomain: after SIGINT every domain still gets
// a report, marked interrupted, without waiting for the slow ones.
func TestInterruptedReportsEveryDomain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		go func() { time.Sleep(100 * time.Millisecond); cancel(checks.ErrInterrupted) }()
		var got []*report.Report
		start := time.Now()
		err := Run(ctx, config(2, 4, nil), names(t, "d9000.test", "d9000.test", "d9000.test", "d9000.test", "d9000.test"),
			func(r *report.Report) error { got = append(got, r); return nil })
		if err != nil || len(got) != 5 {
			t.Fatalf("%d reports, err %v", len(got), err)
		}
		for _, r := range got {
			if !r.Interrupted || r.Graded {
				t.Errorf("%s: interrupted %v graded %v", r.Domain, r.Interrupted, r.Graded)
			}
		}
		if el := time.Since(start); el >= 9*time.Second {
			t.Errorf("the run waited %s for audits it had interrupted", el)
		}
	})
}
