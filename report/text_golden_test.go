package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailcheck/mailcheck/checks"
)

// loadReport builds a report from testdata/text/NAME.json: the checks'
// results of a real run (the demo zones offline, with SMTP and TLS
// results of the checks' own tests), scored by New at a fixed time.
func loadReport(t testing.TB, name string) *Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "text", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var in struct {
		Domain   string
		Resolver []string
		Checks   []checks.CheckResult
	}
	if err := json.Unmarshal(b, &in); err != nil {
		t.Fatal(err)
	}
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := New(in.Domain, in.Domain, started, in.Resolver, in.Checks)
	r.DurationMS = 1234
	return r
}

// TestTextGolden compares the text report of a good and a bad domain, at
// 80 and 120 columns, with and without colour (and with --verbose), with
// the files under testdata/text; `go test ./report -update` rewrites them.
func TestTextGolden(t *testing.T) {
	for _, name := range []string{"good", "bad"} {
		for _, opt := range []TextOptions{
			{Width: 80}, {Width: 120}, {Width: 80, Color: true}, {Width: 120, Color: true}, {Width: 80, Verbose: true},
		} {
			file := goldenName(name, opt)
			t.Run(file, func(t *testing.T) {
				var got bytes.Buffer
				if err := WriteText(&got, loadReport(t, name), opt); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join("testdata", "text", file)
				if *update {
					if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./report -update)", err)
				}
				if !bytes.Equal(got.Bytes(), want) {
					t.Errorf("%s differs from the report (run go test ./report -update and review the diff):\n%s", path, got.String())
				}
			})
		}
	}
}

func goldenName(name string, opt TextOptions) string {
	s := fmt.Sprintf("%s-%d", name, opt.Width)
	if opt.Color {
		s += "-color"
	}
	if opt.Verbose {
		s += "-verbose"
	}
	return s + ".txt"
}

// TestTextDeterministic: two renderings of the same report are identical.
func TestTextDeterministic(t *testing.T) {
	r := loadReport(t, "bad")
	var a, b bytes.Buffer
	for _, w := range []*bytes.Buffer{&a, &b} {
		if err := WriteText(w, r, TextOptions{Width: 80, Verbose: true}); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two renderings of one report differ")
	}
}

// BenchmarkWriteText renders 1,000 reports (the bad domain: 41 findings)
// per operation.
func BenchmarkWriteText(b *testing.B) {
	r := loadReport(b, "bad")
	for _, opt := range []TextOptions{{Width: 80}, {Width: 120, Color: true, Verbose: true}} {
		b.Run(goldenName("x1000", opt), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for range 1000 {
					if err := WriteText(io.Discard, r, opt); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
