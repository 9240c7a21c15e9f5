package schedule

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/report"
)

// TestLines: comments, blanks, duplicates in any spelling, malformed
// lines with their numbers, and Keep.
func TestLines(t *testing.T) {
	tests := []struct {
		name  string
		input string
		keep  func(resolve.Name) bool
		want  []string
		bad   []string // "line: text"
		dups  int
	}{
		{"plain", "a.example\nb.example\n", nil, []string{"a.example", "b.example"}, nil, 0},
		{"no final newline", "a.example\nb.example", nil, []string{"a.example", "b.example"}, nil, 0},
		{"comments and blanks", "# list\n\n  a.example  # ours\n\t\n#b.example\n", nil, []string{"a.example"}, nil, 0},
		{"CRLF", "a.example\r\nb.example\r\n", nil, []string{"a.example", "b.example"}, nil, 0},
		{"case and trailing dot", "A.Example\na.example.\nA.EXAMPLE.\n", nil, []string{"a.example"}, nil, 2},
		{"IDN in both forms", "bücher.example\nxn--bcher-kva.example\nBÜCHER.example.\n", nil, []string{"xn--bcher-kva.example"}, nil, 2},
		{"malformed", "a.example\nexa..mple.org\n192.0.2.1\nlocalhost\nb.example\n", nil,
			[]string{"a.example", "b.example"}, []string{"2: exa..mple.org", "3: 192.0.2.1", "4: localhost"}, 0},
		{"keep", "a.example\nb.example\na.example\n", func(n resolve.Name) bool { return n.ASCII != "a.example" },
			[]string{"b.example"}, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLines(strings.NewReader(tc.input))
			l.Keep = tc.keep
			var bad []string
			l.Bad = func(line int, text string, err error) {
				if err == nil {
					t.Errorf("line %d: no error", line)
				}
				bad = append(bad, fmt.Sprintf("%d: %s", line, text))
			}
			var got []string
			for n, ok := l.Next(); ok; n, ok = l.Next() {
				got = append(got, n.ASCII)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || fmt.Sprint(bad) != fmt.Sprint(tc.bad) {
				t.Errorf("got %v bad %v, want %v bad %v", got, bad, tc.want, tc.bad)
			}
			if l.Duplicates != tc.dups || l.Malformed != len(tc.bad) || l.Err != nil {
				t.Errorf("duplicates %d malformed %d err %v", l.Duplicates, l.Malformed, l.Err)
			}
		})
	}
}

// TestAsCompleted: with AsCompleted a slow first domain does not hold
// the others back; every domain is still emitted once.
func TestAsCompleted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := config(4, 8, nil)
		cfg.Order = AsCompleted
		var got []string
		err := Run(context.Background(), cfg, names(t, "d500.test", "d10.test", "d20.test", "d30.test"),
			func(r *report.Report) error { got = append(got, r.Domain); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if want := "[d10.test d20.test d30.test d500.test]"; fmt.Sprint(got) != want {
			t.Errorf("order %v, want %s", got, want)
		}
	})
}

// TestNoGoroutinePerDomain: a long list does not start a goroutine per
// domain before its turn; the count stays near Parallel.
func TestNoGoroutinePerDomain(t *testing.T) {
	var b strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&b, "d0-%d.test\n", i)
	}
	before := runtime.NumGoroutine()
	var mu sync.Mutex
	peak := 0
	cfg := config(4, 8, func(e Event) {
		mu.Lock()
		peak = max(peak, runtime.NumGoroutine()-before)
		mu.Unlock()
	})
	count := 0
	err := Run(context.Background(), cfg, NewLines(strings.NewReader(b.String())), func(*report.Report) error { count++; return nil })
	if err != nil || count != 5000 {
		t.Fatalf("%d reports, err %v", count, err)
	}
	if peak > 50 {
		t.Errorf("%d goroutines beyond the test's at once for 5000 domains, parallel 4", peak)
	}
}

// TestAbandon: with Abandon, cancellation stops reading the source; the
// audits in flight are reported as interrupted, the rest are not.
func TestAbandon(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		go func() { time.Sleep(100 * time.Millisecond); cancel(checks.ErrInterrupted) }()
		var b strings.Builder
		for i := range 100 {
			fmt.Fprintf(&b, "d9000-%d.test\n", i)
		}
		cfg := config(2, 4, nil)
		cfg.Abandon = true
		var got []*report.Report
		err := Run(ctx, cfg, NewLines(strings.NewReader(b.String())), func(r *report.Report) error { got = append(got, r); return nil })
		if err != nil || len(got) == 0 || len(got) > 4 {
			t.Fatalf("%d reports, err %v", len(got), err)
		}
		for _, r := range got {
			if !r.Interrupted {
				t.Errorf("%s not marked interrupted", r.Domain)
			}
		}
	})
}
